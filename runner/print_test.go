package runner

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/styletransfer/gostyle/runner/plan"
)

// scale_iterations gives each scale its own iteration count, coarse to fine,
// and a tiled finest scale continues from the upsampled coarse result.
func TestScaleIterationsAndATiledFinestScale(t *testing.T) {
	out := t.TempDir()
	cfg := tinyConfig(t, out, "scales=[64, 200]", "scale_iterations=[3, 2]", "tile=96", "checkpoint_every=0")
	m := loadTiny(t)
	ex, err := plan.Prepare(cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	coarse, _, _ := ex.Tiles(ex.Scales()[0])
	fine, _, _ := ex.Tiles(ex.Scales()[1])
	if coarse != 0 || fine != 96 {
		t.Errorf("tiles %d and %d: want the 64 px scale untiled (one tile), the 200 px one in tiles of 96", coarse, fine)
	}
	res, err := Run(context.Background(), cfg, m, io.Discard)
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

// A tiled run interrupted and run again resumes from its checkpoint and ends
// at the picture of a run never stopped.
func TestInterruptedTiledRunResumesExactly(t *testing.T) {
	m := loadTiny(t)
	sets := []string{"width=200", "height=138", "tile=96", "iterations=4", "checkpoint_every=2", "log_every=1", "name=r"}
	whole, err := Run(context.Background(), tinyConfig(t, t.TempDir(), sets...), m, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	first, err := Run(ctx, tinyConfig(t, out, sets...), m, cancelAt{"msg=iteration it=3 ", cancel})
	if err != nil {
		t.Fatal(err)
	}
	if !first.Interrupted || first.Iterations != 3 {
		t.Fatalf("first part: %+v", first)
	}
	rest, err := Run(context.Background(), tinyConfig(t, out, sets...), m, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if rest.Iterations != 4 || rest.Last.Total != whole.Last.Total {
		t.Errorf("resumed: %d iterations, loss %g; whole: loss %g", rest.Iterations, rest.Last.Total, whole.Last.Total)
	}
	samePicture(t, "final.png", readPNG(t, whole.Final), readPNG(t, rest.Final))
}
