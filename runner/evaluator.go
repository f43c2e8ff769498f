package runner

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/styletransfer/gostyle/graphs"
	"github.com/styletransfer/gostyle/runner/plan"
)

// evaluator is the loss and gradient of one scale: graphs.Evaluator, or
// graphs.TiledEvaluator in exact tiles.
type evaluator interface {
	Evaluate(img, grad []float32, out *graphs.Losses) error
}

// newEvaluator stores the scale's targets in the model and returns its loss
// evaluator, tiled where the plan says so; a tiled one logs its tiles when
// an iteration is slow (iteration says which is running).
func newEvaluator(ex *plan.Experiment, sz plan.Size, t *plan.ScaleTargets, log *slog.Logger, iteration func() int) (evaluator, error) {
	model := ex.Model()
	side, halo, need := ex.Tiles(sz)
	if side == 0 {
		if err := model.SetTargets(t.Targets); err != nil {
			return nil, err
		}
		return model.NewEvaluator(sz.Width, sz.Height), nil
	}
	// The targets' garbage (fitted pictures, the tiles' tensors) goes back
	// to the system before the loop's vectors are made.
	graphs.ReleaseMemory()
	e, err := model.NewTiledEvaluator(sz.Width, sz.Height, side, t.Targets)
	if err != nil {
		return nil, err
	}
	log.Info("tiles", "size", fmt.Sprintf("%dx%d", sz.Width, sz.Height), "tile", side, "halo", halo, "tiles", e.Tiles(),
		"estimated_gb", fmt.Sprintf("%.2f", need/1e9))
	last := time.Now()
	e.Progress = func(pass, tile, tiles int) {
		if pass == 2 && tile == tiles && e.PassSeconds[0]+e.PassSeconds[1] >= tileLogEvery.Seconds() {
			log.Info("tiles", "iteration", iteration(), "pass1_seconds", fmt.Sprintf("%.1f", e.PassSeconds[0]),
				"pass2_seconds", fmt.Sprintf("%.1f", e.PassSeconds[1]))
		}
		if time.Since(last) >= tileLogEvery {
			last = time.Now()
			log.Info("tiles", "iteration", iteration(), "pass", fmt.Sprintf("%d/2", pass), "tile", fmt.Sprintf("%d/%d", tile, tiles))
		}
	}
	return e, nil
}

// tileLogEvery is how often a slow iteration reports its tiles.
const tileLogEvery = 10 * time.Second
