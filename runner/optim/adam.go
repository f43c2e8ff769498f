// Package optim holds the optimizers that update the image. Go owns the
// update rule so that the same exported loss-and-gradient graph serves Adam,
// L-BFGS or anything else, and so that optimizer state can be saved exactly.
package optim

import "math"

// Adam is Algorithm 1 of Kingma & Ba, "Adam: A Method for Stochastic
// Optimization" (2015): bias-corrected first and second moment estimates,
// with epsilon added to the corrected square root as the paper writes it.
// State is float32 like the image; per-step scalars are float64.
type Adam struct {
	LearningRate, Beta1, Beta2, Epsilon float64

	m, v []float32
	t    int
}

// NewAdam returns an Adam optimizer for a parameter vector of n values.
func NewAdam(n int, learningRate, beta1, beta2, epsilon float64) *Adam {
	return &Adam{
		LearningRate: learningRate, Beta1: beta1, Beta2: beta2, Epsilon: epsilon,
		m: make([]float32, n), v: make([]float32, n),
	}
}

// Steps is the number of updates applied so far.
func (a *Adam) Steps() int { return a.t }

// Step applies one update to x in place, given the gradient at x.
// It allocates nothing: it runs once per iteration on the whole image.
func (a *Adam) Step(x, grad []float32) {
	a.t++
	b1, b2 := float32(a.Beta1), float32(a.Beta2)
	// The bias corrections are divisions, as in the paper, so that the
	// float32 iterates follow a float32 reading of Algorithm 1 to the ulp.
	c1 := float32(1 - math.Pow(a.Beta1, float64(a.t)))
	c2 := float32(1 - math.Pow(a.Beta2, float64(a.t)))
	lr, eps := float32(a.LearningRate), float32(a.Epsilon)
	m, v := a.m[:len(x)], a.v[:len(x)]
	grad = grad[:len(x)]
	for i, g := range grad {
		mi := b1*m[i] + (1-b1)*g
		vi := b2*v[i] + (1-b2)*g*g
		m[i], v[i] = mi, vi
		x[i] -= lr * (mi / c1) / (float32(math.Sqrt(float64(vi/c2))) + eps)
	}
}
