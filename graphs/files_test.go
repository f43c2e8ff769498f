package graphs

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Each file of a model folder that is read (by graphs or TensorFlow) is
// refused in one line naming it and its bound when it is not a regular file
// or is over its bound, trusted or not, before anything reads it.
func TestModelFilesAreRegularAndBounded(t *testing.T) {
	zero := func(path string) error { return os.Symlink("/dev/zero", path) }
	fifo := func(path string) error { return syscall.Mkfifo(path, 0o644) }
	folder := func(path string) error { return os.Mkdir(path, 0o755) }
	sparse := func(size int64) func(string) error {
		return func(path string) error {
			f, err := os.Create(path)
			if err != nil {
				return err
			}
			defer f.Close()
			return f.Truncate(size)
		}
	}
	cases := []struct {
		file string
		make func(path string) error
		want string
	}{
		{"saved_model.pb", zero, "saved_model.pb is not a regular file (a device)"},
		{"saved_model.pb", fifo, "saved_model.pb is not a regular file (a FIFO)"},
		{"saved_model.pb", folder, "saved_model.pb is not a regular file (a folder)"},
		{"saved_model.pb", sparse(100 << 20), "saved_model.pb is 100 MiB, over the 64 MiB bound for a model graph"},
		{"fingerprint.pb", fifo, "fingerprint.pb is not a regular file (a FIFO)"},
		{"assets.extra/metadata.json", zero, "assets.extra/metadata.json is not a regular file (a device)"},
		{"assets.extra/metadata.json", sparse(2 << 20), "assets.extra/metadata.json is 2 MiB, over the 1 MiB bound for the metadata"},
		{"variables/variables.index", zero, "variables/variables.index is not a regular file (a device)"},
		{"variables/variables.index", sparse(17 << 20), "variables/variables.index is 17 MiB, over the 16 MiB bound for a variables index"},
		{"variables/variables.data-00000-of-00001", fifo, "variables/variables.data-00000-of-00001 is not a regular file (a FIFO)"},
		{"variables/variables.data-00000-of-00001", sparse(3 << 30), "variables/variables.data-00000-of-00001 is 3072 MiB, over the 2048 MiB bound for a variables shard"},
	}
	for _, c := range cases {
		dir := copyModel(t)
		path := filepath.Join(dir, c.file)
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if err := c.make(path); err != nil {
			t.Fatal(err)
		}
		for _, trust := range []bool{false, true} {
			done := make(chan error, 1)
			go func() { _, err := LoadWith(dir, Options{Trust: trust}); done <- err }()
			select {
			case err := <-done:
				if want := "model " + dir + ": " + c.want; err == nil || err.Error() != want {
					t.Errorf("trust %v: Load = %v\nwant %s", trust, err, want)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("%s: Load still reading after 30 s", c.want)
			}
		}
	}
}

// A link to a regular file is followed: model folders made of links load.
func TestModelFilesMayBeLinks(t *testing.T) {
	dir := copyModel(t)
	real := filepath.Join(t.TempDir(), "graph.pb")
	if err := os.Rename(filepath.Join(dir, "saved_model.pb"), real); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, filepath.Join(dir, "saved_model.pb")); err != nil {
		t.Fatal(err)
	}
	if _, err := readModel(dir); err != nil {
		t.Errorf("readModel through a link: %v", err)
	}
}

// TensorFlow loads the graph graphs checked, from a copy: where none can be
// written, an untrusted model is refused rather than loaded from its folder,
// whose saved_model.pb may have changed since the check; a trusted one loads.
func TestUncheckedGraphIsNeverLoaded(t *testing.T) {
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	dir := copyModel(t)
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), "cannot write the checked copy of saved_model.pb that TensorFlow loads") {
		t.Errorf("Load without a temporary folder = %v", err)
	}
	if _, err := LoadWith(dir, Options{Trust: true, Runs: [][]string{{"conv1_1"}}}); err != nil {
		t.Errorf("trusted: %v", err)
	}
}
