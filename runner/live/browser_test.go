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

// eval runs a JS expression that returns a JSON string and decodes it.
func (b *browser) eval(expr string, into any) {
	b.t.Helper()
	var r struct {
		Result struct{ Value string }
	}
	b.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r)
	if err := json.Unmarshal([]byte(r.Result.Value), into); err != nil {
		b.t.Fatalf("%s: %q: %v", expr, r.Result.Value, err)
	}
}

// until evaluates expr (returning JSON) until ok holds on it, for 20 s.
func until[T any](b *browser, what, expr string, ok func(T) bool) T {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var v T
		b.eval(expr, &v)
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("waiting for %s: %+v", what, v)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestBrowserViewer opens the viewer after the runs ended, as
// `runner -serve -out DIR` does: a finished run shows its final state, a
// sweep shows its pending points, and the run page's slider moves through
// the checkpoints. LIVE_SCREENSHOTS=DIR saves the pages as PNGs.
func TestBrowserViewer(t *testing.T) {
	bin := chromium()
	if bin == "" {
		t.Skip("skipped: no chromium binary (set CHROMIUM, or run runner/live/testdata/browser-test.sh as root to install Debian's chromium)")
	}
	root := t.TempDir()
	run := newFixture(t, filepath.Join(root, "shipwreck_starry_night"))
	run.rows(20)
	run.write("layers.csv", []byte("iteration,content_conv4_2,style_conv1_1\n0,5,9\n10,3,4\n19,2,1\n"))
	run.write("config.yaml", []byte("# model: models/vgg19-random: random (demo), avg pooling\niterations: 19\nstyle_weight: 500\n"))
	run.picture("content.png", 64, 48, color.RGBA{120, 120, 120, 255})
	run.picture("style.png", 48, 48, color.RGBA{200, 200, 0, 255})
	run.picture("initial.png", 64, 48, color.RGBA{90, 90, 90, 255})
	run.picture("styled_0010.png", 64, 48, color.RGBA{200, 30, 30, 255})
	run.picture("final.png", 64, 48, color.RGBA{30, 200, 30, 255})
	run.write("status.json", []byte(`{"state":"done","iteration":19}`))

	grid := filepath.Join(root, "grid")
	first := newFixture(t, filepath.Join(grid, "000-style_weight=100"))
	first.rows(4)
	first.write("config.yaml", []byte("iterations: 40\n"))
	first.picture("styled_0002.png", 32, 24, color.RGBA{0, 0, 200, 255})
	first.write("status.json", []byte(`{"state":"running","iteration":2}`))
	first.write(".lock", nil) // its runner is gone: the marker says running, the lock is free
	var rows []string
	for i, w := range []string{"100", "1000", "10000"} {
		rows = append(rows, fmt.Sprintf(`{"index":%d,"id":"x%d","dir":"%03d-style_weight=%s","overrides":["style_weight=%s"],"status":"missing"}`, i, i, i, w, w))
	}
	if err := os.WriteFile(filepath.Join(grid, "summary.json"), []byte("["+strings.Join(rows, ",")+"]"), 0o644); err != nil {
		t.Fatal(err)
	}

	s := newServer()
	if err := s.Watch(root); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	defer s.Close()

	b := startBrowser(t, bin)
	b.call("Page.enable", map[string]any{}, nil)
	b.call("Page.addScriptToEvaluateOnNewDocument", map[string]any{"source": `window.__errors = [];
addEventListener("error", (e) => __errors.push(String(e.message)));
addEventListener("unhandledrejection", (e) => __errors.push(String(e.reason)));`}, nil)
	b.call("Emulation.setDeviceMetricsOverride", map[string]any{"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false}, nil)
	b.navigate(ts.URL + "/")

	type overview struct {
		Card, Progress, Count string
		States                []string
		Seen, Loss            string
		Errors                []string
		Sorted                string
	}
	const overviewJS = `(() => {
  const c = document.querySelector('#points .point[data-point="shipwreck_starry_night"]');
  const s = document.querySelector('#sweeps .sweep[data-sweep="grid"]');
  return JSON.stringify({
    Card: c ? c.querySelector(".state").textContent : "", Progress: c ? c.querySelector(".progress").textContent : "",
    Seen: c ? c.dataset.seenPicture || "" : "", Loss: c ? c.dataset.seenLoss || "" : "",
    Count: s ? s.querySelector(".count").textContent : "",
    States: s ? [...s.querySelectorAll("tbody tr")].map((r) => r.querySelector(".state").textContent + " " + r.querySelector(".progress").textContent) : [],
    Sorted: s ? [...s.querySelectorAll("tbody tr")].map((r) => r.dataset.point.split("-").pop()).join(",") : "",
    Errors: window.__errors || [],
  });
})()`
	o := until(b, "the finished run and the sweep", overviewJS, func(o overview) bool {
		return o.Card != "" && o.Seen != "" && o.Loss != "" && len(o.States) == 3
	})
	if o.Card != "done" || !strings.Contains(o.Progress, "iteration 19 of 19") {
		t.Errorf("finished run: %q %q, want done at iteration 19 of 19", o.Card, o.Progress)
	}
	if o.Count != "0 of 3 points done" || strings.Join(o.States, "|") != "stopped 3 of 40|pending –|pending –" {
		t.Errorf("sweep: %q %q", o.Count, o.States)
	}
	// Sorting by the varied key, twice: descending.
	b.eval(`(() => { const th = [...document.querySelectorAll('#sweeps th')].find((t) => t.textContent.startsWith("style_weight")); th.click(); th.click(); return "1"; })()`, new(int))
	until(b, "the table sorted by style_weight, descending", overviewJS, func(o overview) bool {
		return o.Sorted == "style_weight=10000,style_weight=1000,style_weight=100"
	})
	// Two runs selected: their curves on one chart, one series each.
	b.eval(`(() => { for (const c of document.querySelectorAll('[data-point="shipwreck_starry_night"] .select, tr[data-point="grid/000-style_weight=100"] .select')) c.click(); return "1"; })()`, new(int))
	overlay := until(b, "the overlay of two runs", `JSON.stringify([...document.querySelectorAll("#overlay:not([hidden]) .u-legend .u-series")].map((e) => e.textContent))`,
		func(s []string) bool { return len(s) == 3 })
	if legend := strings.Join(overlay, " "); !strings.Contains(legend, "shipwreck_starry_night") || !strings.Contains(legend, "grid/000") {
		t.Errorf("overlay legend %q", overlay)
	}
	shots := os.Getenv("LIVE_SCREENSHOTS")
	if shots != "" {
		b.screenshot(filepath.Join(shots, "browser-test-overview.png"))
	}

	// The run page: the slider starts at the final picture and moves back.
	b.navigate(ts.URL + "/#/run/shipwreck_starry_night")
	type runPage struct {
		Max, Value, Width  int
		File, Label, State string
		Charts             int
		Config             string
	}
	const runJS = `(() => {
  const p = document.querySelector("#run"), s = p.querySelector(".slider input"), img = p.querySelector(".picture");
  return JSON.stringify({ Max: Number(s.max), Value: Number(s.value), File: img.dataset.file || "",
    Width: img.complete ? img.naturalWidth : 0, Label: p.querySelector(".label").textContent,
    State: p.querySelector(".state").textContent, Charts: p.querySelectorAll(".uplot").length,
    Config: p.querySelector(".config").textContent });
})()`
	r := until(b, "the run page", runJS, func(r runPage) bool { return r.Max == 2 && r.Width > 0 && r.Charts == 2 })
	if r.File != "final.png" || r.Value != 2 || r.State != "done" || !strings.Contains(r.Config, "iterations: 19") {
		t.Errorf("run page: %+v", r)
	}
	b.eval(`(() => { const s = document.querySelector("#run .slider input"); s.value = 1; s.dispatchEvent(new Event("input")); return "1"; })()`, new(int))
	r = until(b, "the slider at styled_0010.png", runJS, func(r runPage) bool { return r.File == "styled_0010.png" && r.Width == 64 })
	if !strings.Contains(r.Label, "iteration 10") {
		t.Errorf("slider label %q", r.Label)
	}
	if shots != "" {
		b.screenshot(filepath.Join(shots, "browser-test-run.png"))
	}
	var errs []string
	b.eval(`JSON.stringify(window.__errors)`, &errs)
	if len(errs) > 0 {
		t.Errorf("errors in the page: %q", errs)
	}
}

// TestScreenshots saves the overview and a run page as PNGs into
// LIVE_SCREENSHOTS (for the README): of the output folder
// LIVE_SCREENSHOT_ROOT, or of a running `runner -serve` at
// LIVE_SCREENSHOT_URL; LIVE_SCREENSHOT_RUN names the run page's run.
//
//	LIVE_SCREENSHOT_ROOT=$PWD/results LIVE_SCREENSHOTS=$PWD/runner/live/testdata \
//	  go test -run TestScreenshots ./runner/live/
func TestScreenshots(t *testing.T) {
	root, url, dir, bin := os.Getenv("LIVE_SCREENSHOT_ROOT"), os.Getenv("LIVE_SCREENSHOT_URL"), os.Getenv("LIVE_SCREENSHOTS"), chromium()
	if root == "" && url == "" || dir == "" || bin == "" {
		t.Skip("skipped: set LIVE_SCREENSHOT_ROOT or LIVE_SCREENSHOT_URL, and LIVE_SCREENSHOTS (and have chromium)")
	}
	run := os.Getenv("LIVE_SCREENSHOT_RUN")
	if url == "" {
		s := newServer()
		if err := s.Watch(root); err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(s)
		defer ts.Close()
		defer s.Close()
		points, _ := s.snapshot()
		if len(points) == 0 {
			t.Fatalf("no runs under %s", root)
		}
		url = ts.URL + "/"
		if run == "" {
			run = points[len(points)-1].Name
		}
	}
	b := startBrowser(t, bin)
	b.call("Emulation.setDeviceMetricsOverride", map[string]any{"width": 1200, "height": 800, "deviceScaleFactor": 1, "mobile": false}, nil)
	shot := func(name string) {
		time.Sleep(1500 * time.Millisecond) // pictures and charts drawn
		var out struct{ Data string }
		b.call("Page.captureScreenshot", map[string]any{"format": "png",
			"clip": map[string]any{"x": 0, "y": 0, "width": 1200, "height": 800, "scale": 0.6}}, &out)
		data, err := base64.StdEncoding.DecodeString(out.Data)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b.navigate(url)
	shot("viewer-sweep.png")
	if run != "" {
		b.navigate(url + "#/run/" + run)
		shot("viewer-run.png")
	}
}
