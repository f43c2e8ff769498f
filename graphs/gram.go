package graphs

import (
	"fmt"

	tf "github.com/galeone/tensorflow/tensorflow/go"
)

// NewGram holds a target Gram matrix computed in Go (a blend of several
// style pictures' Grams) for SetTargets.
func NewGram(m [][]float32) (Tensor, error) {
	for _, row := range m {
		if len(row) != len(m) {
			return Tensor{}, fmt.Errorf("gram: want a square matrix, got %dx%d", len(m), len(row))
		}
	}
	t, err := tf.NewTensor(m)
	return Tensor{t: t}, err
}
