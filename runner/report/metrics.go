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
	"slices"

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
	Series    []Series  // in LossColumns order, only the columns the file has
	Seconds   []float64 // the seconds column (elapsed), one per row; nil if the file has none
}

// ReadMetrics reads a metrics.csv (rundir.DecodeMetrics) by column name:
// "iteration" is required, the columns of LossColumns are taken where
// present and any other column is ignored. A last line without its newline
// is left out rather than refused: a running loop may be half-way through
// writing it.
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

// readColumns reads, through rundir's one reader of its CSV logs, the
// iteration column, the columns choose picks from the header (as series)
// and the seconds column where there is one. Errors name the file kind and
// the line, and quote no field.
func readColumns(r io.Reader, kind string, choose func(header []string) []string) (*Metrics, error) {
	rm, err := rundir.DecodeMetrics(r, kind)
	if err != nil {
		return nil, err
	}
	m := &Metrics{}
	if m.Iteration, err = rm.Column("iteration"); err != nil {
		return nil, err
	}
	for _, name := range choose(rm.Columns) {
		v, err := rm.Column(name)
		if err != nil {
			return nil, err
		}
		m.Series = append(m.Series, Series{Name: name, Values: v})
	}
	if len(m.Series) == 0 {
		return nil, fmt.Errorf("%s: no loss columns in its header", kind)
	}
	if rm.Has("seconds") {
		if m.Seconds, err = rm.Column("seconds"); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// positive reports whether v can go on a log scale.
func positive(v float64) bool { return v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v) }
