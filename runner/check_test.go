package runner

import (
	"math"
	"strings"
	"testing"

	"github.com/styletransfer/gostyle/runner/config"
)

// A loss or gradient that turns non-finite stops the run; under precision
// float16 the line also names float16's range as the likelier cause.
func TestNonFiniteNamesFloat16(t *testing.T) {
	for _, prec := range []string{"float32", "float16"} {
		for _, c := range []struct {
			it, evals int
			total     float32
			gradBad   bool
		}{
			{0, 1, float32(math.Inf(1)), false},
			{5, 6, float32(math.NaN()), false},
			{5, 6, 10, true},
		} {
			r := &run{cfg: config.Config{Precision: prec}, it: c.it, evals: c.evals, gradBad: c.gradBad}
			r.res.Initial.Total = 100
			r.losses.Total = c.total
			err := r.check()
			if err == nil {
				t.Fatalf("%s %+v: no error", prec, c)
			}
			if hint := strings.Contains(err.Error(), "precision float32 (float16 overflows past 65504)"); hint != (prec == "float16") {
				t.Errorf("%s %+v: %v (float16 hint %v)", prec, c, err, hint)
			}
		}
	}
}
