package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"time"

	"github.com/styletransfer/gostyle/graphs"
	"github.com/styletransfer/gostyle/runner/config"
	"github.com/styletransfer/gostyle/runner/optim"
	"github.com/styletransfer/gostyle/runner/picture"
	"github.com/styletransfer/gostyle/runner/plan"
	"github.com/styletransfer/gostyle/runner/progress"
	"github.com/styletransfer/gostyle/runner/rundir"
)

// run is the state of a run across its scales.
type run struct {
	ex        *plan.Experiment
	cfg       config.Config // ex's
	f         *folder
	rec       *recorder
	rep       *progress.Reporter
	log       *slog.Logger
	res       Result
	losses    graphs.Losses
	it        int // iterations completed, all scales
	evals     int // loss-and-gradient evaluations
	total     int // iterations planned, all scales
	start     time.Time
	first     float64         // seconds the first evaluation took
	x         *picture.Tensor // the picture being optimised
	content   *picture.Tensor // this scale's content (preserve_colors)
	resumed   *rundir.State   // the checkpoint to resume the first scale from
	offset    float64         // seconds spent before a resume
	gradBad   bool            // the last gradient held NaN or Inf
	tfSeconds float64         // seconds inside TensorFlow's run call, all evaluations
}

// finite reports whether every value is a number: x-x is 0 for finite x
// and NaN for NaN and the infinities.
func finite(v []float32) bool {
	var acc float32
	for _, x := range v {
		acc += x - x
	}
	return acc == 0
}

// newRun opens the run's logs and says what runs: the model and the plan.
func newRun(ex *plan.Experiment, f *folder, rep *progress.Reporter) (*run, error) {
	rec, err := newRecorder(f, ex.Terms())
	if err != nil {
		return nil, err
	}
	log, cfg, model := rep.Logger(), ex.Config(), ex.Model()
	r := &run{ex: ex, cfg: cfg, f: f, rec: rec, rep: rep, log: log, total: ex.IterationsBefore(len(ex.Scales())), res: Result{Dir: ex.Dir()}}
	log.Info("model", "weights", model.Meta.Describe(), "device", model.Device, "conv_gradient", model.ConvGradient())
	if note := model.VersionNote(); note != "" {
		log.Warn(note)
	}
	last := ex.Output()
	log.Info("run", "dir", ex.Dir(), "size", fmt.Sprintf("%dx%d", last.Width, last.Height), "iterations", r.total,
		"optimizer", cfg.Optimizer, "normalization", cfg.Normalization)
	rep.Start(filepath.Base(ex.Dir()), r.total)
	return r, nil
}

// scale prepares scale i (pictures, start, targets on the one model) and
// runs the loop on it.
func (r *run) scale(ctx context.Context, i int) error {
	ex, scales := r.ex, r.ex.Scales()
	sz := scales[i]
	content, styles := ex.Pictures(sz)
	if err := r.startScale(i, sz, content); err != nil {
		return err
	}
	if i == len(scales)-1 {
		if err := r.saveInputs(content, styles); err != nil {
			return err
		}
	}
	t, err := ex.Targets(content, styles)
	if err != nil {
		return err
	}
	eval, err := newEvaluator(ex, sz, t, r.log, func() int { return r.it })
	if err != nil {
		return err
	}
	r.rec.useTargets(t)
	if len(scales) > 1 {
		r.log.Info("scale", "scale", fmt.Sprintf("%d/%d", i+1, len(scales)), "size", fmt.Sprintf("%dx%d", sz.Width, sz.Height))
	}
	opt, err := r.newOptimizer(len(r.x.Data))
	if err != nil {
		return err
	}
	if err := r.optimise(ctx, eval, t, opt, ex.IterationsBefore(i+1), i); err != nil {
		return err
	}
	if len(scales) > 1 {
		return r.save(fmt.Sprintf("scale_%dx%d.png", sz.Width, sz.Height), r.x.Data)
	}
	return nil
}

// startScale sets the picture scale i starts from: the checkpoint resumed,
// the plan's start picture (saved as initial.png), or the coarser scale's
// result upsampled.
func (r *run) startScale(i int, sz plan.Size, content *picture.Tensor) error {
	var x []float32
	switch {
	case r.resumed != nil:
		if r.resumed.Width != sz.Width || r.resumed.Height != sz.Height {
			return fmt.Errorf("resume: checkpoint picture is %dx%d, scale %d is %dx%d", r.resumed.Width, r.resumed.Height, i+1, sz.Width, sz.Height)
		}
		x = r.resumed.Image
	case i == 0:
		x = r.ex.StartImage(content)
	default:
		x = r.ex.Upsample(r.x, sz.Width, sz.Height)
	}
	r.x, r.content = &picture.Tensor{Width: sz.Width, Height: sz.Height, Data: x}, content
	if i == 0 && r.resumed == nil {
		return r.f.save(rundir.InitialName, r.x)
	}
	return nil
}

// newOptimizer is the config's optimizer for n values, restored from the
// checkpoint when the run resumes.
func (r *run) newOptimizer(n int) (optim.Optimizer, error) {
	cfg := r.cfg
	var opt optim.Optimizer = optim.AdamLoop{Adam: optim.NewAdam(n, cfg.LearningRate, cfg.Beta1, cfg.Beta2, cfg.Epsilon)}
	if cfg.Optimizer == "lbfgs" {
		opt = optim.NewLBFGS(n, cfg.LBFGSMemory, cfg.MaxEvaluations)
	}
	if r.resumed != nil {
		st := r.resumed.Optimizer
		if err := opt.Restore(optim.State{Name: st.Name, Vectors: st.Vectors, Scalars: st.Scalars}); err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
		r.resumed = nil
	}
	return opt, nil
}

// optimise is the loop, as the paper reads: evaluate, check, record, step,
// checkpoint, until iteration end (or the context ends). The picture left
// in x is the optimizer's accepted point, evaluated in the last row.
func (r *run) optimise(ctx context.Context, eval evaluator, t *plan.ScaleTargets, opt optim.Optimizer, end, scale int) error {
	x := r.x.Data
	grad := make([]float32, len(x))
	settled, stalled := false, false
	if r.evals == 0 || r.start.IsZero() {
		r.start = time.Now().Add(-time.Duration(r.offset * float64(time.Second)))
	}
	for {
		if err := eval.Evaluate(x, grad, &r.losses); err != nil {
			return fmt.Errorf("iteration %d: %w", r.it, err)
		}
		r.gradBad = !finite(grad)
		t.Adjust(&r.losses)
		r.evals++
		if err := r.check(); err != nil {
			return err
		}
		if err := r.record(end); err != nil {
			return err
		}
		if r.it == end || stalled || ctx.Err() != nil {
			if !settled && opt.Settle(x) {
				settled = true // evaluate the accepted point once more
				continue
			}
			if r.it < end && ctx.Err() != nil {
				r.res.Interrupted = true
				r.log.Warn("interrupted: saving a checkpoint to resume from", "iterations", r.it)
				return r.checkpoint(x, opt, scale, r.evals-1) // resumes here, redoing this row
			}
			return nil
		}
		done, err := opt.Step(x, r.losses.Total, grad)
		if errors.Is(err, optim.ErrStalled) {
			r.log.Warn("stopping this scale", "iteration", r.it, "reason", err.Error())
			stalled = true
			continue
		}
		if err != nil {
			return fmt.Errorf("iteration %d: %w", r.it, err)
		}
		if !done {
			continue
		}
		r.it++
		if r.it == end {
			opt.Settle(x) // L-BFGS: back to the accepted point, evaluated in the last row
		}
		if err := r.checkpointEvery(x, opt, scale); err != nil {
			return err
		}
	}
}

// checkpointEvery writes, every checkpoint_every iterations, the picture as
// styled_NNNN.png and the state to resume from.
func (r *run) checkpointEvery(x []float32, opt optim.Optimizer, scale int) error {
	if every := r.cfg.CheckpointEvery; every <= 0 || r.it%every != 0 {
		return nil
	}
	name := rundir.CheckpointName(r.it)
	if err := r.save(name, opt.Current(x)); err != nil {
		return err
	}
	r.log.Info("checkpoint", "file", name)
	return r.checkpoint(opt.Current(x), opt, scale, r.evals)
}

// checkpoint saves the state to resume from: the picture at iteration r.it
// (not yet evaluated), the optimizer's state and the counters (evals: the
// evaluations before that picture's). The logs are
// synced first so the state never runs ahead of them.
func (r *run) checkpoint(x []float32, opt optim.Optimizer, scale, evals int) error {
	if err := r.rec.sync(); err != nil {
		return err
	}
	st := opt.State()
	return r.f.SaveState(rundir.State{Iteration: r.it, Width: r.x.Width, Height: r.x.Height, Image: x,
		Optimizer: rundir.Optimizer{Name: st.Name, Vectors: st.Vectors, Scalars: st.Scalars},
		Extra: map[string]float64{"scale": float64(scale), "evaluations": float64(evals), "seconds": time.Since(r.start).Seconds(), "tf_seconds": r.tfSeconds,
			"initial_total": float64(r.res.Initial.Total)}})
}

// resume reads the checkpoint of an unfinished run of the same config, drops
// the log rows after it and returns the scale to start from.
func (r *run) resume() (int, error) {
	if !r.f.Resumable() {
		return 0, nil
	}
	st, err := r.f.LoadState()
	if errors.Is(err, rundir.ErrNoState) {
		return 0, r.rec.truncateAfter(-1) // no checkpoint: start over
	}
	if err != nil {
		return 0, fmt.Errorf("resume: %w", err)
	}
	if err := r.rec.truncateAfter(st.Iteration - 1); err != nil {
		return 0, err
	}
	r.resumed, r.it = &st, st.Iteration
	r.evals, r.offset, r.tfSeconds = int(st.Extra["evaluations"]), st.Extra["seconds"], st.Extra["tf_seconds"]
	r.res.Initial.Total = float32(st.Extra["initial_total"])
	r.log.Info("resuming", "dir", r.ex.Dir(), "iteration", st.Iteration)
	return int(st.Extra["scale"]), nil
}

// check stops a run whose numbers went wrong, naming the iteration and the
// likely cause; the run folder keeps its last good checkpoint.
func (r *run) check() error {
	total := float64(r.losses.Total)
	start := float64(r.res.Initial.Total)
	switch {
	case math.IsNaN(total) || math.IsInf(total, 0):
		if r.evals == 1 && r.it == 0 {
			return fmt.Errorf("iteration %d: the loss of the start picture is %v: the weights (content_weight, style_weight, tv_weight, layer weights) are too large for float32; make them smaller%s", r.it, r.losses.Total, r.float16Hint())
		}
		return fmt.Errorf("iteration %d: the loss became %v: the optimizer diverged; try a smaller learning_rate%s", r.it, r.losses.Total, r.float16Hint())
	case r.gradBad:
		return fmt.Errorf("iteration %d: the gradient holds NaN or Inf values: the optimizer diverged; try a smaller learning_rate%s", r.it, r.float16Hint())
	case r.cfg.DivergenceFactor > 0 && r.evals > 1 && start > 0 && total > r.cfg.DivergenceFactor*start:
		return fmt.Errorf("iteration %d: the loss grew from %.4g to %.4g, over divergence_factor (%g) times its start: the optimizer diverges; try a smaller learning_rate (divergence_factor: 0 turns this check off)",
			r.it, start, total, r.cfg.DivergenceFactor)
	}
	return nil
}

// float16Hint names the likelier cause of a non-finite number under
// precision float16: the GPU's float16 products overflow past 65504.
func (r *run) float16Hint() string {
	if r.cfg.Precision != "float16" {
		return ""
	}
	return ", or precision float32 (float16 overflows past 65504)"
}

// record writes the evaluation's rows, keeps the result and logs.
func (r *run) record(end int) error {
	elapsed := time.Since(r.start).Seconds()
	r.tfSeconds += r.losses.RunSeconds
	if err := r.rec.record(r.it, r.evals, &r.losses, elapsed, r.tfSeconds); err != nil {
		return err
	}
	if r.evals == 1 {
		r.res.Initial = cloneLosses(r.losses)
		r.first = elapsed
	} else if r.it > 0 {
		r.res.PerIteration = (elapsed - r.first) / float64(r.it)
	}
	r.res.Iterations, r.res.Evaluations, r.res.Seconds = r.it, r.evals, elapsed
	r.rep.Step(r.it, r.losses.Total, r.losses.Content, r.losses.Style, r.losses.TV)
	return nil
}

func cloneLosses(l graphs.Losses) graphs.Losses {
	l.ContentLayers, l.StyleLayers = slices.Clone(l.ContentLayers), slices.Clone(l.StyleLayers)
	return l
}

// save writes the picture data of the current scale, with the content's
// colours when preserve_colors is set.
func (r *run) save(name string, data []float32) error {
	t := &picture.Tensor{Width: r.x.Width, Height: r.x.Height, Data: data}
	if !r.cfg.PreserveColors {
		return r.f.save(name, t)
	}
	mean := r.ex.Mean()
	img := picture.PreserveColors(t.Image(mean), r.content.Image(mean))
	return r.f.savePicture(name, img)
}

// saveInputs writes the content and style pictures as the network saw them.
func (r *run) saveInputs(content *picture.Tensor, styles []*picture.Tensor) error {
	if err := r.f.save(rundir.ContentName, content); err != nil {
		return err
	}
	for i, st := range styles {
		if err := r.f.save(rundir.StyleName(i, len(styles)), st); err != nil {
			return err
		}
	}
	return nil
}

// finish writes the final picture and completes the run folder.
func (r *run) finish() (*Result, error) {
	// The loop's vectors (gradient, optimizer state) and TensorFlow's
	// buffers are garbage now: give them back before the final picture's
	// image and PNG are made, which would otherwise add to the run's peak.
	graphs.ReleaseMemory()
	if err := r.save(rundir.FinalName, r.x.Data); err != nil {
		return nil, err
	}
	if err := r.rec.close(); err != nil {
		return nil, err
	}
	if err := r.f.writeReport(r.ex, r.it); err != nil {
		return nil, err
	}
	r.f.SetIteration(r.it)
	if r.res.Interrupted {
		if err := r.f.Interrupt(r.it); err != nil {
			return nil, err
		}
	} else if err := r.f.Finish(); err != nil {
		return nil, err
	}
	r.res.Last = cloneLosses(r.losses)
	r.res.Final = filepath.Join(r.f.Dir(), rundir.FinalName)
	return &r.res, nil
}
