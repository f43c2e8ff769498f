package optim

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os/exec"
	"testing"

	"github.com/styletransfer/gostyle/graphs/graphstest"
)

// TestAdamMatchesNumPyReference runs 100 Adam steps on a quadratic and compares
// every iterate with an independent float64 NumPy implementation of the paper's
// Algorithm 1. Tolerance: relative error <= 1e-6 on every coordinate (the Go
// state is float32, so this also bounds the accumulated rounding).
func TestAdamMatchesNumPyReference(t *testing.T) {
	const n, steps = 64, 100
	rng := rand.New(rand.NewPCG(1, 2))
	a, c, x0 := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range a {
		a[i] = float32(0.1 + 2*rng.Float64())
		c[i] = float32(100 * (rng.Float64() - 0.5))
		x0[i] = float32(100 * (rng.Float64() - 0.5))
	}
	for _, tc := range []struct{ lr, b1, b2, eps float64 }{
		{2.0, 0.9, 0.999, 1e-8},  // the seed notebook's believed rate
		{10.0, 0.9, 0.999, 1e-8}, // anishathalye/neural-style defaults
		{0.5, 0.8, 0.99, 1e-3},
	} {
		problem := map[string]any{"a": a, "c": c, "x0": x0, "lr": tc.lr, "beta1": tc.b1,
			"beta2": tc.b2, "epsilon": tc.eps, "steps": steps, "dtype": "float32"}
		in, _ := json.Marshal(problem)
		cmd := exec.Command(graphstest.Python(t), "testdata/adam_reference.py")
		cmd.Stdin = bytes.NewReader(in)
		outb, err := cmd.Output()
		if err != nil {
			t.Fatalf("reference: %v", err)
		}
		var want [][]float64
		if err := json.Unmarshal(outb, &want); err != nil {
			t.Fatal(err)
		}

		x, g := make([]float32, n), make([]float32, n)
		copy(x, x0)
		opt := NewAdam(n, tc.lr, tc.b1, tc.b2, tc.eps)
		worst := 0.0
		for s := 0; s < steps; s++ {
			for i := range g {
				g[i] = a[i] * (x[i] - c[i])
			}
			opt.Step(x, g)
			for i := range x {
				d := math.Abs(float64(x[i])-want[s][i]) / math.Max(math.Abs(want[s][i]), 1)
				worst = math.Max(worst, d)
			}
		}
		if opt.Steps() != steps {
			t.Fatalf("Steps() = %d, want %d", opt.Steps(), steps)
		}
		if worst > 1e-6 {
			t.Errorf("lr=%g: worst relative error %.3g > 1e-6", tc.lr, worst)
		}
		t.Logf("lr=%g beta1=%g beta2=%g eps=%g: worst relative error %.3g", tc.lr, tc.b1, tc.b2, tc.eps, worst)
	}
}

// TestAdamFirstStepIsLearningRate checks the paper's remark that the first
// bias-corrected step has magnitude ~alpha whatever the gradient scale.
func TestAdamFirstStepIsLearningRate(t *testing.T) {
	x := []float32{0, 0, 0}
	NewAdam(3, 2, 0.9, 0.999, 1e-8).Step(x, []float32{1e-3, -5, 1e4})
	for i, want := range []float64{-2, 2, -2} {
		if math.Abs(float64(x[i])-want) > 1e-4 {
			t.Errorf("x[%d] = %g, want %g", i, x[i], want)
		}
	}
}

func BenchmarkAdamStep(b *testing.B) {
	const n = 600 * 800 * 3
	x, g := make([]float32, n), make([]float32, n)
	for i := range g {
		g[i] = float32(i%7) - 3
	}
	opt := NewAdam(n, 2, 0.9, 0.999, 1e-8)
	b.SetBytes(n * 4)
	b.ReportAllocs()
	for b.Loop() {
		opt.Step(x, g)
	}
}
