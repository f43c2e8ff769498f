package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/styletransfer/gostyle/graphs/graphstest"
)

// What the README and -status say a sweep rerun does with a point done with other
// settings, the real runner does: the rerun fails it naming -overwrite, -status shows it
// stale with the note, a rerun with -overwrite runs it again, and a run after that skips it.
func TestSweepRerunOfChangedPoints(t *testing.T) {
	graphstest.EndToEnd(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "s.yaml")
	out := filepath.Join(dir, "out")
	os.WriteFile(cfg, []byte(`model: testdata/vgg19-tiny
content: testdata/images/detail-scream-sky.jpg
style: testdata/images/starry_night.jpg
width: 16
height: 0
checkpoint_every: 0
iterations: 1
sweep:
  name: rerun
  grid:
    seed: [1, 2]
`), 0o644)
	run := func(args ...string) (string, string, int) {
		t.Helper()
		return runMain(t, append([]string{"-config", cfg, "-out", out}, args...)...)
	}
	if stdout, stderr, code := run(); code != 0 {
		t.Fatalf("first run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// A setting every point shares changes: both points keep their folders (named for
	// their overrides) and are other runs now.
	data, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte(strings.Replace(string(data), "iterations: 1", "iterations: 2", 1)), 0o644)

	status, _, code := run("-status")
	if code != 0 || strings.Count(status, " stale ") != 2 || !strings.Contains(status, "a rerun fails these points until run with -overwrite") {
		t.Fatalf("-status after the change: exit %d\n%s", code, status)
	}
	stdout, stderr, code := run()
	if code == 0 || !strings.Contains(stdout+stderr, "-overwrite") {
		t.Fatalf("rerun without -overwrite: exit %d, want a failure naming -overwrite\n%s\n%s", code, stdout, stderr)
	}
	if stdout, stderr, code := run("-overwrite"); code != 0 {
		t.Fatalf("rerun with -overwrite: exit %d\n%s\n%s", code, stdout, stderr)
	}
	status, _, code = run("-status")
	if code != 0 || !strings.Contains(status, "2 points: 2 done") || strings.Contains(status, "stale") {
		t.Errorf("-status after -overwrite: exit %d\n%s", code, status)
	}
	stdout, _, code = run()
	if code != 0 || strings.Count(stdout, "skipped") != 2 {
		t.Errorf("a third run skips both done points: exit %d\n%s", code, stdout)
	}
}
