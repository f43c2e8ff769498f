package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/styletransfer/gostyle/runner/regularfile"
)

// TestFindRefusesWhatIsNotAConfigFile: a config that is a link to
// /dev/zero, a named pipe, a folder or a file over MaxFileBytes (sparse, 1
// TiB) is refused at once in one line naming it (and the bound), both as
// given and under the configs folder.
func TestFindRefusesWhatIsNotAConfigFile(t *testing.T) {
	dir := t.TempDir()
	mk := map[string]func(string) error{
		"zero.yaml":   func(p string) error { return os.Symlink("/dev/zero", p) },
		"fifo.yaml":   func(p string) error { return syscall.Mkfifo(p, 0o644) },
		"folder.yaml": func(p string) error { return os.Mkdir(p, 0o755) },
		"huge.yaml": func(p string) error {
			if err := os.WriteFile(p, []byte("content: c.jpg\n"), 0o644); err != nil {
				return err
			}
			return os.Truncate(p, 1<<40)
		},
	}
	for name, create := range mk {
		if err := create(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		for _, arg := range []string{filepath.Join(dir, name), name} {
			done := make(chan error, 1)
			go func() { _, err := Find(arg, dir, nil); done <- err }()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("Find(%s) blocked", arg)
			}
			want, kind := "only regular files are read", regularfile.ErrNotRegular
			if name == "huge.yaml" {
				want, kind = "1 TiB is over the size bound of 1 MiB", regularfile.ErrTooLarge
			}
			if !errors.Is(err, kind) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), filepath.Join(dir, name)) {
				t.Errorf("Find(%s): %v, want one line naming %s with %q", arg, err, name, want)
			}
		}
	}
}
