package main

// Issue 26 point 4: SIGINT and SIGTERM end the runner promptly in every
// phase, not only in the loop; issue 26 point 6: two sweeps on one output.

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/styletransfer/gostyle/graphs"
	"github.com/styletransfer/gostyle/runner/config"
	"github.com/styletransfer/gostyle/runner/rundir"
)

// holdLoad loads the model, then stays in the load phase: what a model
// that takes minutes to load (a cgo call nothing can cancel) looks like
// from outside.
func holdLoad(cfg config.Config, trust bool, stdout io.Writer, runs [][]string) (*graphs.Model, error) {
	m, err := load(cfg, trust, stdout, runs)
	fmt.Fprintln(stdout, "test: holding the model load")
	time.Sleep(time.Hour)
	return m, err
}

// waitWithin waits for p to end, killing it after limit.
func waitWithin(t *testing.T, p *proc, limit time.Duration) (stdout, stderr string, code int) {
	t.Helper()
	timer := time.AfterFunc(limit, func() { p.cmd.Process.Kill() })
	defer timer.Stop()
	start := time.Now()
	stdout, stderr, code = p.wait()
	if took := time.Since(start); took >= limit {
		t.Fatalf("the runner was still running %v after the signal", limit)
	}
	return stdout, stderr, code
}

func TestSignalWhileTheModelLoadsExitsAtOnce(t *testing.T) {
	for _, tc := range []struct {
		sig  syscall.Signal
		exit int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "out")
			p := startEnv(t, []string{"RUNNER_TEST_HOLD_LOAD=1"}, tinyRun(out)...)
			if !p.waitFor("test: holding the model load") {
				_, stderr, code := p.wait()
				t.Fatalf("the runner ended (exit %d, %q) without holding the model load", code, stderr)
			}
			p.cmd.Process.Signal(tc.sig)
			stdout, stderr, code := waitWithin(t, p, 10*time.Second)
			if code != tc.exit || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "stopped") {
				t.Fatalf("exit %d, stderr %q: want %d and one line\n%s", code, stderr, tc.exit, stdout)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s exists: nothing may be written before the model is loaded", out)
			}
		})
	}
}

// hugeGrid is a sweep of 10^6 points on the tiny model, one iteration each.
func hugeGrid(t *testing.T, tmp string) string {
	axis := "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"
	return sweepConfig(t, tmp, "  max_points: 1000000\n  grid:\n    seed: "+axis+"\n    style_weight: "+axis+
		"\n    content_weight: "+axis+"\n    tv_weight: "+axis+"\n    learning_rate: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n    noise_ratio: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]\n")
}

func TestHugeSweepListStreamsAndStops(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	cfg := hugeGrid(t, tmp)
	p := start(t, "-config", cfg, "-out", filepath.Join(tmp, "out"), "-list")
	first := make(chan bool, 1)
	go func() { first <- p.waitFor("0\t") }()
	select {
	case ok := <-first:
		if !ok {
			_, stderr, code := p.wait()
			t.Fatalf("-list ended (exit %d, %q) before its first line", code, stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("-list printed no line in 30 s: it must stream")
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	stdout, stderr, code := waitWithin(t, p, 10*time.Second)
	if code != 143 || strings.Count(stdout, "\n") >= 1_000_000 {
		t.Fatalf("exit %d (want 143), %d lines, stderr %q", code, strings.Count(stdout, "\n"), stderr)
	}
}

func TestHugeSweepIndexRunsOnePointAtOnce(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	cfg := hugeGrid(t, tmp)
	out := filepath.Join(tmp, "out")
	p := start(t, "-config", cfg, "-out", out, "-index", "999999", "-set", "iterations=1")
	stdout, stderr, code := waitWithin(t, p, 90*time.Second)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q\n%s", code, stderr, stdout)
	}
	dirs, _ := filepath.Glob(filepath.Join(out, "999999-seed=9-style_weight=9-*"))
	if len(dirs) != 1 {
		t.Fatalf("run folders %v, want point 999999's", dirs)
	}
	if st, err := rundir.ReadStatus(dirs[0]); err != nil || st.State != rundir.Done {
		t.Fatalf("point 999999: %+v %v", st, err)
	}
}

// Two sweeps on one output share the work: a point one of them holds is
// left to it, and neither names as failed a point the other finished.
func TestTwoSweepsOnOneOutput(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	cfg := sweepConfig(t, tmp, "  grid:\n    seed: [1, 2, 3]\n")
	out := filepath.Join(tmp, "out")
	// The first sweep holds point 0 once it iterates; 400 iterations keep it
	// there while the second starts (a model load, seconds on a loaded host).
	args := []string{"-config", cfg, "-out", out, "-set", "iterations=400", "-log-format", "text"}
	a := start(t, args...)
	if !a.waitFor(iteration(0)) {
		_, stderr, code := a.wait()
		t.Fatalf("first sweep ended (exit %d, %q) before iterating", code, stderr)
	}
	b := start(t, args...)
	outB, errB, codeB := b.wait()
	outA, errA, codeA := a.wait()
	if codeA != 0 || codeB != 0 || errA != "" || errB != "" {
		t.Fatalf("exits %d and %d, stderr %q and %q: want both 0\n--- first\n%s\n--- second\n%s", codeA, codeB, errA, errB, outA, outB)
	}
	if !strings.Contains(outB, "another runner holds it") {
		t.Errorf("the second sweep did not say it left point 0 to the first:\n%s", outB)
	}
	dirs, _ := filepath.Glob(filepath.Join(out, "00[0-2]-seed=*"))
	for _, d := range dirs {
		if st, err := rundir.ReadStatus(d); err != nil || st.State != rundir.Done {
			t.Errorf("%s: %+v %v", d, st, err)
		}
	}
	if len(dirs) != 3 {
		t.Errorf("run folders %v, want 3", dirs)
	}
}
