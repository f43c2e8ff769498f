package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/styletransfer/gostyle/graphs/graphstest"
	"github.com/styletransfer/gostyle/runner/rundir"
)

// The test binary doubles as the runner: with RUNNER_AS_MAIN=1 it runs
// main(), so these tests see real exit codes and stderr.
func TestMain(m *testing.M) {
	if os.Getenv("RUNNER_AS_MAIN") == "1" {
		if os.Getenv("RUNNER_TEST_HOLD_LOAD") == "1" {
			loadModel = holdLoad
		}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// asMain is the test binary run as the runner, from the repository root.
func asMain(t *testing.T, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = graphstest.Root(t)
	cmd.Env = append(os.Environ(), "RUNNER_AS_MAIN=1", "TF_CPP_MIN_LOG_LEVEL=2")
	return cmd
}

func runMain(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := asMain(t, args...)
	var o, e bytes.Buffer
	cmd.Stdout = &o
	// As bin/runner does: TensorFlow's load-time notices go to /dev/null and
	// the real stderr arrives on fd 3 (ExtraFiles[0]) for reclaimStderr.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.ExtraFiles = []*os.File{w}
	cmd.Env = append(cmd.Env, stderrFDEnv+"=3", "TF_ENABLE_ONEDNN_OPTS=1")
	done := make(chan struct{})
	go func() { io.Copy(&e, r); close(done) }()
	err = cmd.Run()
	w.Close()
	<-done
	r.Close()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// The GUIDE's contract: experiments/paper.yaml found under configs/, -set
// overrides, -out the output root, exit 0 and a complete run folder.
func TestPaperConfigOnTinyModel(t *testing.T) {
	out := t.TempDir()
	stdout, stderr, code := runMain(t, "-config", "experiments/paper.yaml",
		"-set", "model=testdata/vgg19-tiny", "-set", "width=64", "-set", "height=48",
		"-set", "iterations=4", "-set", "checkpoint_every=2", "-out", out)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if stderr != "" {
		t.Errorf("stderr not empty on success: %q", stderr)
	}
	dir := filepath.Join(out, "shipwreck_starry_night")
	for _, name := range []string{"config.yaml", "metrics.csv", "model.json", "initial.png", "styled_0002.png", "styled_0004.png", "final.png"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	if !strings.Contains(stdout, "random weights") {
		t.Errorf("output does not say the weights are random:\n%s", stdout)
	}
}

// Bad input: one line on stderr naming the culprit, non-zero exit, no Go
// trace, nothing written.
func TestBadInputIsOneClearLine(t *testing.T) {
	dir := t.TempDir()
	badYAML := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badYAML, []byte("content: [unclosed\n"), 0o644)
	unreadable := filepath.Join(dir, "locked.yaml")
	os.WriteFile(unreadable, []byte("iterations: 1\n"), 0o000)
	out := filepath.Join(dir, "out")
	tiny := []string{"-config", "experiments/paper.yaml", "-set", "model=testdata/vgg19-tiny", "-out", out}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-config", "nope.yaml"}, "nope.yaml"},
		{[]string{"-config", badYAML}, "bad.yaml"},
		{append(tiny, "-set", "iteratons=3"), `unknown key "iteratons"`},
		{append(tiny, "-set", "model=testdata/nomodel"), "testdata/nomodel"},
		{append(tiny, "-set", "content=testdata/images/missing.jpg"), "testdata/images/missing.jpg"},
		{append(tiny, "-set", "style=README.md"), "README.md"},
		{append(tiny, "-set", "width=-3"), "key width"},
		{[]string{"-bogus"}, "-bogus"},
		{[]string{"extra"}, "extra"},
	}
	if os.Geteuid() != 0 { // root reads any file
		cases = append(cases, struct {
			args []string
			want string
		}{[]string{"-config", unreadable}, "locked.yaml"})
	}
	for _, tc := range cases {
		stdout, stderr, code := runMain(t, tc.args...)
		if code == 0 {
			t.Errorf("%v: exit 0\n%s", tc.args, stdout)
			continue
		}
		lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
		if len(lines) != 1 || !strings.Contains(stderr, tc.want) || !strings.HasPrefix(stderr, "runner: ") {
			t.Errorf("%v: stderr %q, want one line naming %q", tc.args, stderr, tc.want)
		}
		if strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
			t.Errorf("%v: Go trace on stderr: %s", tc.args, stderr)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Fatalf("%v: output folder created", tc.args)
		}
	}
}

// SIGINT (Ctrl-C) and SIGTERM (what a scheduler sends) stop the run after
// the current step with a checkpoint: exit 130 and 143 as a shell reports
// them, a run folder marked interrupted, and the command that resumes it,
// which then finishes the run.
func TestSignalCheckpointsAndResumes(t *testing.T) {
	graphstest.EndToEnd(t)
	for _, tc := range []struct {
		sig  syscall.Signal
		exit int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			out := t.TempDir()
			cmd := asMain(t, "-config", "experiments/paper.yaml", "-set", "model=testdata/vgg19-tiny",
				"-set", "width=32", "-set", "height=24", "-set", "iterations=300", "-set", "log_every=1",
				"-set", "checkpoint_every=0", "-out", out)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4096)
			var seen strings.Builder
			for !strings.Contains(seen.String(), "msg=iteration it=1 ") {
				n, err := stdout.Read(buf)
				if err != nil {
					cmd.Process.Kill()
					t.Fatalf("runner ended before iterating: %v\n%s", err, seen.String())
				}
				seen.Write(buf[:n])
			}
			cmd.Process.Signal(tc.sig)
			rest, _ := io.ReadAll(stdout)
			seen.Write(rest)
			err = cmd.Wait()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != tc.exit {
				t.Fatalf("exit: %v, want %d\n%s", err, tc.exit, seen.String())
			}
			dir := filepath.Join(out, "shipwreck_starry_night")
			if !strings.Contains(seen.String(), "resume with: runner -resume "+dir) {
				t.Errorf("no resume hint in\n%s", seen.String())
			}
			st, err := rundir.ReadStatus(dir)
			if err != nil || st.State != rundir.Interrupted {
				t.Fatalf("status %+v, %v: want interrupted", st, err)
			}
			stdoutText, stderr, code := runMain(t, "-resume", dir)
			if code != 0 || stderr != "" {
				t.Fatalf("resume: exit %d, stderr %q\n%s", code, stderr, stdoutText)
			}
			if !strings.Contains(stdoutText, "msg=resuming") {
				t.Errorf("resume did not say it resumed:\n%s", stdoutText)
			}
			if st, err := rundir.ReadStatus(dir); err != nil || st.State != rundir.Done || st.Iteration != 300 {
				t.Errorf("after resume: status %+v, %v: want done at 300", st, err)
			}
			if _, _, code := runMain(t, "-resume", dir); code != 1 {
				t.Errorf("resuming a finished run: exit %d, want 1", code)
			}
		})
	}
}
