package rundir

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrDiskFull is matched (errors.Is) by every write error caused by a full
// disk or an exhausted quota; the error text names the file.
var ErrDiskFull = errors.New("the disk is full")

type diskFullError struct {
	path string
	err  error // the system's error, kept for errors.Is(err, syscall.ENOSPC)
}

func (e *diskFullError) Error() string {
	return fmt.Sprintf("write %s: the disk is full (%v); free some space and resume", e.path, e.err)
}
func (e *diskFullError) Unwrap() error        { return e.err }
func (e *diskFullError) Is(target error) bool { return target == ErrDiskFull }

// writeError gives err the file's name, and a full disk its own message.
func writeError(path string, err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			err = errno // "no space left on device", without the temporary file's name
		}
		return &diskFullError{path: path, err: err}
	}
	return fmt.Errorf("write %s: %w", path, err)
}

// tmpPrefix marks temporary files; Open removes any a crash left behind.
const tmpPrefix = ".tmp-"

// checkName keeps every file a plain name inside the folder.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, os.PathSeparator) ||
		strings.HasPrefix(name, tmpPrefix) || name == lockName {
		return fmt.Errorf("run folder file name %q: want a plain file name", name)
	}
	return nil
}

// atomicWrite writes path's new version to a temporary file in the same
// folder, syncs it, renames it over path and syncs the folder: a crash at any
// moment leaves either the old or the new version, whole. before, if set,
// runs between the sync and the rename (SaveState keeps the previous state).
func atomicWrite(path string, write func(io.Writer) error, before func() error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, tmpPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return writeError(path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<16)
	if err := write(bw); err != nil {
		return writeError(path, err)
	}
	if err := bw.Flush(); err != nil {
		return writeError(path, err)
	}
	if err := tmp.Chmod(0o644); err != nil { // CreateTemp makes 0600; results are for sharing
		return writeError(path, err)
	}
	if err := tmp.Sync(); err != nil {
		return writeError(path, err)
	}
	if err := tmp.Close(); err != nil {
		return writeError(path, err)
	}
	if before != nil {
		if err := before(); err != nil {
			return writeError(path, err)
		}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return writeError(path, err)
	}
	if err := syncDir(dir); err != nil {
		return writeError(path, err)
	}
	return nil
}

// syncDir makes renames and new names in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// WriteFileAtomic writes data as path's new version the way a run folder
// writes its files (temporary file in the same folder, sync, rename, folder
// sync), for files that live outside one run folder: a sweep's summaries,
// contact sheet and batch script.
func WriteFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return writeError(path, err)
	}
	return atomicWrite(path, func(w io.Writer) error { _, err := w.Write(data); return err }, nil)
}
