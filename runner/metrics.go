package runner

import (
	"errors"
	"fmt"

	"github.com/styletransfer/gostyle/graphs"
	"github.com/styletransfer/gostyle/runner/plan"
	"github.com/styletransfer/gostyle/runner/rundir"
)

// recorder writes one row per loss evaluation: metrics.csv (iteration,
// losses, seconds, evaluations) and layers.csv (each used layer's weighted
// term, columns decided once from the layer plan).
type recorder struct {
	metrics, layers *rundir.CSV
	columns         []plan.Term
	coef            []float32 // the current scale's coefficient per column
}

// newRecorder opens (appends to) the run's two logs; layers.csv has a column
// per term of the plan.
func newRecorder(f *folder, terms []plan.Term) (*recorder, error) {
	r := &recorder{columns: terms}
	header := "iteration"
	for _, c := range terms {
		if c.Style {
			header += ",style_" + c.Layer
		} else {
			header += ",content_" + c.Layer
		}
	}
	r.coef = make([]float32, len(r.columns))
	var err error
	if r.metrics, err = f.AppendCSV(rundir.MetricsName, rundir.MetricsHeader()); err != nil {
		return nil, err
	}
	if r.layers, err = f.AppendCSV(rundir.LayersName, header); err != nil {
		r.metrics.Close()
		return nil, err
	}
	return r, nil
}

// useTargets takes the coefficients of a scale's targets.
func (r *recorder) useTargets(t *plan.ScaleTargets) {
	for i, c := range r.columns {
		if c.Style {
			r.coef[i] = t.StyleWeights[c.Index]
		} else {
			r.coef[i] = t.ContentWeights[c.Index]
		}
	}
}

// record writes one evaluation's rows (metrics.csv in rundir.MetricsColumns'
// order); it allocates nothing.
func (r *recorder) record(it, evals int, l *graphs.Losses, seconds, tfSeconds float64) error {
	r.metrics.Begin(it)
	for _, v := range [4]float32{l.Total, l.Content, l.Style, l.TV} {
		r.metrics.Float32(v)
	}
	r.metrics.Seconds(seconds)
	r.metrics.Int(evals)
	r.metrics.Seconds(tfSeconds)
	r.layers.Begin(it)
	for i, c := range r.columns {
		raw := l.ContentLayers[c.Index]
		if c.Style {
			raw = l.StyleLayers[c.Index]
		}
		r.layers.Float32(r.coef[i] * raw)
	}
	if err := errors.Join(r.metrics.End(), r.layers.End()); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// sync makes the rows durable (before a checkpoint's state is saved).
func (r *recorder) sync() error { return errors.Join(r.metrics.Sync(), r.layers.Sync()) }

// truncateAfter drops the rows after iteration it (resuming a checkpoint).
func (r *recorder) truncateAfter(it int) error {
	return errors.Join(r.metrics.TruncateAfter(it), r.layers.TruncateAfter(it))
}

func (r *recorder) close() error { return errors.Join(r.metrics.Close(), r.layers.Close()) }
