package runner

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"testing"
)

// On the tiny model, L-BFGS reaches a lower loss than Adam for the same
// number of loss-and-gradient evaluations (the report's point: the paper's
// optimizer converges faster than Adam per evaluation).
func TestLBFGSBeatsAdamAtEqualEvaluations(t *testing.T) {
	m := loadTiny(t)
	common := []string{"width=48", "height=36", "checkpoint_every=0", "log_every=0", "init=content",
		"normalization=neural-style", "content_weight=5", "style_weight=500", "tv_weight=0"}
	// L-BFGS: 4 iterations of 10 evaluations, plus the final evaluation of
	// the accepted point: 41 evaluations.
	lb, err := Run(context.Background(), tinyConfig(t, t.TempDir(), append(common, "optimizer=lbfgs", "iterations=4", "max_evaluations=10")...), m, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ad, err := Run(context.Background(), tinyConfig(t, t.TempDir(), append(common, "optimizer=adam", "learning_rate=10", "iterations="+strconv.Itoa(lb.Evaluations-1))...), m, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	msg := fmt.Sprintf("after %d evaluations: L-BFGS loss %.6g, Adam loss %.6g (start %.6g)", lb.Evaluations, lb.Last.Total, ad.Last.Total, ad.Initial.Total)
	t.Log(msg)
	fmt.Println("TestLBFGSBeatsAdamAtEqualEvaluations:", msg)
	if ad.Evaluations != lb.Evaluations {
		t.Fatalf("evaluations: Adam %d, L-BFGS %d", ad.Evaluations, lb.Evaluations)
	}
	if !(lb.Last.Total < ad.Last.Total) {
		t.Errorf("L-BFGS %g is not below Adam %g", lb.Last.Total, ad.Last.Total)
	}
	// metrics.csv counts evaluations and iterations: one row per evaluation.
	rows := readCSV(t, filepath.Join(lb.Dir, "metrics.csv"))
	if len(rows) != lb.Evaluations+1 || rows[len(rows)-1][0] != "4" || rows[len(rows)-1][6] != strconv.Itoa(lb.Evaluations) {
		t.Errorf("L-BFGS metrics: %d rows, last %v", len(rows), rows[len(rows)-1])
	}
	if rows[10][0] != "0" || rows[11][0] != "1" {
		t.Errorf("iteration column: rows 10, 11 = %v, %v", rows[10], rows[11])
	}
}
