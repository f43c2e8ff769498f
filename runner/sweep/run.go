package sweep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"time"
)

// A run folder's states, as its status marker spells them. Missing means
// there is no folder or no marker yet.
const (
	Missing     = "missing"
	Running     = "running"
	Interrupted = "interrupted"
	Failed      = "failed"
	Done        = "done"
)

// StatusReader reads a run folder's status marker: its state (running,
// interrupted, failed, done) and the id of the config it ran. A folder with
// no marker reads as an error wrapping fs.ErrNotExist. The runner wires it
// to the run-folder package; the sweep only reads markers, never writes them.
type StatusReader func(dir string) (state, id string, err error)

// PointResult is what running one point reports back.
type PointResult struct {
	Interrupted bool // stopped by the context; the point stays unfinished
	// Busy: another runner holds the point's run folder (a second sweep on
	// the same output); the point is left to it, not failed.
	Busy bool
}

// RunFunc runs one point, writing its run folder.
type RunFunc func(ctx context.Context, p Point) (PointResult, error)

// Options steer Run.
type Options struct {
	Output string       // the sweep folder holding the run folders
	Status StatusReader // required
	Total  int          // the sweep's size, for the log lines; 0: len(points)
	Log    io.Writer    // one line per point; nil: quiet
}

// Outcome is one point's fate in Run.
type Outcome struct {
	Point   Point
	State   string // Done (ran now), Failed, Interrupted, Skipped (done before) or Busy
	Err     error
	Seconds float64
}

// Outcome states besides the run-folder states: a point found done with
// the same id, and a point another runner holds.
const (
	Skipped = "skipped"
	Busy    = "busy"
)

// Run runs points in order (a whole sweep, or the one point of -index). A
// point whose run folder is done with the same id is skipped, so re-running
// a sweep (or a requeued cluster task) costs nothing; failed and unfinished
// points run again; run meets a point done with another id (Stale), which it
// refuses unless its config says overwrite; a point another runner holds is
// left to it. A failing point does not stop the others; the error at the end
// names every failed point. A cancelled context stops before the next point.
func Run(ctx context.Context, points []Point, run RunFunc, opts Options) ([]Outcome, error) {
	if opts.Status == nil {
		return nil, errors.New("sweep: no status reader")
	}
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	total := opts.Total
	if total == 0 {
		total = len(points)
	}
	todo := points
	var outcomes []Outcome
	var failed []string
	for _, p := range todo {
		if ctx.Err() != nil {
			return outcomes, fmt.Errorf("sweep stopped before point %d: %w", p.Index, ctx.Err())
		}
		dir := filepath.Join(opts.Output, p.Dir)
		state, id, err := opts.Status(dir)
		switch {
		case err == nil && state == Done && id == p.ID:
			fmt.Fprintf(log, "point %d %s: done already (id %s), skipped\n", p.Index, p.Dir, p.ID)
			outcomes = append(outcomes, Outcome{Point: p, State: Skipped})
			continue
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			o := Outcome{Point: p, State: Failed, Err: fmt.Errorf("status of %s: %w", dir, err)}
			fmt.Fprintf(log, "point %d %s: failed: %v\n", p.Index, p.Dir, o.Err)
			outcomes = append(outcomes, o)
			failed = append(failed, fmt.Sprintf("%d (%s)", p.Index, p.Dir))
			continue
		}
		fmt.Fprintf(log, "point %d/%d %s: %s\n", p.Index, total, p.Dir, strings.Join(p.Overrides(), " "))
		start := time.Now()
		res, err := run(ctx, p)
		o := Outcome{Point: p, State: Done, Err: err, Seconds: time.Since(start).Seconds()}
		switch {
		case err != nil:
			o.State = Failed
			if ctx.Err() != nil {
				o.State = Interrupted
			}
			fmt.Fprintf(log, "point %d %s: %s: %v\n", p.Index, p.Dir, o.State, err)
		case res.Interrupted:
			o.State = Interrupted
			fmt.Fprintf(log, "point %d %s: interrupted\n", p.Index, p.Dir)
		case res.Busy:
			o.State = Busy
			fmt.Fprintf(log, "point %d %s: another runner holds it; left to that one\n", p.Index, p.Dir)
		}
		outcomes = append(outcomes, o)
		if o.State == Interrupted {
			return outcomes, fmt.Errorf("sweep interrupted at point %d (%s): %w", p.Index, p.Dir, context.Canceled)
		}
		if o.State == Failed {
			failed = append(failed, fmt.Sprintf("%d (%s)", p.Index, p.Dir))
		}
	}
	if len(failed) > 0 {
		return outcomes, fmt.Errorf("%d of %d points failed: %s", len(failed), len(todo), strings.Join(failed, ", "))
	}
	return outcomes, nil
}
