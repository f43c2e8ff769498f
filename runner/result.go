package runner

import "github.com/styletransfer/gostyle/graphs"

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
