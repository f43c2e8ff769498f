package rundir

import (
	"fmt"
	"strconv"
	"strings"
)

// The files of a run folder, by name. Only this package spells them; the
// runner writes them, and sweeps, reports and the live view read them
// through the names and readers here.
const (
	StatusName     = "status.json" // the status marker (ReadStatus)
	ConfigName     = "config.yaml" // the resolved config the run ran with (-resume reads it)
	ModelName      = "model.json"  // the model's metadata
	MetricsName    = "metrics.csv" // one row per loss evaluation, MetricsColumns (ReadMetrics)
	LayersName     = "layers.csv"  // each used layer's weighted term, per evaluation
	InitialName    = "initial.png" // the start picture
	ContentName    = "content.png" // the content picture as the network saw it
	FinalName      = "final.png"   // the result, written last
	LossName       = "loss.png"    // the losses against iteration
	CompareName    = "compare.png" // content | style | result
	LayersPlotName = "layers.png"  // each layer's weighted term against iteration
)

// MetricsColumns are metrics.csv's columns, in file order: the iteration,
// the total, content, style and TV losses, the seconds since the start, the
// evaluations so far and the seconds spent in TensorFlow.
var MetricsColumns = []string{"iteration", "total", "content", "style", "tv", "seconds", "evaluations", "tf_seconds"}

// MetricsHeader is metrics.csv's header line (without its newline).
func MetricsHeader() string { return strings.Join(MetricsColumns, ",") }

// StyleName is the file of style picture i (from 0) of n, as the network
// saw it: style.png for one style, style_1.png, style_2.png, ... for several.
func StyleName(i, n int) string {
	if n == 1 {
		return "style.png"
	}
	return fmt.Sprintf("style_%d.png", i+1)
}

// CheckpointName is the checkpoint picture of iteration it.
func CheckpointName(it int) string { return fmt.Sprintf("styled_%04d.png", it) }

// CheckpointIteration is the iteration a CheckpointName names; ok is false
// for any other name.
func CheckpointIteration(name string) (it int, ok bool) {
	s, found := strings.CutPrefix(name, "styled_")
	if s, ok = strings.CutSuffix(s, ".png"); !found || !ok {
		return 0, false
	}
	it, err := strconv.Atoi(s)
	return it, err == nil && it >= 0
}

// The bounds on what a reader of a run folder takes in: a file over its
// bound, or one that is not a regular file (a link to a device, a named
// pipe, a folder), is refused in one line naming it and the bound. The
// runner's own files stay far below them.
const (
	// MaxStatusBytes bounds status.json (a few hundred bytes; the error
	// text it records is cut to maxErrorText).
	MaxStatusBytes = 64 << 10
	// MaxCSVBytes bounds metrics.csv and layers.csv: about 2.5 million
	// evaluations' rows of metrics, 600 000 of layers with 32 layer columns.
	MaxCSVBytes = 256 << 20
	// MaxModelBytes bounds model.json, the model's metadata.
	MaxModelBytes = 1 << 20
	// stateOverhead bounds a state file beyond its float vectors (names,
	// scalars, the header).
	stateOverhead = 1 << 20
	// stateVectors is how many picture-sized vectors a state holds at most:
	// the image and an optimizer's (Adam's two moments).
	stateVectors = 4
)

// maxErrorText is the longest error text status.json records.
const maxErrorText = 4 << 10

// MaxStateBytes bounds a state file of a run whose largest picture has
// pixels pixels: stateVectors float32 vectors of pixels x 3 values, plus
// stateOverhead.
func MaxStateBytes(pixels int) int64 {
	return int64(pixels)*3*4*stateVectors + stateOverhead
}
