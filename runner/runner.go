// Package runner runs one style-transfer experiment: it prepares the
// pictures and decides the layers once, computes the targets (per scale),
// drives the optimizer over the model's loss-and-gradient signature, and
// writes the run folder (resolved config, metrics, checkpoints, final picture).
//
// Files: prepare.go (pictures, sizes, layers decided once), normalize.go
// (the named loss normalisations), targets.go (target features, blended
// Grams and coefficients, per scale), tv.go (TV coefficients), start.go
// (start image, upsampling between scales), folder.go (the run folder, on
// runner/rundir), metrics.go (metrics and layer columns), tile.go (which
// picture sizes run in exact tiles, and of what side: keys tile and
// max_memory), loop.go (per scale: evaluate, check, record, step,
// checkpoint; resume; finish).
package runner

import (
	"context"
	"io"

	"github.com/styletransfer/gostyle/graphs"
	"github.com/styletransfer/gostyle/runner/config"
	"github.com/styletransfer/gostyle/runner/progress"
)

// Result describes a finished (or interrupted) run.
type Result struct {
	Dir         string // the run folder
	Final       string // path of the final picture
	Iterations  int    // iterations completed (all scales)
	Evaluations int    // loss-and-gradient evaluations
	Interrupted bool   // stopped early by the context
	Initial     graphs.Losses
	Last        graphs.Losses
	Seconds     float64 // optimisation wall time
	// PerIteration is the steady pace: seconds per iteration after the first
	// evaluation, which also pays for TensorFlow's one-off graph optimisation.
	PerIteration float64
}

// Run executes cfg on model. Bad input is reported before the run folder is
// created. The folder (runner/rundir) is locked while the run writes it, its
// status.json says done only once every output is final, and an unfinished
// run of the same config resumes from its last checkpoint (a folder resumes
// where it is: -resume points the config at it). A sweep calls RunWith once
// per point with one shared model.
func Run(ctx context.Context, cfg config.Config, model *graphs.Model, log io.Writer) (*Result, error) {
	return RunWith(ctx, cfg, model, progress.New(log, progress.Options{Every: cfg.LogEvery, Terminal: progress.Never}))
}

// RunWith is Run reporting through rep: a progress bar on a terminal, slog
// lines elsewhere (see runner/progress).
func RunWith(ctx context.Context, cfg config.Config, model *graphs.Model, rep *progress.Reporter) (res *Result, err error) {
	ex, err := prepare(cfg, model)
	if err != nil {
		return nil, err
	}
	log := rep.Logger()
	if note := cropNote(cfg, ex.content, ex.scales[len(ex.scales)-1]); note != "" {
		log.Warn(note)
	}
	f, err := openFolder(ex, log)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Fail(err)
		}
		if cerr := f.Close(); err == nil && cerr != nil {
			res, err = nil, cerr
		}
	}()
	r, err := newRun(ex, f, rep)
	if err != nil {
		return nil, err
	}
	defer rep.Finish()
	defer r.rec.close()
	first, err := r.resume()
	if err != nil {
		return nil, err
	}
	for i := first; i < len(ex.scales) && !r.res.Interrupted; i++ {
		if err := r.scale(ctx, i); err != nil {
			return nil, err
		}
	}
	return r.finish()
}
