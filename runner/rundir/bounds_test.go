package rundir

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

// hostile puts at path something that is not a regular file within
// bounds: "zero" a link to /dev/zero, "fifo" a named pipe, "folder" a
// folder, "sparse" a sparse file of 1 TiB.
func hostile(t *testing.T, path, kind string) {
	t.Helper()
	os.Remove(path)
	var err error
	switch kind {
	case "zero":
		err = os.Symlink("/dev/zero", path)
	case "fifo":
		err = syscall.Mkfifo(path, 0o644)
	case "folder":
		err = os.Mkdir(path, 0o755)
	case "sparse":
		if err = os.WriteFile(path, nil, 0o644); err == nil {
			err = os.Truncate(path, 1<<40)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}

var hostileKinds = map[string]error{"zero": regularfile.ErrNotRegular, "fifo": regularfile.ErrNotRegular,
	"folder": regularfile.ErrNotRegular, "sparse": regularfile.ErrTooLarge}

// within runs f, failing the test if it blocks (a named pipe waited on).
func within(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s blocked", what)
		return nil
	}
}

// TestReadersRefuseWhatIsNotARegularFileInBounds: status.json, metrics.csv
// and the CSV logs a run appends to, replaced by a link to /dev/zero, a
// named pipe, a folder or a 1 TiB sparse file, are refused at once in one
// line naming the file (and, when too large, the bound).
func TestReadersRefuseWhatIsNotARegularFileInBounds(t *testing.T) {
	for kind, want := range hostileKinds {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, StatusName)
			hostile(t, path, kind)
			check := func(what string, err error, bound int64) {
				t.Helper()
				if !errors.Is(err, want) || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "\n") ||
					(kind == "sparse" && !strings.Contains(err.Error(), regularfile.Size(bound))) {
					t.Errorf("%s: %v, want one line naming %s matching %v", what, err, path, want)
				}
			}
			check("ReadStatus", within(t, "ReadStatus", func() error { _, err := ReadStatus(dir); return err }), MaxStatusBytes)
			err := within(t, "Open", func() error { _, err := Open(dir, Options{ConfigID: "cfg-a"}); return err })
			if !errors.Is(err, ErrOtherRun) || !strings.Contains(err.Error(), path) {
				t.Errorf("Open: %v, want a refusal naming %s", err, path)
			}

			dir = t.TempDir()
			f := mustOpen(t, dir, Options{ConfigID: "cfg-a"})
			path = filepath.Join(dir, MetricsName)
			hostile(t, path, kind)
			check("ReadMetrics", within(t, "ReadMetrics", func() error { _, err := ReadMetrics(dir); return err }), MaxCSVBytes)
			err = within(t, "AppendCSV", func() error { _, err := f.AppendCSV(MetricsName, MetricsHeader()); return err })
			if kind != "folder" { // a folder is refused by the system's own error
				check("AppendCSV", err, MaxCSVBytes)
			} else if err == nil || !strings.Contains(err.Error(), path) {
				t.Errorf("AppendCSV: %v, want a refusal naming %s", err, path)
			}
		})
	}
}

// TestRunFolderWritesNoLinkedFile: a .lock or a CSV log that is a link to a
// file outside the folder is refused; the file it points to is unchanged.
func TestRunFolderWritesNoLinkedFile(t *testing.T) {
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	os.Mkdir(dir, 0o755)
	os.Symlink(victim, filepath.Join(dir, lockName))
	if _, err := Open(dir, Options{ConfigID: "cfg-a"}); !errors.Is(err, regularfile.ErrNotRegular) {
		t.Errorf("Open with a linked .lock: %v, want a refusal", err)
	}
	os.Remove(filepath.Join(dir, lockName))
	f := mustOpen(t, dir, Options{ConfigID: "cfg-a"})
	os.Symlink(victim, filepath.Join(dir, LayersName))
	if _, err := f.AppendCSV(LayersName, "iteration,a"); !errors.Is(err, regularfile.ErrNotRegular) {
		t.Errorf("AppendCSV to a link: %v, want a refusal", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("the linked file changed: %q", b)
	}
}

// TestStateThatIsNotARegularFileFallsBack: a state.bin replaced by a named
// pipe, a link to /dev/zero or a file over MaxStateBytes is set aside and
// the previous checkpoint used, with a note heard through Options.Note.
func TestStateThatIsNotARegularFileFallsBack(t *testing.T) {
	for kind := range hostileKinds {
		t.Run(kind, func(t *testing.T) {
			var heard []string
			s1, s2 := sampleState(25, 1), sampleState(50, 2)
			f := mustOpen(t, filepath.Join(t.TempDir(), "run"), Options{ConfigID: "cfg-a",
				StatePixels: s1.Width * s1.Height, Note: func(n string) { heard = append(heard, n) }})
			f.SaveState(s1)
			f.SaveState(s2)
			path := filepath.Join(f.Path(), stateName)
			hostile(t, path, kind)
			var got State
			err := within(t, "LoadState", func() (err error) { got, err = f.LoadState(); return err })
			if err != nil {
				t.Fatal(err)
			}
			sameState(t, got, s1)
			if n := strings.Join(heard, "\n"); !strings.Contains(n, path) || !strings.Contains(n, "resumed from the previous checkpoint") {
				t.Errorf("notes heard: %q", n)
			}
		})
	}
}

// TestMetricsReader: by column name, a torn last row left out, the line
// and column of a bad value named.
func TestMetricsReader(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, MetricsName)
	os.WriteFile(path, []byte("iteration,total,note\n0,5,a\n1,4,b\n2,3."), 0o644)
	m, err := ReadMetrics(dir)
	if err != nil {
		t.Fatal(err)
	}
	it, err1 := m.Column("iteration")
	total, err2 := m.Column("total")
	if m.Rows() != 2 || err1 != nil || err2 != nil || it[1] != 1 || total[0] != 5 || total[1] != 4 {
		t.Errorf("rows %d, iteration %v, total %v (%v %v)", m.Rows(), it, total, err1, err2)
	}
	if _, err := m.Column("note"); err == nil || !strings.Contains(err.Error(), path+": line 2, column note") {
		t.Errorf("non-numeric column: %v", err)
	}
	if _, err := m.Column("style"); err == nil || !strings.Contains(err.Error(), `no "style" column`) {
		t.Errorf("missing column: %v", err)
	}
	os.WriteFile(path, []byte("it,total\n0,1\n"), 0o644)
	if _, err := ReadMetrics(dir); err == nil || !strings.Contains(err.Error(), `no "iteration" column`) {
		t.Errorf("no iteration column: %v", err)
	}
}

// TestRunFolderThatIsALinkIsRefused: a run folder (or its replacement
// "<dir>.new") planted as a link to a folder elsewhere is refused; nothing
// is written there.
func TestRunFolderThatIsALinkIsRefused(t *testing.T) {
	elsewhere := t.TempDir()
	root := t.TempDir()
	dir := filepath.Join(root, "run")
	os.Symlink(elsewhere, dir)
	if _, err := Open(dir, Options{ConfigID: "cfg-a"}); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("Open of a linked run folder: %v, want a refusal", err)
	}
	os.Remove(dir)
	f := mustOpen(t, dir, Options{ConfigID: "cfg-a"})
	f.Finish()
	f.Close()
	os.Symlink(elsewhere, dir+".new")
	if _, err := Open(dir, Options{ConfigID: "cfg-b", Overwrite: true}); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("Open with a linked %s.new: %v, want a refusal", dir, err)
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Errorf("files written through the link: %v", entries)
	}
}
