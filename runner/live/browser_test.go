package live

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBrowser loads the live page in headless Chromium (Debian's package;
// testdata/browser-test.sh installs it when run as root) and checks, in the
// page the browser built, that a run's picture and loss curve appear and
// then change when the run writes a new checkpoint and new metrics rows,
// without a reload. Chromium is driven through its DevTools protocol on a
// pipe (--remote-debugging-pipe), so the test needs no other library.
func TestBrowser(t *testing.T) {
	bin := chromium()
	if bin == "" {
		t.Skip("skipped: no chromium binary (set CHROMIUM, or run runner/live/testdata/browser-test.sh as root to install Debian's chromium)")
	}
	root := t.TempDir()
	run := newFixture(t, filepath.Join(root, "shipwreck_starry_night.partial"))
	run.rows(10)
	run.picture("styled_0010.png", 64, 48, color.RGBA{200, 30, 30, 255})
	s := newServer()
	if err := s.Watch(root); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	defer s.Close() // first: ends the page's event stream, so ts can close

	b := startBrowser(t, bin)
	b.navigate(ts.URL + "/")
	first := b.waitFor("the first picture and curve", func(p pageState) bool {
		return p.SeenPicture != "" && p.SeenLoss != "" && p.Updates >= 1
	})
	if first.PictureWidth != 64 || first.LossWidth < 200 {
		t.Errorf("picture %d px wide (want 64), curve %d px wide", first.PictureWidth, first.LossWidth)
	}
	if !strings.Contains(first.Progress, "iteration 9") || first.File != "styled_0010.png" || first.State != "running" {
		t.Errorf("first state %+v", first)
	}

	// A reload would lose this mark.
	b.call("Runtime.evaluate", map[string]any{"expression": "window.__marker = 7"}, nil)

	// The run goes on: ten more rows and a new checkpoint, then it ends.
	run.rows(10)
	run.picture("styled_0020.png", 64, 48, color.RGBA{30, 30, 200, 255})
	next := b.waitFor("the new picture and curve", func(p pageState) bool {
		return len(strings.Fields(p.SeenPicture)) >= 2 && len(strings.Fields(p.SeenLoss)) >= 2
	})
	if !strings.Contains(next.Progress, "iteration 19") || next.File != "styled_0020.png" {
		t.Errorf("after the update: %+v", next)
	}
	if next.Marker != 7 {
		t.Error("the page was reloaded: it must update in place")
	}
	run.picture("final.png", 64, 48, color.RGBA{30, 200, 30, 255})
	if err := os.Rename(run.dir, filepath.Join(root, "shipwreck_starry_night")); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the finished run", func(p pageState) bool { return p.State == "done" && p.File == "final.png" })
	if out := os.Getenv("LIVE_SCREENSHOT"); out != "" {
		b.screenshot(out)
	}
}

func chromium() string {
	if c := os.Getenv("CHROMIUM"); c != "" {
		return c
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// pageState is what the test reads from the page's DOM.
type pageState struct {
	Updates, Marker         int
	State, Progress, File   string
	SeenPicture, SeenLoss   string
	PictureWidth, LossWidth int
}

const stateJS = `(() => {
  const c = document.querySelector("#points .point");
  const d = c ? c.dataset : {};
  const text = (sel) => c ? c.querySelector(sel).textContent : "";
  return JSON.stringify({
    Updates: Number(document.body.dataset.updates), Marker: window.__marker || 0,
    State: text(".state"), Progress: text(".progress"), File: text(".file"),
    SeenPicture: d.seenPicture || "", SeenLoss: d.seenLoss || "",
    PictureWidth: Number(d.seenPictureWidth || 0), LossWidth: Number(d.seenLossWidth || 0),
  });
})()`

// browser is headless Chromium driven over --remote-debugging-pipe: JSON
// messages ending in a NUL byte, written to its fd 3 and read from its fd 4.
type browser struct {
	t       *testing.T
	in      io.Writer
	out     *bufio.Reader
	id      int
	session string
}

func startBrowser(t *testing.T, bin string) *browser {
	t.Helper()
	toChrome, in, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	out, fromChrome, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
		"--remote-debugging-pipe", "--user-data-dir="+t.TempDir(), "about:blank")
	cmd.ExtraFiles = []*os.File{toChrome, fromChrome} // fds 3 and 4
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	toChrome.Close()
	fromChrome.Close()
	t.Cleanup(func() {
		in.Close()
		cmd.Process.Kill() // the Chromium this test started, by its pid
		cmd.Wait()
		out.Close()
		if t.Failed() {
			t.Logf("chromium stderr (tail): %s", tail(stderr.String(), 2000))
		}
	})
	b := &browser{t: t, in: in, out: bufio.NewReader(out)}
	var target struct{ TargetID string }
	b.call("Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var attached struct{ SessionID string }
	b.call("Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached)
	b.session = attached.SessionID
	return b
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// call sends one command and waits for its answer, skipping events.
func (b *browser) call(method string, params map[string]any, result any) {
	b.t.Helper()
	b.id++
	msg := map[string]any{"id": b.id, "method": method, "params": params}
	if b.session != "" {
		msg["sessionId"] = b.session
	}
	data, _ := json.Marshal(msg)
	if _, err := b.in.Write(append(data, 0)); err != nil {
		b.t.Fatalf("%s: %v", method, err)
	}
	for {
		raw, err := b.out.ReadBytes(0)
		if err != nil {
			b.t.Fatalf("%s: reading chromium's answer: %v", method, err)
		}
		var reply struct {
			ID     int
			Result json.RawMessage
			Error  *struct{ Message string }
		}
		if err := json.Unmarshal(raw[:len(raw)-1], &reply); err != nil {
			b.t.Fatalf("%s: %v", method, err)
		}
		if reply.ID != b.id {
			continue // an event
		}
		if reply.Error != nil {
			b.t.Fatalf("%s: %s", method, reply.Error.Message)
		}
		if result != nil {
			if err := json.Unmarshal(reply.Result, result); err != nil {
				b.t.Fatalf("%s: %v", method, err)
			}
		}
		return
	}
}

func (b *browser) navigate(url string) {
	b.t.Helper()
	b.call("Page.navigate", map[string]any{"url": url}, nil)
}

// waitFor reads the page's state until ok holds, for at most 20 s.
func (b *browser) waitFor(what string, ok func(pageState) bool) pageState {
	b.t.Helper()
	var p pageState
	deadline := time.Now().Add(20 * time.Second)
	for {
		var r struct {
			Result struct{ Value string }
		}
		b.call("Runtime.evaluate", map[string]any{"expression": stateJS, "returnByValue": true}, &r)
		if r.Result.Value != "" {
			if err := json.Unmarshal([]byte(r.Result.Value), &p); err != nil {
				b.t.Fatalf("page state %q: %v", r.Result.Value, err)
			}
			if ok(p) {
				return p
			}
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("waiting for %s: page state %+v", what, p)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (b *browser) screenshot(path string) {
	b.t.Helper()
	var shot struct{ Data string }
	b.call("Page.captureScreenshot", map[string]any{"format": "png"}, &shot)
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "screenshot: %s\n", path)
}
