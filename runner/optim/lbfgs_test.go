package optim

import (
	"math"
	"testing"
)

// Driven one evaluation at a time, L-BFGS finds the minimum of an
// ill-conditioned quadratic (condition number 1e3, known minimum c) in
// 30 iterations of 5 evaluations (150, fewer than its 200 dimensions), and the accepted points' losses
// never rise.
func TestLBFGSMinimisesAQuadratic(t *testing.T) {
	const n = 200
	a, c := make([]float64, n), make([]float64, n)
	for i := range a {
		a[i] = math.Pow(1e3, float64(i)/(n-1))
		c[i] = math.Sin(float64(i))
	}
	f := func(x, grad []float32) float32 {
		s := 0.0
		for i := range x {
			d := float64(x[i]) - c[i]
			s += a[i] * d * d
			grad[i] = float32(2 * a[i] * d)
		}
		return float32(s)
	}
	x, grad := make([]float32, n), make([]float32, n)
	opt := NewLBFGS(n, 10, 5)
	last := float32(math.Inf(1))
	evals := 0
	for it := 0; it < 30; {
		loss := f(x, grad)
		evals++
		done, err := opt.Step(x, loss, grad)
		if err != nil {
			break // converged to float32 precision
		}
		if done {
			it++
			cur := make([]float32, n)
			copy(cur, opt.Current(x))
			if l := f(cur, make([]float32, n)); l > last {
				t.Fatalf("iteration %d: accepted loss rose %g -> %g", it, last, l)
			} else {
				last = l
			}
		}
	}
	opt.Settle(x)
	worst := 0.0
	for i := range x {
		worst = max(worst, math.Abs(float64(x[i])-c[i]))
	}
	t.Logf("%d evaluations: loss %g, max |x - c| = %.2g", evals, last, worst)
	if worst > 1e-2 {
		t.Errorf("after %d evaluations max |x - c| = %g", evals, worst)
	}
}

// An Adam checkpoint restores bit for bit.
func TestAdamStateRoundTrips(t *testing.T) {
	a := AdamLoop{NewAdam(3, 0.1, 0.9, 0.999, 1e-8)}
	x := []float32{1, 2, 3}
	a.Step(x, 0, []float32{0.5, -1, 2})
	b := AdamLoop{NewAdam(3, 0.1, 0.9, 0.999, 1e-8)}
	if err := b.Restore(a.State()); err != nil {
		t.Fatal(err)
	}
	y := append([]float32(nil), x...)
	a.Step(x, 0, []float32{1, 1, 1})
	b.Step(y, 0, []float32{1, 1, 1})
	for i := range x {
		if x[i] != y[i] {
			t.Fatalf("restored Adam differs: %v %v", x, y)
		}
	}
	if err := b.Restore(State{Name: "lbfgs"}); err == nil {
		t.Error("restored Adam from an L-BFGS state")
	}
}
