package runner

import (
	"fmt"

	"github.com/styletransfer/gostyle/graphs"
)

// setTV stores the TV coefficients in the targets. The grid form (jcjohnson,
// Keras) needs a model whose graph has the TV grid term.
func setTV(t *graphs.Targets, tv tvTerm) error {
	if tv.grid != 0 {
		return fmt.Errorf("key normalization: this TV form needs the TV grid term, which this runner's graphs package lacks (set tv_weight: 0)")
	}
	t.TVWeights = [2]float32{float32(tv.vertical), float32(tv.horizontal)}
	return nil
}
