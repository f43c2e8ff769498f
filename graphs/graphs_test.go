package graphs

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/styletransfer/gostyle/graphs/graphstest"
)

func tiny(t *testing.T) *Model {
	t.Helper()
	m, err := Load(graphstest.TinyModel(t))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func randomImage(rng *rand.Rand, w, h int, scale float64) []float32 {
	img := make([]float32, w*h*3)
	for i := range img {
		img[i] = float32(scale * (rng.Float64()*2 - 1))
	}
	return img
}

func TestLoadReadsTheExportersMetadata(t *testing.T) {
	md := tiny(t).Meta
	if md.Arch != "vgg19" || len(md.Layers) != 16 || md.Layers[0] != "conv1_1" || md.Layers[15] != "conv5_4" {
		t.Errorf("layers: %s %v", md.Arch, md.Layers)
	}
	if md.Channels[0] != 4 || md.Channels[15] != 32 || md.WidthDivisor != 16 {
		t.Errorf("channels %v divisor %d", md.Channels, md.WidthDivisor)
	}
	if md.Pooling != "avg" || md.Weights != "random" || md.Pretrained() || md.Mean() != [3]float32{123, 117, 104} {
		t.Errorf("metadata: %+v", md)
	}
	if !strings.Contains(md.Describe(), "not the paper's ImageNet VGG") {
		t.Errorf("Describe() hides random weights: %s", md.Describe())
	}
}

func TestLoadFailsWithErrorsNotPanics(t *testing.T) {
	dir := t.TempDir()
	notModel := filepath.Join(dir, "empty")
	os.Mkdir(notModel, 0o755)
	garbage := filepath.Join(dir, "garbage")
	os.Mkdir(garbage, 0o755)
	os.WriteFile(filepath.Join(garbage, "saved_model.pb"), []byte("not a protobuf at all"), 0o644)
	for path, want := range map[string]string{
		filepath.Join(dir, "missing"): "no such folder",
		notModel:                      "no saved_model.pb",
		garbage:                       "saved_model.pb",
	} {
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("Load(%s) = %v, want an error naming it and %q", path, err, want)
		}
	}
}

// SAME pooling: every 2x2/2 pool rounds up, so odd sizes lose nothing.
func TestLayerSizesFollowSamePooling(t *testing.T) {
	m := tiny(t)
	img := randomImage(rand.New(rand.NewPCG(1, 1)), 63, 47, 50)
	sizes, err := m.LayerSizes(img, 63, 47, []string{"conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"})
	if err != nil {
		t.Fatal(err)
	}
	h, w := 47, 63
	for _, l := range []string{"conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"} {
		if got := sizes[l]; got.H != h || got.W != w {
			t.Errorf("%s: %dx%d want %dx%d", l, got.H, got.W, h, w)
		}
		h, w = (h+1)/2, (w+1)/2
	}
}

func TestFeaturesGramIsFTransposeF(t *testing.T) {
	m := tiny(t)
	img := randomImage(rand.New(rand.NewPCG(2, 2)), 32, 24, 60)
	res, err := m.Features(img, 32, 24, ActivationKey("conv2_1"), GramKey("conv2_1"))
	if err != nil {
		t.Fatal(err)
	}
	want := graphstest.Gram(res[ActivationKey("conv2_1")].Value().([][][][]float32)[0])
	got := res[GramKey("conv2_1")].Value().([][]float32)
	for i := range want {
		for j := range want[i] {
			if d := math.Abs(float64(got[i][j]) - want[i][j]); d > 1e-5*math.Max(math.Abs(want[i][j]), 1) {
				t.Fatalf("gram[%d][%d] = %g want %g", i, j, got[i][j], want[i][j])
			}
		}
	}
}

// The gradient Go reads back (layout, scale) matches central finite differences
// of the loss Go reads back, through SetTargets and Evaluate.
func TestEvaluateGradientMatchesFiniteDifferences(t *testing.T) {
	m := tiny(t)
	const w, h = 16, 12
	rng := rand.New(rand.NewPCG(3, 3))
	target := randomImage(rng, w, h, 50)
	feats, err := m.Features(target, w, h, ActivationKey("conv2_1"), GramKey("conv1_1"))
	if err != nil {
		t.Fatal(err)
	}
	cw, sw := make([]float32, 16), make([]float32, 16)
	cw[m.Meta.LayerIndex("conv2_1")] = 1e-2
	sw[m.Meta.LayerIndex("conv1_1")] = 1e-6
	err = m.SetTargets(Targets{
		Content:        map[string]Tensor{"conv2_1": feats[ActivationKey("conv2_1")]},
		Grams:          map[string]Tensor{"conv1_1": feats[GramKey("conv1_1")]},
		ContentWeights: cw, StyleWeights: sw, TV: TV{Vertical: 1e-3, Horizontal: 2e-3, Grid: 1e-3, GridPower: 1.25},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := m.NewEvaluator(w, h)
	x := randomImage(rng, w, h, 50)
	grad := make([]float32, len(x))
	var l Losses
	if err := e.Evaluate(x, grad, &l); err != nil {
		t.Fatal(err)
	}
	if sum := l.Content + l.Style + l.TV; math.Abs(float64(sum-l.Total)) > 1e-5*float64(l.Total) {
		t.Errorf("total %g != content+style+tv %g", l.Total, sum)
	}
	scratch := make([]float32, len(x))
	const step = 0.5 // pixel units (values span +-50); float32 loss, so not smaller
	for _, i := range []int{0, 7, 100, 291, len(x) - 1} {
		x0 := x[i]
		x[i] = x0 + step
		var lp, lm Losses
		if err := e.Evaluate(x, scratch, &lp); err != nil {
			t.Fatal(err)
		}
		x[i] = x0 - step
		if err := e.Evaluate(x, scratch, &lm); err != nil {
			t.Fatal(err)
		}
		x[i] = x0
		fd := (float64(lp.Total) - float64(lm.Total)) / (2 * step)
		// 2%, plus a floor for the digits float32 loses in lp-lm (eps ~6e-8 of total).
		if d := math.Abs(fd - float64(grad[i])); d > 0.02*math.Abs(fd)+1e-5*float64(l.Total)/step {
			t.Errorf("grad[%d] = %g, finite difference %g", i, grad[i], fd)
		}
	}
}

func TestEvaluateRejectsWrongSizes(t *testing.T) {
	m := tiny(t)
	e := m.NewEvaluator(8, 8)
	var l Losses
	if err := e.Evaluate(make([]float32, 10), make([]float32, 10), &l); err == nil {
		t.Error("no error for a wrong-sized image")
	}
}

// BenchmarkEvaluate is one loss-and-gradient call on the tiny model; the
// allocation count shows what the per-iteration path costs on the Go side.
func BenchmarkEvaluate(b *testing.B) {
	m, err := Load(graphstest.TinyModel(b))
	if err != nil {
		b.Fatal(err)
	}
	const w, h = 128, 96
	if err := m.SetTargets(Targets{ContentWeights: make([]float32, 16), StyleWeights: make([]float32, 16)}); err != nil {
		b.Fatal(err)
	}
	e := m.NewEvaluator(w, h)
	x := randomImage(rand.New(rand.NewPCG(4, 4)), w, h, 50)
	grad := make([]float32, len(x))
	var l Losses
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Evaluate(x, grad, &l); err != nil {
			b.Fatal(err)
		}
	}
}

// A run's deepest used layer picks the loss signature: raw sums past it are
// 0 (not computed) even where a coefficient was given.
func TestEvaluatorComputesUpToTheDeepestUsedLayer(t *testing.T) {
	m := tiny(t)
	const w, h = 20, 16
	x := randomImage(rand.New(rand.NewPCG(5, 5)), w, h, 50)
	for _, deepest := range []string{"conv1_1", "conv3_1", "conv5_4"} {
		sw := make([]float32, 16)
		for i := range m.Meta.LayerIndex(deepest) + 1 {
			sw[i] = 1e-9
		}
		if err := m.SetTargets(Targets{ContentWeights: make([]float32, 16), StyleWeights: sw}); err != nil {
			t.Fatal(err)
		}
		var l Losses
		if err := m.NewEvaluator(w, h).Evaluate(x, make([]float32, len(x)), &l); err != nil {
			t.Fatal(err)
		}
		d := m.Meta.LayerIndex(deepest)
		for i, raw := range l.StyleLayers {
			if computed := raw != 0; computed != (i <= d) {
				t.Errorf("deepest %s: style sum of %s = %g", deepest, m.Meta.Layers[i], raw)
			}
		}
	}
}

func TestFeaturesOfShallowLayersAndUnknownKeys(t *testing.T) {
	m := tiny(t)
	img := randomImage(rand.New(rand.NewPCG(6, 6)), 10, 8, 50)
	res, err := m.Features(img, 10, 8, SizeKey("conv1_2"), GramKey("conv1_1"))
	if err != nil {
		t.Fatal(err)
	}
	if h, w, err := res[SizeKey("conv1_2")].HW(); err != nil || h != 8 || w != 10 {
		t.Errorf("conv1_2 size %dx%d %v", h, w, err)
	}
	if _, err := m.Features(img, 10, 8, "conv9_9"); err == nil || !strings.Contains(err.Error(), "conv9_9") {
		t.Errorf("unknown key: %v", err)
	}
}

func TestLoadWithThreadOptions(t *testing.T) {
	m, err := LoadWith(graphstest.TinyModel(t), Options{IntraOpThreads: 1, InterOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Features(make([]float32, 4*4*3), 4, 4, "conv5_4"); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadWith(graphstest.TinyModel(t), Options{IntraOpThreads: -1}); err == nil {
		t.Error("negative thread count accepted")
	}
}

func TestSetTargetsRejectsAGridPowerBelowOne(t *testing.T) {
	m := tiny(t)
	err := m.SetTargets(Targets{ContentWeights: make([]float32, 16), StyleWeights: make([]float32, 16),
		TV: TV{Grid: 1, GridPower: 0.5}})
	if err == nil || !strings.Contains(err.Error(), "power") {
		t.Errorf("grid power 0.5: %v", err)
	}
}

// Nothing in graphs is VGG19's: the tiny VGG16 and max-pooling models load
// and evaluate through the same contract, layers read from their metadata.
func TestOtherArchitectures(t *testing.T) {
	for _, c := range []struct {
		dir, arch, pooling, last string
		layers                   int
	}{{"vgg16-tiny", "vgg16", "max", "conv5_3", 13}, {"vgg19-tiny-max", "vgg19", "max", "conv5_4", 16}} {
		m, err := Load(graphstest.Path(t, "testdata", c.dir))
		if err != nil {
			t.Fatal(err)
		}
		md := m.Meta
		if md.Arch != c.arch || md.Pooling != c.pooling || len(md.Layers) != c.layers || md.Layers[c.layers-1] != c.last {
			t.Errorf("%s: %s %s %v", c.dir, md.Arch, md.Pooling, md.Layers)
		}
		const w, h = 18, 14
		x := randomImage(rand.New(rand.NewPCG(7, 7)), w, h, 50)
		feats, err := m.Features(x, w, h, GramKey(c.last))
		if err != nil {
			t.Fatal(err)
		}
		sw := make([]float32, c.layers)
		sw[c.layers-1] = 1
		err = m.SetTargets(Targets{Grams: map[string]Tensor{c.last: feats[GramKey(c.last)]},
			ContentWeights: make([]float32, c.layers), StyleWeights: sw})
		if err != nil {
			t.Fatal(err)
		}
		var l Losses
		// The style picture itself: its Gram equals the target, so the loss is 0.
		if err := m.NewEvaluator(w, h).Evaluate(x, make([]float32, len(x)), &l); err != nil {
			t.Fatal(err)
		}
		// Rounding leaves (G-A)^2 ~ (1e-7 |G|)^2 per entry: allow 1e-9 of sum(A^2).
		var norm float64
		for _, row := range feats[GramKey(c.last)].Value().([][]float32) {
			for _, v := range row {
				norm += float64(v) * float64(v)
			}
		}
		if len(l.StyleLayers) != c.layers || norm == 0 || float64(l.Total) > 1e-9*norm {
			t.Errorf("%s: losses %+v, sum(A^2) %g", c.dir, l, norm)
		}
	}
}

// LayerSize (a test helper) is the spatial size of a layer's feature map for some input.
type LayerSize struct{ H, W int }

// LayerSizes returns h x w of each layer's feature map for an image of the
// given size, as the graph itself computes it (pooling padding included).
func (m *Model) LayerSizes(img []float32, width, height int, layers []string) (map[string]LayerSize, error) {
	keys := make([]string, len(layers))
	for i, l := range layers {
		keys[i] = SizeKey(l)
	}
	res, err := m.Features(img, width, height, keys...)
	if err != nil {
		return nil, err
	}
	out := make(map[string]LayerSize, len(layers))
	for _, l := range layers {
		h, w, err := res[SizeKey(l)].HW()
		if err != nil {
			return nil, fmt.Errorf("features %s: %w", SizeKey(l), err)
		}
		out[l] = LayerSize{H: h, W: w}
	}
	return out, nil
}
