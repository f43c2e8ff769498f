package graphs

import (
	"fmt"
	"strings"

	tf "github.com/galeone/tensorflow/tensorflow/go"
)

// Output keys of the features signature for a layer.
func ActivationKey(layer string) string { return layer }
func GramKey(layer string) string       { return layer + "_gram" }
func SizeKey(layer string) string       { return layer + "_hw" }

// Tensor is a value held by TensorFlow (an activation, a Gram matrix, a
// layer size). Targets pass back to SetTargets as they are, without copies.
// An activation TiledFeatures assembled is held in Go instead (goMap).
type Tensor struct {
	t     *tf.Tensor
	goMap *featureMap
}

// Value copies the tensor into Go: [][][][]float32 for activations,
// [][]float32 for Gram matrices, []int32 for sizes.
func (t Tensor) Value() any {
	if f := t.goMap; f != nil {
		out := [][][][]float32{make([][][]float32, f.h)}
		for y := range f.h {
			out[0][y] = make([][]float32, f.w)
			for x := range f.w {
				out[0][y][x] = f.data[(y*f.w+x)*f.c:][:f.c:f.c]
			}
		}
		return out
	}
	return t.t.Value()
}

// HW reads a layer size output ([h, w]).
func (t Tensor) HW() (h, w int, err error) {
	hw, ok := t.t.Value().([]int32)
	if !ok || len(hw) != 2 {
		return 0, 0, fmt.Errorf("want an int32 [h, w], got %v", t.t.Shape())
	}
	return int(hw[0]), int(hw[1]), nil
}

// MeanGram averages Gram matrices of the same layer (several style pictures).
func MeanGram(grams []Tensor) (Tensor, error) {
	if len(grams) == 1 {
		return grams[0], nil
	}
	var sum [][]float32
	for _, g := range grams {
		m, ok := g.t.Value().([][]float32)
		if !ok {
			return Tensor{}, fmt.Errorf("mean gram: want a matrix, got shape %v", g.t.Shape())
		}
		if sum == nil {
			sum = m
			continue
		}
		if len(m) != len(sum) {
			return Tensor{}, fmt.Errorf("mean gram: %dx%d and %dx%d matrices", len(sum), len(sum), len(m), len(m))
		}
		for i := range m {
			for j := range m[i] {
				sum[i][j] += m[i][j]
			}
		}
	}
	inv := 1 / float32(len(grams))
	for _, row := range sum {
		for j := range row {
			row[j] *= inv
		}
	}
	t, err := tf.NewTensor(sum)
	return Tensor{t: t}, err
}

// keyLayer is the layer a features output key belongs to, or -1.
func (m *Model) keyLayer(key string) int {
	if i := m.Meta.LayerIndex(key); i >= 0 {
		return i
	}
	for _, suffix := range []string{GramKey(""), SizeKey("")} {
		if l, ok := strings.CutSuffix(key, suffix); ok {
			if i := m.Meta.LayerIndex(l); i >= 0 {
				return i
			}
		}
	}
	return -1
}

// Features runs the network once on an image (NHWC data, mean subtracted)
// and returns the named outputs (see the *Key functions). It computes the
// layers up to the deepest one asked for, no further.
func (m *Model) Features(img []float32, width, height int, keys ...string) (map[string]Tensor, error) {
	deepest := 0
	for _, k := range keys {
		i := m.keyLayer(k)
		if i < 0 {
			return nil, fmt.Errorf("features: model has no output %q (layers are %s)", k, strings.Join(m.Meta.Layers, ", "))
		}
		deepest = max(deepest, i)
	}
	out := make(map[string]Tensor, len(keys))
	pic := pictureKey(img, width, height)
	var missing []string
	for _, k := range keys {
		if t, ok := m.features.get(cacheKey{pic, k}); ok {
			out[k] = t
		} else {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	in, err := imageTensor(img, width, height)
	if err != nil {
		return nil, err
	}
	depth, err := m.depthFor(featuresSig, deepest)
	if err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	res, err := m.run(featuresSig(m.Meta.Layers[depth]), map[string]*tf.Tensor{"image": in}, missing...)
	if err != nil {
		return nil, err
	}
	for i, k := range missing {
		out[k] = Tensor{t: res[i]}
		m.features.put(cacheKey{pic, k}, out[k])
	}
	return out, nil
}

// LayerSize is the spatial size of a layer's feature map for some input.
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
