// Package runner runs one style-transfer experiment: it takes the plan of
// the experiment (runner/plan: pictures, layers, sizes, tiling, targets,
// decided before anything is written), opens the run folder (on
// runner/rundir) and drives the optimizer over the model's
// loss-and-gradient signature, scale by scale.
//
// Files, top down: runner.go (Run, RunWith), loop.go (per scale: start,
// targets, evaluate, check, record, step, checkpoint; resume; finish), then
// what the loop uses: evaluator.go (untiled or in exact tiles, as the plan
// says), metrics.go (metrics.csv and layers.csv rows), folder.go (the run
// folder's pictures, record and report), result.go (Result).
package runner

import (
	"context"
	"io"

	"github.com/styletransfer/gostyle/graphs"
	"github.com/styletransfer/gostyle/runner/config"
	"github.com/styletransfer/gostyle/runner/plan"
	"github.com/styletransfer/gostyle/runner/progress"
)

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
	ex, err := plan.Prepare(cfg, model)
	if err != nil {
		return nil, err
	}
	log := rep.Logger()
	if note := ex.CropNote(); note != "" {
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
	for i := first; i < len(ex.Scales()) && !r.res.Interrupted; i++ {
		if err := r.scale(ctx, i); err != nil {
			return nil, err
		}
	}
	return r.finish()
}
