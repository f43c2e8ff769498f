// Package report draws the pictures a finished (or running) run leaves for
// people to judge it by: loss.png, the losses against iteration, and
// compare.png, the content, style and result side by side. It reads only
// what a run folder holds (metrics.csv, PNGs) and writes to an io.Writer,
// so the caller decides where the bytes go and writes them atomically.
package report

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/styletransfer/gostyle/runner/rundir"
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
	Series    []Series // in LossColumns order, only the columns the file has
}

// ReadMetrics reads a metrics.csv (rundir.DecodeMetrics) by column name:
// "iteration" is required, the columns of LossColumns are taken where
// present and any other column is ignored. A last line without its newline
// is left out rather than refused: a running loop may be half-way through
// writing it.
func ReadMetrics(r io.Reader) (*Metrics, error) {
	rm, err := rundir.DecodeMetrics(r, "metrics")
	if err != nil {
		return nil, err
	}
	m := &Metrics{}
	if m.Iteration, err = rm.Column("iteration"); err != nil {
		return nil, err
	}
	for _, name := range LossColumns {
		if rm.Has(name) {
			v, err := rm.Column(name)
			if err != nil {
				return nil, err
			}
			m.Series = append(m.Series, Series{Name: name, Values: v})
		}
	}
	if len(m.Series) == 0 {
		return nil, fmt.Errorf("metrics: none of the columns %s in header %q", strings.Join(LossColumns, ", "), strings.Join(rm.Columns, ","))
	}
	return m, nil
}

// positive reports whether v can go on a log scale.
func positive(v float64) bool { return v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v) }
