package rundir

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/styletransfer/gostyle/runner/regularfile"
)

// Metrics is a metrics.csv read back: its header and whole rows, read by
// column name so that columns added later break no reader.
type Metrics struct {
	name    string // for errors: the file, or what the caller called it
	Columns []string
	rows    [][]string
	lines   []int // each row's line in the file
}

// ReadMetrics reads dir's metrics.csv, a regular file of at most
// MaxCSVBytes (see DecodeMetrics). A missing file matches fs.ErrNotExist.
func ReadMetrics(dir string) (*Metrics, error) {
	path := filepath.Join(dir, MetricsName)
	data, err := regularfile.Read(path, MaxCSVBytes)
	if err != nil {
		return nil, err
	}
	return parseMetrics(data, path)
}

// DecodeMetrics reads a metrics.csv from r (at most MaxCSVBytes of it);
// name says what it is in errors. The header must name an "iteration"
// column. A last line without its newline is left out rather than refused:
// a running loop may be half-way through writing it.
func DecodeMetrics(r io.Reader, name string) (*Metrics, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxCSVBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > MaxCSVBytes {
		return nil, fmt.Errorf("%s: more than %s is %w of %s for this file", name, regularfile.Size(MaxCSVBytes), regularfile.ErrTooLarge, regularfile.Size(MaxCSVBytes))
	}
	return parseMetrics(data, name)
}

func parseMetrics(data []byte, name string) (*Metrics, error) {
	m := &Metrics{name: name}
	data = data[:bytes.LastIndexByte(data, '\n')+1] // whole lines only
	cr := csv.NewReader(bytes.NewReader(data))
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: no header line", name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", name, err)
	}
	for _, h := range header {
		m.Columns = append(m.Columns, strings.TrimSpace(h))
	}
	if !slices.Contains(m.Columns, "iteration") {
		return nil, fmt.Errorf("%s: no %q column in its header", name, "iteration")
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return m, nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) { // its message names the line, not the field
				return nil, fmt.Errorf("%s: line %d: %w", name, pe.Line, pe.Err)
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		m.rows, m.lines = append(m.rows, rec), append(m.lines, line)
	}
}

// Rows is the number of whole rows.
func (m *Metrics) Rows() int { return len(m.rows) }

// Has reports whether the header names column.
func (m *Metrics) Has(column string) bool { return slices.Contains(m.Columns, column) }

// Column is the named column's values, one per row; the error names the
// file, and the line and column of a value that is not a number.
func (m *Metrics) Column(column string) ([]float64, error) {
	c := slices.Index(m.Columns, column)
	if c < 0 {
		return nil, fmt.Errorf("%s: no %q column in its header", m.name, column)
	}
	out := make([]float64, len(m.rows))
	for i, rec := range m.rows {
		v, err := strconv.ParseFloat(strings.TrimSpace(rec[c]), 64)
		if err != nil {
			// not err: strconv's message quotes the field, and a file in an
			// output folder may be a link to anything
			return nil, fmt.Errorf("%s: line %d, column %s: not a number", m.name, m.lines[i], column)
		}
		out[i] = v
	}
	return out, nil
}
