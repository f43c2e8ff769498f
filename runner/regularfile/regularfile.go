// Package regularfile opens and reads files that anyone may have put in
// place: only regular files (a symbolic link is followed to one), and, for
// Read, only up to a stated number of bytes. A named pipe is refused
// without blocking, a device (/dev/zero) without reading it, a folder
// without listing it, and a file over the bound (a sparse file of any
// size included) before any of it is read.
package regularfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ErrNotRegular is matched (errors.Is) by the error for a path that is not
// a regular file: a folder, a named pipe, a device or a socket.
var ErrNotRegular = errors.New("only regular files are read")

// ErrTooLarge is matched (errors.Is) by Read's error for a file over its bound.
var ErrTooLarge = errors.New("over the size bound")

// Open opens path for reading if it is a regular file. It never blocks on
// a named pipe: the kind is checked before opening (a device is not
// opened) and again on the opened file (a path swapped in between is
// refused; O_NONBLOCK keeps a pipe swapped in from blocking the open).
// Errors name the path; a missing file matches fs.ErrNotExist.
func Open(path string) (*os.File, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if pe, ok := err.(*fs.PathError); ok {
			pe.Op = "open" // as os.Open says it: "open PATH: no such file or directory"
		}
		return nil, err
	}
	if err := regular(path, fi); err != nil {
		return nil, err
	}
	// O_NONBLOCK: if a named pipe replaced the file since Stat, opening it
	// returns at once instead of waiting for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	if fi, err = f.Stat(); err == nil {
		err = regular(path, fi)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// OpenFile opens (or, with os.O_CREATE, creates) path with flag for
// writing as well as reading, if it is a regular file. A symbolic link is
// not followed, so what is written lies where it is named, not wherever a
// link points; a named pipe does not block.
func OpenFile(path string, flag int, perm fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_NOCTTY, perm)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("%s is a symbolic link: %w", path, ErrNotRegular)
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil {
		err = regular(path, fi)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Read returns the content of the regular file path, refusing one of more
// than limit bytes (counted before reading and while reading, for a file
// that grows). The error is one line naming the file and the bound.
func Read(path string, limit int64) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > limit {
		return nil, tooLarge(path, fi.Size(), limit)
	}
	buf := bytes.NewBuffer(make([]byte, 0, fi.Size()+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, err // *fs.PathError naming path
	}
	if n := int64(buf.Len()); n > limit {
		return nil, tooLarge(path, n, limit)
	}
	return buf.Bytes(), nil
}

// Size formats a byte count for messages: "64 KiB", "1.5 GiB", "312 bytes".
func Size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	v, suffix := float64(n), ""
	for _, s := range []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"} {
		v, suffix = v/unit, s
		if v < unit {
			break
		}
	}
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d %s", int64(v), suffix)
	}
	return fmt.Sprintf("%.1f %s", v, suffix)
}

func tooLarge(path string, size, limit int64) error {
	return fmt.Errorf("%s: %s is %w of %s for this file", path, atLeast(size, limit), ErrTooLarge, Size(limit))
}

// atLeast is the size read, or "more than" the bound while still reading.
func atLeast(size, limit int64) string {
	if size == limit+1 {
		return "more than " + Size(limit)
	}
	return Size(size)
}

func regular(path string, fi fs.FileInfo) error {
	m := fi.Mode()
	var kind string
	switch {
	case m.IsRegular():
		return nil
	case m.IsDir():
		kind = "a folder"
	case m&fs.ModeNamedPipe != 0:
		kind = "a named pipe"
	case m&fs.ModeCharDevice != 0:
		kind = "a character device"
	case m&fs.ModeDevice != 0:
		kind = "a block device"
	case m&fs.ModeSocket != 0:
		kind = "a socket"
	default:
		kind = "not a plain file"
	}
	return fmt.Errorf("%s is %s: %w", path, kind, ErrNotRegular)
}
