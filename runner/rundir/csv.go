package rundir

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/styletransfer/gostyle/runner/regularfile"
)

// CSV is a log appended by whole rows: each row is built in a reused buffer
// and written with one write call, so a killed process leaves whole rows and
// the per-iteration path allocates nothing. Use it as
//
//	c.Begin(it); c.Float32(loss); c.Seconds(t); err := c.End()
type CSV struct {
	path   string
	f      *os.File
	fields int    // columns of the header
	n      int    // columns of the row being built
	size   int64  // bytes of whole rows on disk
	buf    []byte // the row being built
	synced bool   // the file's name is durable (its folder synced)
}

// AppendCSV opens name for appending rows under header (comma-separated
// column names, the first being the iteration). An existing file must be a
// regular file (not a symbolic link) of at most MaxCSVBytes and have
// the same header; a torn last row (no newline, wrong column count, or a
// NUL-filled block after a power loss) is cut off, with a note.
func (f *Folder) AppendCSV(name, header string) (*CSV, error) {
	if err := f.usable(name); err != nil {
		return nil, err
	}
	if header == "" || strings.ContainsAny(header, "\n\r\"") {
		return nil, fmt.Errorf("%s: header %q: want comma-separated column names", name, header)
	}
	path := filepath.Join(f.path, name)
	file, err := regularfile.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if errors.Is(err, regularfile.ErrNotRegular) {
		return nil, err
	}
	if err != nil {
		return nil, writeError(path, err)
	}
	c := &CSV{path: path, f: file, fields: strings.Count(header, ",") + 1, buf: make([]byte, 0, 256)}
	data, err := readAll(file, path, MaxCSVBytes)
	if err != nil {
		file.Close()
		return nil, err
	}
	keep, dropped, err := c.wholeRows(data, header)
	if err != nil {
		file.Close()
		return nil, err
	}
	if keep < int64(len(data)) {
		if err := file.Truncate(keep); err != nil {
			file.Close()
			return nil, writeError(path, err)
		}
		if dropped > 0 {
			f.notef("repaired %s: cut off %d bytes of a torn last row", path, dropped)
		}
	}
	c.size = keep
	if keep == 0 {
		if _, err := file.Write([]byte(header + "\n")); err != nil {
			file.Truncate(0)
			file.Close()
			return nil, writeError(path, err)
		}
		c.size = int64(len(header) + 1)
	}
	return c, nil
}

// readAll reads the open file f, refusing one over limit bytes.
func readAll(f *os.File, path string, limit int64) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s: %s is %w of %s for this file", path, regularfile.Size(fi.Size()), regularfile.ErrTooLarge, regularfile.Size(limit))
	}
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, fi.Size()), data); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

// wholeRows returns the length of data's header and whole, well-formed rows
// (0 when the header itself is missing or torn) and how many bytes of rows
// follow them.
func (c *CSV) wholeRows(data []byte, header string) (keep, dropped int64, err error) {
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 || string(data[:nl]) != header {
		if strings.HasPrefix(header+"\n", string(data)) {
			return 0, 0, nil // empty, or a header torn while written: rewrite it
		}
		first := data
		if nl >= 0 {
			first = data[:nl]
		}
		return 0, 0, fmt.Errorf("%s has columns %q, this run writes %q: choose another output", c.path, first, header)
	}
	p := nl + 1
	for p < len(data) {
		end := bytes.IndexByte(data[p:], '\n')
		if end < 0 || !c.wellFormed(data[p:p+end]) {
			break
		}
		p += end + 1
	}
	return int64(p), int64(len(data) - p), nil
}

// wellFormed: the header's column count, an iteration first, no NUL.
func (c *CSV) wellFormed(row []byte) bool {
	if bytes.Count(row, []byte{','})+1 != c.fields || bytes.IndexByte(row, 0) >= 0 {
		return false
	}
	it, _, _ := bytes.Cut(row, []byte{','})
	_, err := strconv.Atoi(string(it))
	return err == nil
}

// Begin starts a row with the iteration number.
func (c *CSV) Begin(it int) {
	c.buf = strconv.AppendInt(c.buf[:0], int64(it), 10)
	c.n = 1
}

// Int adds an integer column.
func (c *CSV) Int(v int) {
	c.buf = strconv.AppendInt(append(c.buf, ','), int64(v), 10)
	c.n++
}

// Float32 adds a value with the shortest text that reads back exactly.
func (c *CSV) Float32(v float32) {
	c.buf = strconv.AppendFloat(append(c.buf, ','), float64(v), 'g', -1, 32)
	c.n++
}

// Float64 adds a value with the shortest text that reads back exactly.
func (c *CSV) Float64(v float64) {
	c.buf = strconv.AppendFloat(append(c.buf, ','), v, 'g', -1, 64)
	c.n++
}

// Seconds adds a duration in seconds, to the tenth of a millisecond.
func (c *CSV) Seconds(v float64) {
	c.buf = strconv.AppendFloat(append(c.buf, ','), v, 'f', 4, 64)
	c.n++
}

// End writes the row with one write call. A row with the wrong number of
// columns is refused; a failed write (disk full) is cut back off, so the
// file keeps whole rows only.
func (c *CSV) End() error {
	if c.f == nil {
		return fmt.Errorf("write %s: closed", c.path)
	}
	if c.n != c.fields {
		return fmt.Errorf("write %s: row has %d columns, the header %d", c.path, c.n, c.fields)
	}
	c.buf = append(c.buf, '\n')
	n, err := c.f.Write(c.buf)
	if err != nil {
		if n > 0 {
			c.f.Truncate(c.size)
		}
		return writeError(c.path, err)
	}
	c.size += int64(n)
	return nil
}

// Sync makes the rows written so far durable; call it at each checkpoint,
// before SaveState, so the state never runs ahead of its log.
func (c *CSV) Sync() error {
	if c.f == nil {
		return fmt.Errorf("sync %s: closed", c.path)
	}
	if err := c.f.Sync(); err != nil {
		return writeError(c.path, err)
	}
	if !c.synced {
		if err := syncDir(filepath.Dir(c.path)); err != nil {
			return writeError(c.path, err)
		}
		c.synced = true
	}
	return nil
}

// TruncateAfter keeps the rows of iterations up to and including it and
// drops the rest, so that a resumed run writes them again, exactly once.
// Pass the last iteration whose row was written before the checkpoint it
// resumes from was saved (that is State.Iteration-1 when the loop saves the
// state after stepping past the last recorded row).
func (c *CSV) TruncateAfter(it int) error {
	if c.f == nil {
		return fmt.Errorf("truncate %s: closed", c.path)
	}
	data := make([]byte, c.size)
	if _, err := c.f.ReadAt(data, 0); err != nil {
		return fmt.Errorf("read %s: %w", c.path, err)
	}
	p := bytes.IndexByte(data, '\n') + 1 // after the header
	for p < len(data) {
		end := bytes.IndexByte(data[p:], '\n')
		first, _, _ := bytes.Cut(data[p:p+end], []byte{','})
		if n, err := strconv.Atoi(string(first)); err != nil || n > it {
			break
		}
		p += end + 1
	}
	if int64(p) == c.size {
		return nil
	}
	if err := c.f.Truncate(int64(p)); err != nil {
		return writeError(c.path, err)
	}
	c.size = int64(p)
	return c.Sync()
}

// Close syncs and closes the file.
func (c *CSV) Close() error {
	if c.f == nil {
		return nil
	}
	err := c.Sync()
	if cerr := c.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close %s: %w", c.path, cerr)
	}
	c.f = nil
	return err
}
