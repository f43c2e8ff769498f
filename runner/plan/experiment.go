// Package plan is the experiment's plan: what a run of a config on a model
// computes, decided and checked once before anything is written. Prepare
// loads the pictures and decides the layers (layers.go), the output sizes
// coarse to fine, and how each picture size runs, untiled or in exact tiles
// (tiling.go); per scale the plan gives the fitted pictures, the start
// picture (start.go) and the targets with their coefficients (targets.go, on
// runner/normalize). The loop in package runner reads the plan; the plan
// knows nothing of the loop or the run folder.
package plan

import (
	"image"
	"math"

	"github.com/styletransfer/gostyle/graphs"
	"github.com/styletransfer/gostyle/runner/config"
	"github.com/styletransfer/gostyle/runner/picture"
)

// Experiment is everything a run needs, checked before anything is written.
// It does not change once Prepare returns it.
type Experiment struct {
	cfg     config.Config
	model   *graphs.Model
	mean    [3]float32
	content image.Image     // as loaded
	styles  []image.Image   // as loaded
	init    image.Image     // init: FILE, else nil
	blend   []float64       // style blend weights, summing to 1
	layers  layerPlan       // decided once for every scale
	scales  []Size          // output sizes, coarse to fine (one without scales)
	tilings map[Size]tiling // how each picture size runs: untiled or in exact tiles
	dir     string
}

// Size is a picture size in pixels.
type Size struct{ Width, Height int }

// tiling is the decision for one picture size: tile side 0 is untiled.
type tiling struct {
	side        int
	halo, grid  int
	deepest     string
	need, limit float64 // estimated and allowed bytes
}

// Config is the config the experiment runs.
func (ex *Experiment) Config() config.Config { return ex.cfg }

// Model is the model it runs on.
func (ex *Experiment) Model() *graphs.Model { return ex.model }

// Mean is the model's mean RGB, subtracted from every picture it sees.
func (ex *Experiment) Mean() [3]float32 { return ex.mean }

// Scales are the output sizes, coarse to fine; the last is the result's.
func (ex *Experiment) Scales() []Size { return ex.scales }

// Output is the result's size: the last scale's.
func (ex *Experiment) Output() Size { return ex.scales[len(ex.scales)-1] }

// Dir is the run folder.
func (ex *Experiment) Dir() string { return ex.dir }

// Tiles says how pictures of size sz run: side 0 untiled, else in exact
// tiles of that side with halo pixels of context, estimated to need need
// bytes in all.
func (ex *Experiment) Tiles(sz Size) (side, halo int, need float64) {
	t := ex.tilings[sz]
	return t.side, t.halo, t.need
}

// Terms are the used layers' loss terms in model order: a column of
// layers.csv each.
func (ex *Experiment) Terms() []Term { return ex.layers.terms() }

// IterationsBefore is the iterations of the scales before scale i
// (scale_iterations, else iterations each).
func (ex *Experiment) IterationsBefore(i int) int {
	if len(ex.cfg.ScaleIterations) == 0 {
		return i * ex.cfg.Iterations
	}
	n := 0
	for _, k := range ex.cfg.ScaleIterations[:i] {
		n += k
	}
	return n
}

// Pictures are the content and style pictures fitted to an output size.
// As in the notebook, style pictures are cropped to the output's aspect and
// resized to its size, times style_scale.
func (ex *Experiment) Pictures(sz Size) (content *picture.Tensor, styles []*picture.Tensor) {
	content = ex.fit(ex.content, sz.Width, sz.Height)
	st := ex.styleSize(sz)
	for _, img := range ex.styles {
		styles = append(styles, ex.fit(img, st.Width, st.Height))
	}
	return content, styles
}

// fit crops and resizes a picture to width x height in the network's layout.
func (ex *Experiment) fit(img image.Image, width, height int) *picture.Tensor {
	return picture.FromImage(picture.Fit(img, width, height), ex.mean)
}

// styleSize is the size style pictures are fitted to for an output size.
func (ex *Experiment) styleSize(sz Size) Size {
	return Size{max(1, int(math.Round(ex.cfg.StyleScale*float64(sz.Width)))), max(1, int(math.Round(ex.cfg.StyleScale*float64(sz.Height))))}
}
