package runner

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// scale_iterations gives each scale its own iteration count, coarse to fine,
// and a tiled finest scale continues from the upsampled coarse result.
func TestScaleIterationsAndATiledFinestScale(t *testing.T) {
	out := t.TempDir()
	cfg := tinyConfig(t, out, "scales=[64, 200]", "scale_iterations=[3, 2]", "tile=96", "checkpoint_every=0")
	ex, err := prepare(cfg, loadTiny(t))
	if err != nil {
		t.Fatal(err)
	}
	if ex.tilings[ex.scales[0]].side != 0 || ex.tilings[ex.scales[1]].side != 96 {
		t.Errorf("tilings %+v: want the 64 px scale untiled (one tile), the 200 px one in tiles of 96", ex.tilings)
	}
	res, err := Run(context.Background(), cfg, ex.model, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Iterations != 5 {
		t.Errorf("%d iterations, want 3 + 2", res.Iterations)
	}
	rows := readCSV(t, filepath.Join(res.Dir, "metrics.csv"))
	if len(rows) != 1+3+1+2+1 { // header, then evaluations at iterations 0-3 and 3-5
		t.Errorf("metrics.csv has %d rows", len(rows))
	}
	for _, name := range []string{"scale_64x44.png", "scale_200x138.png", "final.png"} {
		if _, err := os.Stat(filepath.Join(res.Dir, name)); err != nil {
			t.Error(err)
		}
	}
}
