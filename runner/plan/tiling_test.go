package plan

import (
	"math"
	"runtime"
	"testing"

	"github.com/styletransfer/gostyle/graphs"
	"github.com/styletransfer/gostyle/runner/optim"
)

// A tiled run's style pictures give their Grams and sizes but assemble no
// content activation (at 24 MP conv4_2's is 0.77 GB); untiled ones keep the
// one list of fetches.
func TestTiledStylePicturesAssembleNoActivations(t *testing.T) {
	m := loadTiny(t)
	for _, tile := range []string{"96", "0"} {
		ex, err := Prepare(tinyConfig(t, t.TempDir(), "width=197", "height=131", "tile="+tile), m)
		if err != nil {
			t.Fatal(err)
		}
		_, styles := ex.Pictures(ex.scales[0])
		keys := ex.layers.featureKeys()
		got, err := ex.gramFeatures(styles[0], keys)
		if err != nil {
			t.Fatal(err)
		}
		all, err := ex.features(styles[0], keys)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ex.layers.content {
			_, held := got[graphs.ActivationKey(l.name)]
			if _, ok := all[graphs.ActivationKey(l.name)]; !ok || held != (tile == "0") {
				t.Errorf("tile %s: %s activation held %v", tile, l.name, held)
			}
		}
		for _, l := range ex.layers.style {
			a, b := all[graphs.GramKey(l.name)].Value().([][]float32), got[graphs.GramKey(l.name)].Value().([][]float32)
			if len(a) == 0 || len(a) != len(b) || a[0][0] != b[0][0] || a[len(a)-1][len(a)-1] != b[len(b)-1][len(b)-1] {
				t.Errorf("tile %s: %s Gram differs", tile, l.name)
			}
			if _, _, err := got[graphs.SizeKey(l.name)].HW(); err != nil {
				t.Errorf("tile %s: %s size: %v", tile, l.name, err)
			}
		}
	}
}

// The auto estimate counts what each optimizer allocates: L-BFGS's vectors
// over Adam's, as Go's heap measures them after a few steps on a quadratic.
func TestHeldBytesCountsTheOptimizersVectors(t *testing.T) {
	m := loadTiny(t)
	const w, h = 200, 150
	heap := map[string]float64{}
	held := map[string]float64{}
	for _, opt := range []string{"adam", "lbfgs"} {
		cfg := tinyConfig(t, t.TempDir(), "width=200", "height=150", "optimizer="+opt, "lbfgs_memory=10")
		ex, err := Prepare(cfg, m)
		if err != nil {
			t.Fatal(err)
		}
		held[opt] = ex.heldBytes(w, h)
		x, grad := make([]float32, w*h*3), make([]float32, w*h*3)
		for i := range x {
			x[i] = float32(i%97) - 48
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var o optim.Optimizer = optim.AdamLoop{Adam: optim.NewAdam(len(x), cfg.LearningRate, cfg.Beta1, cfg.Beta2, cfg.Epsilon)}
		if opt == "lbfgs" { // as the loop makes it
			o = optim.NewLBFGS(len(x), cfg.LBFGSMemory, cfg.MaxEvaluations)
		}
		for range 3 * cfg.LBFGSMemory { // fills L-BFGS's history
			var loss float32
			for i, v := range x {
				grad[i] = v // loss sum x^2 / 2
				loss += v * v / 2
			}
			if _, err := o.Step(x, loss, grad); err != nil {
				break
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(o)
		heap[opt] = float64(after.HeapAlloc) - float64(before.HeapAlloc)
	}
	got, want := heap["lbfgs"]-heap["adam"], held["lbfgs"]-held["adam"]
	if math.Abs(got-want) > 0.1*got {
		t.Errorf("L-BFGS holds %.1f MB more than Adam, the estimate says %.1f MB", got/1e6, want/1e6)
	}
}
