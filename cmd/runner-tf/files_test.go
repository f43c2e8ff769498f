package main

// Issue 26 point 3: every file the runner reads is a regular file within a
// stated bound. Each case is tried against the real runner: exit 1, one line
// naming the file, promptly (a named pipe is never waited on), nothing
// written where a link points.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestFilesThatAreNotRegularOrTooLarge(t *testing.T) {
	t.Parallel()
	shared := t.TempDir()
	interrupted := filepath.Join(shared, "out", runName)
	interrupt(t, interrupted, 2, tinyRun(filepath.Join(shared, "out"), "iterations=30", "checkpoint_every=2")...)
	victim := filepath.Join(shared, "victim.txt")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// copyRun is a copy of the interrupted run with name replaced by what
	// plant makes there.
	copyRun := func(t *testing.T, tmp, name string, plant func(string) error) string {
		dir := filepath.Join(tmp, "run")
		if b, err := exec.Command("cp", "-a", interrupted, dir).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, b)
		}
		os.Remove(filepath.Join(dir, name))
		if err := plant(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	fifo := func(p string) error { return syscall.Mkfifo(p, 0o644) }
	zero := func(p string) error { return os.Symlink("/dev/zero", p) }
	sparse := func(p string) error {
		if err := os.WriteFile(p, []byte("content: a.jpg\n"), 0o644); err != nil {
			return err
		}
		return os.Truncate(p, 1<<40)
	}
	linkToVictim := func(p string) error { return os.Symlink(victim, p) }
	for _, c := range []struct {
		name string
		args func(t *testing.T, tmp string) (args []string, file string)
		want string
	}{
		{"config a named pipe", func(t *testing.T, tmp string) ([]string, string) {
			p := filepath.Join(tmp, "fifo.yaml")
			fifo(p)
			return []string{"-config", p}, p
		}, "is a named pipe: only regular files are read"},
		{"config a link to /dev/zero", func(t *testing.T, tmp string) ([]string, string) {
			p := filepath.Join(tmp, "zero.yaml")
			zero(p)
			return []string{"-config", p}, p
		}, "is a character device: only regular files are read"},
		{"config of 1 TiB (sparse)", func(t *testing.T, tmp string) ([]string, string) {
			p := filepath.Join(tmp, "huge.yaml")
			sparse(p)
			return []string{"-config", p}, p
		}, "1 TiB is over the size bound of 1 MiB for this file"},
		{"picture a named pipe", func(t *testing.T, tmp string) ([]string, string) {
			p := filepath.Join(tmp, "fifo.jpg")
			fifo(p)
			return tinyRun(filepath.Join(tmp, "out"), "content="+p), p
		}, "content picture: "},
		{"-resume, status.json a link to /dev/zero", func(t *testing.T, tmp string) ([]string, string) {
			dir := copyRun(t, tmp, "status.json", zero)
			return []string{"-resume", dir}, filepath.Join(dir, "status.json")
		}, "is a character device: only regular files are read"},
		{"-resume, config.yaml a named pipe", func(t *testing.T, tmp string) ([]string, string) {
			dir := copyRun(t, tmp, "config.yaml", fifo)
			return []string{"-resume", dir}, filepath.Join(dir, "config.yaml")
		}, "is a named pipe: only regular files are read"},
		{"-resume, metrics.csv a link out of the folder", func(t *testing.T, tmp string) ([]string, string) {
			dir := copyRun(t, tmp, "metrics.csv", linkToVictim)
			return []string{"-resume", dir}, filepath.Join(dir, "metrics.csv")
		}, "is a symbolic link: only regular files are read"},
		{"-resume, metrics.csv of 1 TiB (sparse)", func(t *testing.T, tmp string) ([]string, string) {
			dir := copyRun(t, tmp, "metrics.csv", sparse)
			return []string{"-resume", dir}, filepath.Join(dir, "metrics.csv")
		}, "1 TiB is over the size bound of 256 MiB for this file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			args, file := c.args(t, t.TempDir())
			p := start(t, args...)
			timer := time.AfterFunc(90*time.Second, func() { p.cmd.Process.Kill() })
			stdout, stderr, code := p.wait()
			if !timer.Stop() {
				t.Fatalf("the runner did not end within 90 s (blocked on %s?)", file)
			}
			t.Logf("exit %d: %s", code, strings.TrimSpace(stderr)) // what the user sees, for the README's table
			if code != 1 || !strings.HasPrefix(stderr, "runner: ") || strings.Count(stderr, "\n") != 1 ||
				!strings.Contains(stderr, file) || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q: want 1 and one line naming %s with %q\n%s", code, stderr, file, c.want, stdout)
			}
			if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
				t.Errorf("the file a link pointed to changed: %q", b)
			}
		})
	}
}
