package main

// -resume and the messages around it (issue 26 points 5 and 6): a run
// folder resumes where it is, an interrupted -overwrite rerun resumes by the
// command the runner printed, and a damaged checkpoint is reported.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/styletransfer/gostyle/runner/rundir"
)

// interrupt starts args, stops it with SIGTERM once iteration it is logged
// and checks the exit and the printed resume command for dir.
func interrupt(t *testing.T, dir string, it int, args ...string) {
	t.Helper()
	p := start(t, args...)
	if !p.waitFor(iteration(it)) {
		_, stderr, _ := p.wait()
		t.Fatalf("runner ended before iteration %d: %s", it, stderr)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	stdout, stderr, code := p.wait()
	if code != 143 || stderr != "" || !strings.Contains(stdout, "resume with: runner -resume "+dir+"\n") {
		t.Fatalf("SIGTERM: exit %d (want 143), stderr %q\n%s", code, stderr, stdout)
	}
}

// A copy of an interrupted run folder resumes itself: the copy finishes in
// place and the original stays interrupted, byte for byte as it was.
func TestResumeACopiedFolderResumesTheCopy(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	orig := filepath.Join(out, runName)
	interrupt(t, orig, 3, tinyRun(out, "iterations=30", "checkpoint_every=2")...)
	copyDir := filepath.Join(t.TempDir(), "moved", "copy")
	os.MkdirAll(filepath.Dir(copyDir), 0o755)
	if b, err := exec.Command("cp", "-a", orig, copyDir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, b)
	}
	before := hashes(t, orig)

	stdout := mustRun(t, "-resume", copyDir)
	if !strings.Contains(stdout, "msg=resuming dir="+copyDir+" ") {
		t.Errorf("did not resume the copy in place:\n%s", stdout)
	}
	if st, err := rundir.ReadStatus(copyDir); err != nil || st.State != rundir.Done || st.Iteration != 30 {
		t.Errorf("the copy: %+v %v, want done at 30", st, err)
	}
	if err := decodesAsPNG(filepath.Join(copyDir, "final.png")); err != nil {
		t.Error(err)
	}
	if st, err := rundir.ReadStatus(orig); err != nil || st.State != rundir.Interrupted {
		t.Errorf("the original: %+v %v, want still interrupted", st, err)
	}
	if !equalMaps(before, hashes(t, orig)) {
		t.Error("the original folder changed")
	}
}

// After an interrupted -overwrite rerun, the resume command the runner
// printed resumes the replacement (in <run>.new) and installs it when it
// finishes; the old run stays until then.
func TestResumeAnInterruptedOverwrite(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	dir := filepath.Join(out, runName)
	mustRun(t, tinyRun(out, "iterations=2")...)
	old := hashes(t, dir)
	interrupt(t, dir, 3, append(tinyRun(out, "iterations=30", "checkpoint_every=2"), "-overwrite")...)
	if !equalMaps(old, hashes(t, dir)) {
		t.Fatal("the finished run changed before its replacement finished")
	}
	stdout, stderr, code := runCmd(t, "-resume", dir)
	if code != 0 || stderr != "" || !strings.Contains(stdout, "resuming the unfinished replacement in "+dir+".new") {
		t.Fatalf("-resume %s: exit %d, stderr %q\n%s", dir, code, stderr, stdout)
	}
	if st, err := rundir.ReadStatus(dir); err != nil || st.State != rundir.Done || st.Iteration != 30 {
		t.Errorf("after resume: %+v %v, want the replacement done at 30", st, err)
	}
	if _, err := os.Stat(dir + ".new"); !os.IsNotExist(err) {
		t.Errorf("%s.new left behind: %v", dir, err)
	}
}

// A damaged state.bin resumes from state.prev.bin with the note the README
// promises, printed.
func TestDamagedStateIsReportedOnResume(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	dir := filepath.Join(out, runName)
	interrupt(t, dir, 5, tinyRun(out, "iterations=30", "checkpoint_every=2")...)
	path := filepath.Join(dir, "state.bin")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x40
	os.WriteFile(path, data, 0o644)
	stdout := mustRun(t, "-resume", dir)
	if !strings.Contains(stdout, "checkpoint state "+path+" is damaged") || !strings.Contains(stdout, "resumed from the previous checkpoint") {
		t.Errorf("no note of the damaged checkpoint:\n%s", stdout)
	}
	if st, err := rundir.ReadStatus(dir); err != nil || st.State != rundir.Done || st.Iteration != 30 {
		t.Errorf("after resume: %+v %v, want done at 30", st, err)
	}
}
