package live

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"
)

// An output folder can hold whatever someone put there, so the viewer reads
// it through an os.Root: no path it opens, whatever the links or ../ names
// in it, resolves outside the watched root. On top of that it opens only
// regular files (a link as the last component, a FIFO or a device is
// refused, even one pointing inside the root), opens them without blocking
// (a FIFO swapped in after the check cannot hang a request), and reads each
// within a stated bound. Errors name the file and the reason, never its
// contents.

// Bounds on what the viewer reads.
const (
	maxMetricsBytes = 64 << 20  // metrics.csv, layers.csv
	maxTextBytes    = 1 << 20   // config.yaml, model.json, summary.json
	maxPictureBytes = 512 << 20 // a PNG served or scaled (a 24 MP 16-bit PNG is about 150 MB)
)

// errNotRegular is the refusal of anything but a regular file.
var errNotRegular = errors.New("not a regular file")

// tree is one watched root, opened as an os.Root once it exists.
type tree struct {
	path string

	mu   sync.Mutex
	root *os.Root // nil until the folder exists
}

// open returns the root, opening it the first time the folder exists.
func (t *tree) open() (*os.Root, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.root != nil {
		return t.root, nil
	}
	r, err := os.OpenRoot(t.path)
	if err != nil {
		return nil, err
	}
	t.root = r
	return r, nil
}

func (t *tree) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.root != nil {
		t.root.Close()
		t.root = nil
	}
}

// openRegular opens name (slash-separated, relative to root) for reading if
// it is a regular file of at most max bytes.
func openRegular(root *os.Root, name string, max int64) (*os.File, fs.FileInfo, error) {
	if fi, err := root.Lstat(name); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, pathless(err))
	} else if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s: %w", name, errNotRegular)
	}
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, pathless(err))
	}
	fi, err := f.Stat() // the file opened, whatever the name points at now
	switch {
	case err != nil:
		err = pathless(err)
	case !fi.Mode().IsRegular():
		err = errNotRegular
	case fi.Size() > max:
		err = fmt.Errorf("larger than %d MiB", max>>20)
	}
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, fi, nil
}

// readRegular reads name whole if it is a regular file of at most max bytes.
func readRegular(root *os.Root, name string, max int64) ([]byte, error) {
	f, _, err := openRegular(root, name, max)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1)) // it may grow after the check
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, pathless(err))
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: larger than %d MiB", name, max>>20)
	}
	return b, nil
}

// isRegular reports whether name is a regular file (not a link to one).
func isRegular(root *os.Root, name string) bool {
	fi, err := root.Lstat(name)
	return err == nil && fi.Mode().IsRegular()
}

// pathless drops the path from a *PathError, which the caller names itself.
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
