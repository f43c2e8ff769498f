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
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
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
		return nil, errors.New("metrics: no header line")
	}
	if err != nil {
		return nil, fmt.Errorf("metrics: header: %w", err)
	}
	index := map[string]int{}
	for i, h := range header {
		index[strings.TrimSpace(h)] = i
	}
	iterCol, ok := index["iteration"]
	if !ok {
		return nil, fmt.Errorf("metrics: no %q column in header %q", "iteration", strings.Join(header, ","))
	}
	m := &Metrics{}
	var cols []int
	for _, name := range LossColumns {
		if i, ok := index[name]; ok {
			cols = append(cols, i)
			m.Series = append(m.Series, Series{Name: name})
		}
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("metrics: none of the columns %s in header %q", strings.Join(LossColumns, ", "), strings.Join(header, ","))
	}
	secCol, hasSeconds := index["seconds"]
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return m, nil
		}
		if err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
		line, _ := cr.FieldPos(0)
		it, err := strconv.ParseFloat(strings.TrimSpace(rec[iterCol]), 64)
		if err != nil {
			return nil, fmt.Errorf("metrics: line %d, column iteration: %w", line, err)
		}
		for k, c := range cols {
			v, err := strconv.ParseFloat(strings.TrimSpace(rec[c]), 64)
			if err != nil {
				return nil, fmt.Errorf("metrics: line %d, column %s: %w", line, m.Series[k].Name, err)
			}
			m.Series[k].Values = append(m.Series[k].Values, v)
		}
		m.Iteration = append(m.Iteration, it)
		if hasSeconds {
			sec, err := strconv.ParseFloat(strings.TrimSpace(rec[secCol]), 64)
			if err != nil {
				return nil, fmt.Errorf("metrics: line %d, column seconds: %w", line, err)
			}
			m.Seconds = append(m.Seconds, sec)
		}
	}
}

// positive reports whether v can go on a log scale.
func positive(v float64) bool { return v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v) }
