package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/styletransfer/gostyle/graphs/graphstest"
)

// buildRunner builds the launcher and runner-tf side by side, as `make
// build` does (runner-tf needs the cgo settings `make test` exports).
func buildRunner(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	root := graphstest.Root(t)
	for _, b := range []struct{ out, pkg, cgo string }{
		{"runner", "./cmd/runner", "0"},
		{"runner-tf", "./cmd/runner-tf", os.Getenv("CGO_ENABLED")},
	} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(bin, b.out), b.pkg)
		cmd.Dir = root
		cmd.Env = os.Environ()
		if b.cgo != "" {
			cmd.Env = append(cmd.Env, "CGO_ENABLED="+b.cgo)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return filepath.Join(bin, "runner")
}

// TensorFlow prints notices while its library loads when oneDNN is on (the
// default on Intel CPUs with AVX-512); TF_ENABLE_ONEDNN_OPTS=1 forces them on
// any CPU. The real binary's stderr must hold only the runner's own lines.
func TestStderrHoldsOnlyRunnerLines(t *testing.T) {
	graphstest.EndToEnd(t)
	runner := buildRunner(t)
	root := graphstest.Root(t)
	for _, onednn := range []string{"1", "0"} {
		run := func(args ...string) (string, string, int) {
			cmd := exec.Command(runner, args...)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "TF_ENABLE_ONEDNN_OPTS="+onednn)
			var o, e bytes.Buffer
			cmd.Stdout, cmd.Stderr = &o, &e
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			return o.String(), e.String(), code
		}
		_, stderr, code := run("-config", "nope.yaml")
		if code != 1 || stderr != "runner: config nope.yaml: no such file (looked here and under configs/)\n" {
			t.Errorf("oneDNN %s, bad config: exit %d, stderr %q, want exit 1 and one line", onednn, code, stderr)
		}
		stdout, stderr, code := run("-config", "experiments/paper.yaml", "-set", "model=testdata/vgg19-tiny",
			"-set", "width=32", "-set", "height=24", "-set", "iterations=2", "-out", t.TempDir())
		if code != 0 || stderr != "" {
			t.Errorf("oneDNN %s, good run: exit %d, stderr %q, want exit 0 and nothing\nstdout: %s", onednn, code, stderr, stdout)
		}
	}
	// Asking for TensorFlow's logs by setting its variable lets them through.
	cmd := exec.Command(runner, "-config", "nope.yaml")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "TF_ENABLE_ONEDNN_OPTS=1", "TF_CPP_MIN_LOG_LEVEL=0")
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "oneDNN") {
		t.Errorf("TF_CPP_MIN_LOG_LEVEL=0 should show TensorFlow's notice, got %q", out)
	}
}

// buildLauncher builds the launcher alone into a new folder (no runner-tf
// beside it) and returns the folder.
func buildLauncher(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(bin, "runner"), "./cmd/runner")
	cmd.Dir = graphstest.Root(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// Without runner-tf beside it the launcher says so in one line.
func TestMissingEngineIsOneLine(t *testing.T) {
	bin := buildLauncher(t)
	var e bytes.Buffer
	run := exec.Command(filepath.Join(bin, "runner"), "-config", "quick.yaml")
	run.Stderr = &e
	err := run.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1", err)
	}
	if s := e.String(); strings.Count(s, "\n") != 1 || !strings.Contains(s, "runner-tf is missing") {
		t.Errorf("stderr %q, want one line saying runner-tf is missing", s)
	}
}

// The engine starts with one malloc arena unless the user chose otherwise. A
// script standing in for runner-tf prints the environment it was given.
func TestEngineGetsOneArena(t *testing.T) {
	bin := buildLauncher(t)
	script := "#!/bin/sh\necho \"arena=$MALLOC_ARENA_MAX tunables=$GLIBC_TUNABLES\"\n"
	if err := os.WriteFile(filepath.Join(bin, engineName), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ env, want string }{
		{"", "arena=1 tunables="},
		{"MALLOC_ARENA_MAX=4", "arena=4 tunables="},
		{"GLIBC_TUNABLES=glibc.malloc.arena_max=2", "arena= tunables=glibc.malloc.arena_max=2"},
		{"GLIBC_TUNABLES=glibc.malloc.tcache_count=0", "arena=1 tunables=glibc.malloc.tcache_count=0"},
	} {
		run := exec.Command(filepath.Join(bin, "runner"))
		run.Env = []string{"PATH=" + os.Getenv("PATH")}
		if c.env != "" {
			run.Env = append(run.Env, c.env)
		}
		out, err := run.Output()
		if err != nil {
			t.Fatalf("%q: %v", c.env, err)
		}
		if got := strings.TrimSpace(string(out)); got != c.want {
			t.Errorf("with %q the engine saw %q, want %q", c.env, got, c.want)
		}
	}
}
