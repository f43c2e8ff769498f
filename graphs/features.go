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
