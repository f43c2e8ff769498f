package graphs

import (
	"fmt"

	tf "github.com/galeone/tensorflow/tensorflow/go"
)

// Output keys of the features signature for a layer.
func ActivationKey(layer string) string { return layer }
func GramKey(layer string) string       { return layer + "_gram" }
func SizeKey(layer string) string       { return layer + "_hw" }

// Features runs the network once on an image (NHWC data, mean subtracted)
// and returns the named outputs of the features signature (see the *Key
// functions). Only what is asked for is computed.
func (m *Model) Features(img []float32, width, height int, keys ...string) (map[string]*tf.Tensor, error) {
	in, err := imageTensor(img, width, height)
	if err != nil {
		return nil, err
	}
	res, err := m.run(sigFeatures, map[string]*tf.Tensor{"image": in}, keys...)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*tf.Tensor, len(keys))
	for i, k := range keys {
		out[k] = res[i]
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
		hw, ok := res[SizeKey(l)].Value().([]int32)
		if !ok || len(hw) != 2 {
			return nil, fmt.Errorf("features %s: want int32[2]", SizeKey(l))
		}
		out[l] = LayerSize{H: int(hw[0]), W: int(hw[1])}
	}
	return out, nil
}
