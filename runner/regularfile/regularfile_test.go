package regularfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRefusals: every kind of path that is not a regular file within the
// bound is refused in one line naming it, without blocking or reading.
func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	zero := filepath.Join(dir, "zero")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sparse := filepath.Join(dir, "sparse")
	if err := os.WriteFile(sparse, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(sparse, 1<<40); err != nil { // 1 TiB, no blocks
		t.Fatal(err)
	}
	folder := filepath.Join(dir, "folder")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		kind error
		want string
	}{
		{zero, ErrNotRegular, "is a character device"},
		{fifo, ErrNotRegular, "is a named pipe"},
		{folder, ErrNotRegular, "is a folder"},
		{sparse, ErrTooLarge, "1 TiB is over the size bound of 64 KiB"},
		{filepath.Join(dir, "missing"), fs.ErrNotExist, "no such file"},
	} {
		done := make(chan error, 1)
		go func() { _, err := Read(c.path, 64<<10); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.path) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Read(%s) = %v, want one line naming it, %q, matching %v", c.path, err, c.want, c.kind)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Read(%s) blocked", c.path)
		}
	}
}

// TestRead: a regular file (also through a symbolic link) up to the bound
// reads whole; one byte more is refused.
func TestRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	want := bytes.Repeat([]byte("abc\n"), 1000)
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, link} {
		if got, err := Read(p, int64(len(want))); err != nil || !bytes.Equal(got, want) {
			t.Errorf("Read(%s) = %d bytes, %v; want %d bytes", p, len(got), err, len(want))
		}
	}
	if _, err := Read(path, int64(len(want))-1); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Read over the bound: %v, want ErrTooLarge", err)
	}
	if got, err := Read(filepath.Join(dir, "empty"), 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read(missing) = %q, %v", got, err)
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 bytes", 1023: "1023 bytes", 1024: "1 KiB", 1536: "1.5 KiB", 64 << 20: "64 MiB", 1 << 40: "1 TiB"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestOpenFileDoesNotFollowLinks: a file opened for writing is never
// reached through a symbolic link, and never a pipe or a device.
func TestOpenFileDoesNotFollowLinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{link, fifo, dir} {
		f, err := OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
		if err == nil {
			f.Close()
		}
		if !errors.Is(err, ErrNotRegular) && !(p == dir && err != nil) {
			t.Errorf("OpenFile(%s): %v, want a refusal", p, err)
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("the link's target changed: %q", b)
	}
	f, err := OpenFile(filepath.Join(dir, "new"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}
