package optim

import (
	"errors"
	"fmt"

	"gonum.org/v1/gonum/optimize"
)

// LBFGS is limited-memory BFGS (the optimizer of Gatys et al. and of
// jcjohnson/neural-style) from gonum's optimize package, driven one
// evaluation at a time: gonum's LinesearchMethod with LBFGS as the direction
// and a More-Thuente line search under the strong Wolfe conditions (scipy's
// c1 = 1e-4, c2 = 0.9). An iteration is MaxEvaluations evaluations, as one
// scipy fmin_l_bfgs_b(maxfun=20) call is in the Keras example; unlike that
// example, the curvature memory carries over from one iteration to the next.
type LBFGS struct {
	MaxEvaluations int

	ls           optimize.LinesearchMethod
	loc          optimize.Location
	started      bool
	inRound      int       // evaluations in the current iteration
	accepted     []float32 // the last accepted point
	bestF        float64
	failed       bool // the last line search failed
	acceptedGrad []float64
}

// NewLBFGS keeps memory correction pairs for a vector of n values.
func NewLBFGS(n, memory, maxEvaluations int) *LBFGS {
	l := &LBFGS{MaxEvaluations: maxEvaluations, accepted: make([]float32, n)}
	l.ls = optimize.LinesearchMethod{
		NextDirectioner: &optimize.LBFGS{Store: memory},
		Linesearcher:    &optimize.MoreThuente{DecreaseFactor: 1e-4, CurvatureFactor: 0.9},
	}
	l.loc = optimize.Location{X: make([]float64, n), Gradient: make([]float64, n)}
	return l
}

// Step feeds the evaluation at x to the line search and moves x to the
// point it asks for next.
func (l *LBFGS) Step(x []float32, loss float32, grad []float32) (bool, error) {
	l.inRound++
	done := l.inRound >= l.MaxEvaluations
	if done {
		l.inRound = 0
	}
	for i := range x {
		l.loc.X[i], l.loc.Gradient[i] = float64(x[i]), float64(grad[i])
	}
	l.loc.F = float64(loss)
	var op optimize.Operation
	var err error
	if !l.started {
		l.started = true
		l.accept(x, loss)
		op, err = l.ls.Init(&l.loc)
	} else {
		op, err = l.ls.Iterate(&l.loc)
		if err == nil && op == optimize.MajorIteration {
			l.accept(x, loss)
			op, err = l.ls.Iterate(&l.loc) // start the next line search
		}
	}
	if err != nil {
		if l.failed || !errors.Is(err, optimize.ErrLinesearcherFailure) && !errors.Is(err, optimize.ErrNoProgress) && !errors.Is(err, optimize.ErrNonDescentDirection) {
			return done, ErrStalled
		}
		// Forget the curvature pairs and restart from the accepted point
		// along the steepest descent, as L-BFGS codes do after a failure.
		l.failed = true
		for i, v := range l.accepted {
			l.loc.X[i] = float64(v)
		}
		l.loc.F = l.bestF
		copy(l.loc.Gradient, l.acceptedGrad)
		if op, err = l.ls.Init(&l.loc); err != nil {
			return done, ErrStalled
		}
	}
	_ = op // every request is answered with both the loss and the gradient
	for i, v := range l.loc.X {
		x[i] = float32(v)
	}
	return done, nil
}

func (l *LBFGS) accept(x []float32, loss float32) {
	copy(l.accepted, x)
	if l.acceptedGrad == nil {
		l.acceptedGrad = make([]float64, len(x))
	}
	copy(l.acceptedGrad, l.loc.Gradient)
	l.bestF = float64(loss)
	l.failed = false
}

// Current is the last accepted point.
func (l *LBFGS) Current([]float32) []float32 { return l.accepted }

// Settle moves x back to the accepted point.
func (l *LBFGS) Settle(x []float32) bool {
	moved := false
	for i, v := range l.accepted {
		if x[i] != v {
			moved = true
			x[i] = v
		}
	}
	return moved
}

// State is empty: gonum keeps the curvature pairs to itself, so a resumed
// L-BFGS run restarts from its checkpoint picture with a fresh memory.
func (l *LBFGS) State() State { return State{Name: "lbfgs"} }

// Restore accepts an L-BFGS checkpoint (see State).
func (l *LBFGS) Restore(s State) error {
	if s.Name != "lbfgs" {
		return fmt.Errorf("restore lbfgs: checkpoint holds %q state", s.Name)
	}
	return nil
}
