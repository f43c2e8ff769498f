package optim

import (
	"errors"
	"fmt"
)

// Optimizer is what the run loop drives, one loss-and-gradient evaluation at
// a time, so Adam and L-BFGS share the evaluate-record-checkpoint path.
type Optimizer interface {
	// Step takes the loss and gradient at x, the point just evaluated, and
	// moves x to the next point to evaluate. It reports whether that
	// evaluation completed an iteration.
	Step(x []float32, loss float32, grad []float32) (bool, error)
	// Current is the latest accepted point (for Adam, x itself).
	Current(x []float32) []float32
	// Settle moves x to Current and reports whether x changed (then the
	// caller evaluates it once more, so the last figures are the picture's).
	Settle(x []float32) bool
	// State and Restore carry the optimizer across a checkpoint.
	State() State
	Restore(State) error
}

// ErrStalled says the optimizer can make no more progress from its accepted
// point (its line search failed twice in a row).
var ErrStalled = errors.New("no further progress along any descent direction")

// AdamLoop adapts Adam to Optimizer: every evaluation is one iteration.
type AdamLoop struct{ *Adam }

// Step applies one Adam update.
func (a AdamLoop) Step(x []float32, _ float32, grad []float32) (bool, error) {
	a.Adam.Step(x, grad)
	return true, nil
}

// Current is x: Adam evaluates every point it moves to.
func (AdamLoop) Current(x []float32) []float32 { return x }

// Settle has nothing to do for Adam.
func (AdamLoop) Settle([]float32) bool { return false }

// State is an optimizer's state for a checkpoint: named vectors and scalars.
type State struct {
	Name    string
	Vectors map[string][]float32
	Scalars map[string]float64
}

// State returns Adam's moments and step, bit for bit (the slices are Adam's own).
func (a AdamLoop) State() State {
	return State{Name: "adam", Vectors: map[string][]float32{"m": a.m, "v": a.v}, Scalars: map[string]float64{"t": float64(a.t)}}
}

// Restore sets Adam's moments and step from a checkpoint.
func (a AdamLoop) Restore(s State) error {
	m, v := s.Vectors["m"], s.Vectors["v"]
	if s.Name != "adam" || len(m) != len(a.m) || len(v) != len(a.v) {
		return fmt.Errorf("restore adam: checkpoint holds %q state with %d and %d values, want %d", s.Name, len(m), len(v), len(a.m))
	}
	copy(a.m, m)
	copy(a.v, v)
	a.t = int(s.Scalars["t"])
	return nil
}
