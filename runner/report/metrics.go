// Package report draws the pictures a finished (or running) run leaves for
// people to judge it by: loss.png, the losses against iteration, and
// compare.png, the content, style and result side by side. It reads only
// what a run folder holds (metrics.csv, PNGs) and writes to an io.Writer,
// so the caller decides where the bytes go and writes them atomically.
package report

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// LossColumns are the metrics.csv columns plotted, in legend order.
var LossColumns = []string{"total", "content", "style", "tv"}

// Series is one loss column of metrics.csv.
type Series struct {
	Name   string
	Values []float64 // one per row of Metrics.Iteration
}

// Metrics is the part of metrics.csv the pictures use: iterations and the
// loss columns present, by name.
type Metrics struct {
	Iteration []float64
	Series    []Series  // in LossColumns order, only the columns the file has
	Seconds   []float64 // the seconds column (elapsed), one per row; nil if the file has none
}

// ReadMetrics reads a metrics.csv by column name: "iteration" is required,
// the columns of LossColumns are taken where present and any other column is
// ignored. A last line without its newline is left out rather than refused:
// a running loop may be half-way through writing it.
func ReadMetrics(r io.Reader) (*Metrics, error) {
	return readColumns(r, "metrics", func(header []string) []string {
		var cols []string
		for _, name := range LossColumns {
			if slices.Contains(header, name) {
				cols = append(cols, name)
			}
		}
		return cols
	})
}

// ReadLayers reads a layers.csv, each used layer's weighted content or
// style term per row (content_conv4_2, style_conv1_1, ...): every column
// but "iteration" is a series, in the file's order.
func ReadLayers(r io.Reader) (*Metrics, error) {
	return readColumns(r, "layers", func(header []string) []string {
		return slices.DeleteFunc(slices.Clone(header), func(h string) bool { return h == "iteration" })
	})
}

// readColumns reads the iteration column, the columns choose picks from the
// header (as series) and the seconds column where there is one. Errors name
// the file kind and the line, and quote no field.
func readColumns(r io.Reader, kind string, choose func(header []string) []string) (*Metrics, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i+1]
	} else {
		data = nil
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: no header line", kind)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", kind, err)
	}
	header = slices.Clone(header)
	index := map[string]int{}
	for i, h := range header {
		header[i] = strings.TrimSpace(h)
		index[header[i]] = i
	}
	iterCol, ok := index["iteration"]
	if !ok {
		return nil, fmt.Errorf("%s: no %q column in its header", kind, "iteration")
	}
	m := &Metrics{}
	var cols []int
	for _, name := range choose(header) {
		cols = append(cols, index[name])
		m.Series = append(m.Series, Series{Name: name})
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("%s: no loss columns in its header", kind)
	}
	secCol, hasSeconds := index["seconds"]
	num := func(rec []string, col int, name string) (float64, error) {
		v, err := strconv.ParseFloat(strings.TrimSpace(rec[col]), 64)
		if err != nil {
			line, _ := cr.FieldPos(0)
			return 0, fmt.Errorf("%s: line %d, column %s: not a number", kind, line, name)
		}
		return v, nil
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return m, nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("%s: line %d: %w", kind, pe.Line, pe.Err)
			}
			return nil, fmt.Errorf("%s: %w", kind, err)
		}
		it, err := num(rec, iterCol, "iteration")
		if err != nil {
			return nil, err
		}
		for k, c := range cols {
			v, err := num(rec, c, m.Series[k].Name)
			if err != nil {
				return nil, err
			}
			m.Series[k].Values = append(m.Series[k].Values, v)
		}
		m.Iteration = append(m.Iteration, it)
		if hasSeconds {
			sec, err := num(rec, secCol, "seconds")
			if err != nil {
				return nil, err
			}
			m.Seconds = append(m.Seconds, sec)
		}
	}
}

// positive reports whether v can go on a log scale.
func positive(v float64) bool { return v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v) }
