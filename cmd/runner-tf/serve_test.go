package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// servePoint is the part of the live view's points.json these tests read.
type servePoint struct {
	Name      string `json:"name"`
	State     string `json:"state"`
	Iteration int    `json:"iteration"`
	Of        int    `json:"of"`
}

// startServing starts the runner and reads its stdout up to the line
// holding until; it returns the live view's URL.
func startServing(t *testing.T, until string, args ...string) (*exec.Cmd, string, *bufio.Reader) {
	t.Helper()
	cmd := asMain(t, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) // the runner this test started
	r := bufio.NewReader(out)
	var url, seen string
	for {
		line, err := r.ReadString('\n')
		seen += line
		if err != nil {
			t.Fatalf("runner ended before %q: %v\n%s", until, err, seen)
		}
		if u, ok := strings.CutPrefix(line, "live view: "); ok && url == "" {
			url = strings.TrimSpace(u)
		}
		if strings.Contains(line, until) {
			return cmd, url, r
		}
	}
}

func getPoints(t *testing.T, url string) []servePoint {
	t.Helper()
	resp, err := http.Get(url + "points.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var points []servePoint
	if err := json.NewDecoder(resp.Body).Decode(&points); err != nil {
		t.Fatal(err)
	}
	return points
}

// stopServing interrupts the runner and checks it ends with status 0.
func stopServing(t *testing.T, cmd *exec.Cmd, rest *bufio.Reader) {
	t.Helper()
	cmd.Process.Signal(syscall.SIGINT)
	io.Copy(io.Discard, rest)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("after Ctrl-C the viewer ended with %v, want status 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the viewer did not end within 10 s of Ctrl-C")
	}
}

// -serve outlives the run: after the run ends the page still answers, with
// the run done; then `runner -serve ADDR -out DIR` views the same folder
// without running anything. Both end on Ctrl-C.
func TestServeOutlivesRunAndViewsAFolder(t *testing.T) {
	out := t.TempDir()
	cmd, url, rest := startServing(t, "still serving", "-config", "experiments/paper.yaml",
		"-set", "model=testdata/vgg19-tiny", "-set", "width=32", "-set", "height=24",
		"-set", "iterations=4", "-set", "checkpoint_every=2", "-out", out, "-serve", "127.0.0.1:0")
	deadline := time.Now().Add(5 * time.Second) // the server polls every 0.5 s
	for {
		p := getPoints(t, url)
		if len(p) == 1 && p[0].State == "done" && p[0].Iteration == 4 && p[0].Of == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the run: points %+v, want one done at 4 of 4", p)
		}
		time.Sleep(100 * time.Millisecond)
	}
	stopServing(t, cmd, rest)

	cmd, url, rest = startServing(t, "viewing "+out, "-serve", "127.0.0.1:0", "-out", out)
	if p := getPoints(t, url); len(p) != 1 || p[0].Name != "shipwreck_starry_night" || p[0].State != "done" {
		t.Errorf("viewer: points %+v, want the finished run", p)
	}
	stopServing(t, cmd, rest)
}

// -log-format json on a two-point sweep: every stdout line is a JSON
// record; points are numbered by index alike in every line; each point's
// log_every is honoured; the model is described once; checkpoints are
// announced; durations are seconds.
func TestSweepLogsAsJSON(t *testing.T) {
	tmp := t.TempDir()
	cfg := sweepConfig(t, tmp, "  grid:\n    style_weight: [100, 1000]\n")
	stdout, stderr, code := runMain(t, "-config", cfg, "-set", "iterations=6", "-set", "log_every=2",
		"-set", "checkpoint_every=3", "-out", filepath.Join(tmp, "out"), "-log-format", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	counts := map[string]int{}
	var its []string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("a stdout line is not JSON: %q", line)
		}
		msg, _ := m["msg"].(string)
		counts[msg]++
		switch msg {
		case "iteration":
			its = append(its, fmt.Sprintf("%v:%v", m["point"], m["it"]))
			if e, ok := m["eta"]; ok {
				if e, ok := e.(float64); !ok || e > 600 {
					t.Errorf("eta %v: want seconds", m["eta"])
				}
			}
		case "finish":
			if e, ok := m["elapsed"].(float64); !ok || e > 600 {
				t.Errorf("elapsed %v: want seconds", m["elapsed"])
			}
		case "start":
			if p := m["point"].(float64); p != 0 && p != 1 {
				t.Errorf("start of point %v, want 0 or 1", p)
			}
		}
	}
	if got := strings.Join(its, " "); got != "0:0 0:2 0:4 0:6 1:0 1:2 1:4 1:6" {
		t.Errorf("iteration lines (point:it) %q, want every 2nd of each point, numbered 0 and 1", got)
	}
	if counts["model"] != 1 || counts["checkpoint"] != 4 {
		t.Errorf("%d model lines (want 1), %d checkpoint lines (want 4)", counts["model"], counts["checkpoint"])
	}
}
