package plan

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/styletransfer/gostyle/graphs"
	"github.com/styletransfer/gostyle/runner/picture"
)

// Tiling: which pictures run in exact tiles (graphs.TiledEvaluator) and of
// what side, decided once per size in prepare, from the keys tile and
// max_memory and an estimate of the memory each way needs.

// Memory estimate constants. A loss pass holds about activationCopies
// float32 copies of every computed layer's activations (the forward
// activations, ReLU masks, and the gradients of the backward pass in
// flight): 1.5 gives 1.74 GB per megapixel for the full VGG19 to conv5_1,
// against 1.69 measured by issue 25. The leaner loss graph (masks, kept
// loss layers: README, Performance) measures 1.15 with average pooling; the
// estimate keeps 1.5, as max pooling keeps each pooled layer's input and a
// budget must hold for every config. TensorFlow, the graph and the Go
// runtime take about baseBytes more. A tile's pass holds more per pixel of
// its input, tileCopies (its gradient takes the backprop form: see
// graphs.TiledEvaluator), and a tiled run tiledBaseBytes besides, plus what
// Go holds (heldBytes). Fitted to peak RSS on the full VGG19 at 1152x864,
// Adam (README, Print-size pictures): tiles of 256 (inputs up to 416x416)
// peaked at 1.30 GB, tiles of 512 (672x592) at 2.09 GB: 3.0 copies and
// 0.6 GB, rounded up.
const (
	activationCopies = 1.5
	tileCopies       = 3.1
	baseBytes        = 600 << 20
	tiledBaseBytes   = 650e6
)

// deepestUsed is the index of the deepest layer the plan uses (0 if none).
func (p layerPlan) deepestUsed() int {
	d := 0
	for _, l := range append(append([]layerWeight{}, p.content...), p.style...) {
		d = max(d, l.index)
	}
	return d
}

// bytesPerPixel is what one pass holds per input pixel for the layers up to
// deepest (see activationCopies).
func bytesPerPixel(md graphs.Metadata, deepest int) float64 {
	var floats float64
	for i := range deepest + 1 {
		s := float64(md.Stride(i))
		floats += float64(md.Channels[i]) / (s * s)
	}
	return activationCopies * 4 * floats
}

// leftoverBytes per pixel is what a tiled loop holds beyond the vectors and
// targets heldBytes counts: the targets phase's leftovers on Go's and the C
// heap (fitted pictures, the style picture, TensorFlow's buffers of other
// tile shapes). Measured: 12 MP in tiles of 512 held 28 bytes a pixel more
// than counted in its first evaluation.
const leftoverBytes = 32

// heldBytes is what the Go side holds through a tiled run of w x h pixels:
// the picture, its gradient, the content picture (kept for
// preserve_colors), the optimizer's vectors and the content targets.
// L-BFGS (optim.LBFGS on gonum's, in float64) holds the accepted point
// (float32) and, in float64, the point and gradient it is given, the
// accepted gradient, its own point and gradient, the line search's point
// and direction and lbfgs_memory pairs: 2 x (7 + 2 x memory) float32
// vectors' worth.
func (ex *Experiment) heldBytes(w, h int) float64 {
	px := float64(w * h)
	vectors := 3.0 + 2 // picture, gradient, content picture, Adam's two moments
	if ex.cfg.Optimizer == "lbfgs" {
		vectors = 3 + 1 + 2*(7+2*float64(ex.cfg.LBFGSMemory))
	}
	held := vectors*12*px + leftoverBytes*px
	md := ex.model.Meta
	for _, l := range ex.layers.content {
		s := float64(md.Stride(l.index))
		held += 4 * float64(md.Channels[l.index]) * px / (s * s)
	}
	return held
}

// maxMemory is the budget in bytes: max_memory, else three quarters of the
// host's memory.
func maxMemory(gb float64) float64 {
	if gb > 0 {
		return gb * 1e9
	}
	return 0.75 * hostMemory()
}

// hostMemory is MemTotal of /proc/meminfo, or 8 GB where it cannot be read.
func hostMemory() float64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 8e9
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			if kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64); err == nil {
				return kb * 1024
			}
		}
	}
	return 8e9
}

// planTiling decides how a w x h picture runs: untiled, or in exact tiles.
// Bad input (a tile smaller than its halo, no tile that fits, an untiled
// picture over the budget) is one line naming the key and what would work.
func (ex *Experiment) planTiling(w, h int) (tiling, error) {
	md := ex.model.Meta
	d := ex.layers.deepestUsed()
	perPx := bytesPerPixel(md, d)
	t := tiling{limit: maxMemory(ex.cfg.MaxMemory), deepest: md.Layers[d]}
	t.halo, t.grid = md.TileGrid(d)
	untiled := baseBytes + perPx*float64(w*h) + 12*2*float64(w*h)
	gb := func(b float64) string { return fmt.Sprintf("%.1f GB", b/1e9) }
	budget := "max_memory"
	if ex.cfg.MaxMemory == 0 {
		budget = "max_memory (3/4 of this host's memory)"
	}
	tileNeed := func(side int) float64 {
		in := float64(min(side+2*t.halo, w) * min(side+2*t.halo, h))
		return tiledBaseBytes + perPx*tileCopies/activationCopies*in + ex.heldBytes(w, h)
	}
	switch ex.cfg.Tile {
	case "0":
		if t.need = untiled; untiled > t.limit {
			return t, fmt.Errorf("key tile: 0 (untiled) at %dx%d needs about %s, over %s %s; set tile: auto (exact tiles in bounded memory) or a larger max_memory",
				w, h, gb(untiled), budget, gb(t.limit))
		}
		return t, nil
	case "auto":
		if untiled <= t.limit {
			t.need = untiled
			return t, nil
		}
		for side := ceilTo(max(w, h), t.grid); side >= t.grid; side -= t.grid {
			if side < t.halo {
				break
			}
			if t.need = tileNeed(side); t.need <= t.limit {
				t.side = side
				return t, nil
			}
		}
		smallest := tileNeed(ceilTo(t.halo, t.grid))
		return t, fmt.Errorf("key max_memory: %s cannot hold a %dx%d run even in the smallest useful tile (%d px, the halo of %s: about %s); set max_memory to at least %s, or a smaller size",
			gb(t.limit), w, h, ceilTo(t.halo, t.grid), t.deepest, gb(smallest), gb(smallest*1.05))
	}
	side, _ := strconv.Atoi(ex.cfg.Tile) // checked by the config
	switch {
	case side < t.halo:
		return t, fmt.Errorf("key tile: %d is smaller than its halo of %d pixels (the receptive field of %s, the deepest layer used); use a tile of at least %d (several times it, e.g. %d, recomputes less), auto, or 0",
			side, t.halo, t.deepest, ceilTo(t.halo, t.grid), ceilTo(4*t.halo, t.grid))
	case side%t.grid != 0:
		return t, fmt.Errorf("key tile: %d is not a multiple of %d (the stride of %s, the deepest layer used): use %d or %d",
			side, t.grid, t.deepest, side/t.grid*t.grid, ceilTo(side, t.grid))
	}
	if side >= w && side >= h { // one tile is the whole picture
		t.need = untiled
		return t, nil
	}
	t.side, t.need = side, tileNeed(side)
	return t, nil
}

// planTilings decides, for every scale's output and style size, whether it
// runs in tiles (planTiling): before anything is written.
func (ex *Experiment) planTilings() error {
	ex.tilings = map[Size]tiling{}
	for _, sz := range ex.scales {
		for _, s := range []Size{sz, ex.styleSize(sz)} {
			if _, done := ex.tilings[s]; done {
				continue
			}
			t, err := ex.planTiling(s.Width, s.Height)
			if err != nil {
				return err
			}
			ex.tilings[s] = t
		}
	}
	return nil
}

func ceilTo(n, m int) int { return (n + m - 1) / m * m }

// features runs the network on a picture, in tiles where its size's tiling
// says so.
func (ex *Experiment) features(pic *picture.Tensor, keys []string) (map[string]graphs.Tensor, error) {
	t, ok := ex.tilings[Size{pic.Width, pic.Height}]
	if !ok || t.side == 0 {
		return ex.model.Features(pic.Data, pic.Width, pic.Height, keys...)
	}
	return ex.model.TiledFeatures(pic.Data, pic.Width, pic.Height, t.side, keys...)
}

// gramFeatures is features for a style picture, which needs only the Grams
// and sizes of keys: a tiled one does not assemble the content layers'
// activations (at 24 MP conv4_2's is 0.77 GB, beside the content
// picture's).
func (ex *Experiment) gramFeatures(pic *picture.Tensor, keys []string) (map[string]graphs.Tensor, error) {
	if t := ex.tilings[Size{pic.Width, pic.Height}]; t.side != 0 {
		drop := map[string]bool{}
		for _, l := range ex.layers.content {
			drop[graphs.ActivationKey(l.name)] = true
		}
		var grams []string
		for _, k := range keys {
			if !drop[k] {
				grams = append(grams, k)
			}
		}
		keys = grams
	}
	return ex.features(pic, keys)
}
