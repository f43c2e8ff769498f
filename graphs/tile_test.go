package graphs

import (
	"math"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/styletransfer/gostyle/graphs/graphstest"
)

func TestTileGridCoversTheReceptiveField(t *testing.T) {
	md := tiny(t).Meta
	// VGG19: conv1_2 sees 2 pixels past a tile's edge, conv4_2 40 (on an
	// 8-pixel grid), conv5_1 80 (16), as the count gives.
	for layer, want := range map[string][2]int{"conv1_2": {2, 1}, "conv2_1": {4, 2}, "conv4_2": {40, 8}, "conv5_1": {80, 16}, "conv5_4": {128, 16}} {
		halo, grid := md.TileGrid(md.LayerIndex(layer))
		if [2]int{halo, grid} != want {
			t.Errorf("%s: halo %d grid %d, want %v", layer, halo, grid, want)
		}
	}
}

func TestTilesOwnEveryPixelOnce(t *testing.T) {
	owned := make([]int, 101*75)
	for _, tl := range Tiles(101, 75, 32, 16) {
		for y := tl.Y0; y < tl.Y1; y++ {
			for x := tl.X0; x < tl.X1; x++ {
				owned[y*101+x]++
			}
		}
		if tl.InY0 > tl.Y0 || tl.InX0 > tl.X0 || tl.InY1 < tl.Y1 || tl.InX1 < tl.X1 || tl.InY0%16 != 0 || tl.InX0%16 != 0 {
			t.Errorf("tile %+v", tl)
		}
	}
	for i, n := range owned {
		if n != 1 {
			t.Fatalf("pixel %d owned %d times", i, n)
		}
	}
}

// tileProblem is a loss with content, style and every TV form at the given
// layers, its coefficients scaled so that each term is about 1.
func tileProblem(t *testing.T, m *Model, rng *rand.Rand, w, h int, content, style []string, tv TV) Targets {
	t.Helper()
	n := len(m.Meta.Layers)
	tg := Targets{Content: map[string]Tensor{}, Grams: map[string]Tensor{}, ContentWeights: make([]float32, n), StyleWeights: make([]float32, n), TV: tv}
	var keys []string
	for _, l := range content {
		keys = append(keys, ActivationKey(l))
	}
	for _, l := range style {
		keys = append(keys, GramKey(l))
	}
	other, err := m.Features(randomImage(rng, w, h, 100), w, h, keys...)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range content {
		tg.Content[l] = other[ActivationKey(l)]
		tg.ContentWeights[m.Meta.LayerIndex(l)] = float32(1 + rng.Float64())
	}
	for _, l := range style {
		tg.Grams[l] = other[GramKey(l)]
		tg.StyleWeights[m.Meta.LayerIndex(l)] = float32(1 + rng.Float64())
	}
	// Scale each coefficient by the raw sum at a start picture.
	if err := m.SetTargets(tg); err != nil {
		t.Fatal(err)
	}
	var l Losses
	x := randomImage(rng, w, h, 100)
	if err := m.NewEvaluator(w, h).Evaluate(x, make([]float32, len(x)), &l); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if tg.ContentWeights[i] != 0 {
			tg.ContentWeights[i] /= l.ContentLayers[i]
		}
		if tg.StyleWeights[i] != 0 {
			tg.StyleWeights[i] /= l.StyleLayers[i]
		}
	}
	return tg
}

// compareLosses checks a tiled evaluation against the untiled one: every
// loss to 1e-5 relative, the gradient to 1e-4 of its largest entry.
func compareLosses(t *testing.T, what string, want, got Losses, wantGrad, gotGrad []float32) {
	t.Helper()
	near := func(name string, a, b float32) {
		if d := math.Abs(float64(a - b)); d > 1e-5*math.Abs(float64(a))+1e-30 {
			t.Errorf("%s: %s tiled %g, untiled %g (relative %.2g)", what, name, b, a, d/math.Abs(float64(a)))
		}
	}
	near("total", want.Total, got.Total)
	near("content", want.Content, got.Content)
	near("style", want.Style, got.Style)
	near("tv", want.TV, got.TV)
	for i := range want.ContentLayers {
		near("content layer", want.ContentLayers[i], got.ContentLayers[i])
		near("style layer", want.StyleLayers[i], got.StyleLayers[i])
	}
	var top, worst float64
	for i := range wantGrad {
		top = max(top, math.Abs(float64(wantGrad[i])))
		worst = max(worst, math.Abs(float64(wantGrad[i]-gotGrad[i])))
	}
	if top == 0 || worst > 1e-4*top {
		t.Errorf("%s: gradient differs by %.3g of its largest entry %g", what, worst/top, top)
	}
}

func TestTiledEvaluationIsExact(t *testing.T) {
	cases := []struct {
		model          string
		w, h, side     int
		content, style []string
		tv             TV
	}{
		// The paper's layers on VGG19, odd sizes, tiles smaller than the halo.
		{"vgg19-tiny", 101, 75, 32, []string{"conv4_2"}, []string{"conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"}, TV{Vertical: 1e-4, Horizontal: 2e-4}},
		// Content blend layers, the grid TV (Keras' power), max pooling.
		{"vgg19-tiny-max", 130, 97, 48, []string{"conv4_2", "conv5_2"}, []string{"conv1_1", "conv3_1", "conv5_1"}, TV{Grid: 1e-6, GridPower: 1.25}},
		// VGG16, a shallow deepest layer (halo 4 on a 2-pixel grid), jcjohnson's TV.
		{"vgg16-tiny", 67, 45, 16, []string{"conv2_1"}, []string{"conv1_1", "conv1_2"}, TV{Grid: 1e-4, GridPower: 1}},
	}
	for _, c := range cases {
		t.Run(c.model, func(t *testing.T) {
			m, err := Load(graphstest.Path(t, "testdata", c.model))
			if err != nil {
				t.Fatal(err)
			}
			checkTiled(t, m, c.model, c.w, c.h, c.side, c.content, c.style, c.tv)
		})
	}
}

// checkTiled evaluates a loss with the given layers and TV on m at w x h,
// untiled and in tiles of side, and compares losses, gradient and features.
func checkTiled(t *testing.T, m *Model, what string, w, h, side int, content, style []string, tv TV) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, uint64(w)))
	tg := tileProblem(t, m, rng, w, h, content, style, tv)
	x := randomImage(rng, w, h, 100)
	if err := m.SetTargets(tg); err != nil {
		t.Fatal(err)
	}
	var want, got Losses
	wantGrad, gotGrad := make([]float32, len(x)), make([]float32, len(x))
	if err := m.NewEvaluator(w, h).Evaluate(x, wantGrad, &want); err != nil {
		t.Fatal(err)
	}
	e, err := m.NewTiledEvaluator(w, h, side, tg)
	if err != nil {
		t.Fatal(err)
	}
	if e.Tiles() < 4 {
		t.Fatalf("%d tiles: the case does not tile", e.Tiles())
	}
	if err := e.Evaluate(x, gotGrad, &got); err != nil {
		t.Fatal(err)
	}
	// The style sums against float64 Grams: the untiled graph's float32
	// Gram is the less exact of the two (up to 1.3e-5 on the tiny models,
	// 2.6e-4 at conv5_1 of the full VGG19 at 512x384, whose untiled CPU form
	// runs Winograd convolutions), so the tiled sums must match float64 to
	// 1e-5 and the untiled ones only show they compute the same thing.
	for _, l := range style {
		feats, err := m.Features(x, w, h, ActivationKey(l))
		if err != nil {
			t.Fatal(err)
		}
		g := graphstest.Gram(feats[ActivationKey(l)].Value().([][][][]float32)[0])
		a := tg.Grams[l].Value().([][]float32)
		var exact float64
		for r := range g {
			for s := range g[r] {
				d := g[r][s] - 0.5*(float64(a[r][s])+float64(a[s][r]))
				exact += d * d
			}
		}
		i := m.Meta.LayerIndex(l)
		if d := math.Abs(float64(got.StyleLayers[i]) - exact); d > 1e-5*exact {
			t.Errorf("%s: tiled style sum %g, float64 %g (relative %.2g)", l, got.StyleLayers[i], exact, d/exact)
		}
		if d := math.Abs(float64(want.StyleLayers[i]) - exact); d > 1e-3*exact {
			t.Errorf("%s: untiled style sum %g, float64 %g (relative %.2g)", l, want.StyleLayers[i], exact, d/exact)
		}
		want.StyleLayers[i] = float32(exact)
	}
	want.Style = 0
	for i, s := range want.StyleLayers {
		want.Style += tg.StyleWeights[i] * s
	}
	compareLosses(t, what, want, got, wantGrad, gotGrad)

	// The targets made in tiles are the untiled ones too.
	keys := []string{ActivationKey(content[0]), GramKey(style[len(style)-1]), SizeKey(content[0])}
	plain, err := m.Features(x, w, h, keys...)
	if err != nil {
		t.Fatal(err)
	}
	tiled, err := m.TiledFeatures(x, w, h, side, keys...)
	if err != nil {
		t.Fatal(err)
	}
	ph, pw, _ := plain[keys[2]].HW()
	th, tw, _ := tiled[keys[2]].HW()
	if ph != th || pw != tw {
		t.Errorf("size %dx%d tiled, %dx%d untiled", tw, th, pw, ph)
	}
	a, b := flat(plain[keys[0]].Value()), flat(tiled[keys[0]].Value())
	ga, gb := flat(plain[keys[1]].Value()), flat(tiled[keys[1]].Value())
	for _, p := range [][2][]float32{{a, b}, {ga, gb}} {
		if len(p[0]) != len(p[1]) {
			t.Fatalf("%d values tiled, %d untiled", len(p[1]), len(p[0]))
		}
		var top, worst float64
		for i := range p[0] {
			top = max(top, math.Abs(float64(p[0][i])))
			worst = max(worst, math.Abs(float64(p[0][i]-p[1][i])))
		}
		if worst > 1e-5*top {
			t.Errorf("tiled features differ by %.3g of their largest value", worst/top)
		}
	}
}

// The full-width random VGG19 (make export) at 512x384 in tiles of 128, the
// paper's layers: run where CI=true (it takes minutes on a 2-core CPU).
func TestTiledEvaluationIsExactOnTheFullVGG19(t *testing.T) {
	if os.Getenv("CI") != "true" {
		t.Skip("CI=true runs it (minutes on 2 cores; needs make export)")
	}
	m, err := Load(graphstest.Path(t, "models", "vgg19-random"))
	if err != nil {
		t.Fatal(err)
	}
	checkTiled(t, m, "vgg19-random", 512, 384, 128, []string{"conv4_2"},
		[]string{"conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"}, TV{Vertical: 1e-4, Horizontal: 1e-4})
}

// flat flattens an activation or a Gram matrix.
func flat(v any) []float32 {
	var out []float32
	switch v := v.(type) {
	case [][][][]float32:
		for _, r := range v[0] {
			for _, p := range r {
				out = append(out, p...)
			}
		}
	case [][]float32:
		for _, r := range v {
			out = append(out, r...)
		}
	}
	return out
}

func TestTVEvalMatchesFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	w, h := 7, 5
	x := randomImage(rng, w, h, 10)
	for _, tv := range []TV{{Vertical: 0.3, Horizontal: 0.7}, {Grid: 0.5, GridPower: 1.25}, {Grid: 2, GridPower: 1}} {
		grad := make([]float32, len(x))
		tv.Eval(x, grad, w, h)
		for _, i := range []int{0, 5, 17, 40, len(x) - 1} {
			// Central differences in float64 on a float64 copy.
			f := func(d float64) float64 {
				y := make([]float32, len(x))
				copy(y, x)
				y[i] += float32(d)
				return tv.Eval(y, make([]float32, len(y)), w, h)
			}
			num := (f(1e-2) - f(-1e-2)) / 2e-2
			if math.Abs(num-float64(grad[i])) > 1e-2*math.Max(1, math.Abs(num)) {
				t.Errorf("%+v: d/dx[%d] = %g, finite differences %g", tv, i, grad[i], num)
			}
		}
	}
}

// A tiled evaluation frees its tiles' TensorFlow tensors as it goes. Their C
// memory is freed by finalizers after a collection, and a tiled pass
// allocates almost nothing on Go's heap, so with a large heap (a print-size
// run's GBs of pointer-free vectors) the collector would not run: here
// automatic collection is off, which the collector's pacing amounts to.
func TestTiledEvaluationFreesItsTensors(t *testing.T) {
	m := tiny(t)
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	const w, h, side = 320, 240, 32
	rng := rand.New(rand.NewPCG(3, 4))
	tg := tileProblem(t, m, rng, w, h, []string{"conv4_2"}, []string{"conv1_1", "conv3_1", "conv5_1"}, TV{})
	e, err := m.NewTiledEvaluator(w, h, side, tg)
	if err != nil {
		t.Fatal(err)
	}
	x, grad := randomImage(rng, w, h, 100), make([]float32, w*h*3)
	var l Losses
	var rss []float64
	for range 3 {
		if err := e.Evaluate(x, grad, &l); err != nil {
			t.Fatal(err)
		}
		rss = append(rss, vmRSS(t))
		if p := e.PassSeconds; p[0] <= 0 || p[1] <= 0 || p[0]+p[1] > l.RunSeconds {
			t.Errorf("pass times %v, evaluation %g s", p, l.RunSeconds)
		}
	}
	// 80 tiles' inputs, content boxes and gradients: 26 MB an evaluation
	// when nothing is freed, 1 MB in all when they are.
	if grown := rss[2] - rss[0]; grown > 16e6 {
		t.Errorf("resident memory grew by %.0f MB over two tiled evaluations (%v)", grown/1e6, rss)
	}
}

// vmRSS is this process's resident memory in bytes (VmRSS, Linux).
func vmRSS(t *testing.T) float64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status:", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb * 1024
		}
	}
	t.Skip("no VmRSS")
	return 0
}
