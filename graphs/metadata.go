package graphs

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Format is the metadata format this code reads; the exporter writes it.
const Format = "styletransfer-vgg/2"

// Metadata is what the exporter records about a model (export/graph.py
// writes it into the `metadata` signature). Runs copy it into every output so
// a random-weight picture is never mistaken for an ImageNet one.
type Metadata struct {
	Format        string    `json:"format"`
	Arch          string    `json:"arch"`
	Layers        []string  `json:"layers"`
	Channels      []int     `json:"channels"`
	Pooling       string    `json:"pooling"`
	PoolPadding   string    `json:"pool_padding"`
	MeanRGB       []float64 `json:"mean_rgb"`
	Input         string    `json:"input"`
	Weights       string    `json:"weights"`
	WeightsSource string    `json:"weights_source"`
	Seed          *int64    `json:"seed"`
	WidthDivisor  int       `json:"width_divisor"`
	TensorFlow    string    `json:"tensorflow"`
	// Signatures lists the per-depth loss_<L> and features_<L> signatures and
	// says what they compute (graphs finds them by layer name).
	Signatures    map[string]any `json:"signatures"`
	ExportOptions map[string]any `json:"export_options"`
}

func parseMetadata(data []byte) (Metadata, error) {
	var md Metadata
	if err := json.Unmarshal(data, &md); err != nil {
		return md, fmt.Errorf("metadata is not JSON: %w", err)
	}
	return md, md.check()
}

func (md Metadata) check() error {
	switch {
	case md.Format != Format:
		return fmt.Errorf("metadata format %q, this runner reads %q (re-export the model)", md.Format, Format)
	case len(md.Layers) == 0:
		return fmt.Errorf("metadata lists no layers")
	case len(md.Channels) != len(md.Layers):
		return fmt.Errorf("metadata has %d channel counts for %d layers", len(md.Channels), len(md.Layers))
	case md.Pooling != "avg" && md.Pooling != "max":
		return fmt.Errorf("metadata pooling %q, want avg or max", md.Pooling)
	case len(md.MeanRGB) != 3:
		return fmt.Errorf("metadata mean_rgb has %d values, want 3", len(md.MeanRGB))
	case md.Input != "rgb_minus_mean":
		return fmt.Errorf("metadata input %q, want rgb_minus_mean", md.Input)
	case md.Weights == "":
		return fmt.Errorf("metadata does not say which weights the model holds")
	}
	for i, l := range md.Layers {
		if slices.Index(md.Layers, l) != i {
			return fmt.Errorf("metadata lists layer %s twice", l)
		}
		if md.Channels[i] < 1 {
			return fmt.Errorf("metadata: layer %s has %d channels", l, md.Channels[i])
		}
	}
	return nil
}

// LayerIndex is the position of a layer in the model's order, or -1.
func (md Metadata) LayerIndex(name string) int { return slices.Index(md.Layers, name) }

// Mean is the mean pixel the model expects subtracted, as float32 RGB.
func (md Metadata) Mean() [3]float32 {
	return [3]float32{float32(md.MeanRGB[0]), float32(md.MeanRGB[1]), float32(md.MeanRGB[2])}
}

// Pretrained says whether the weights come from ImageNet training.
func (md Metadata) Pretrained() bool { return md.Weights != "random" }

// Describe is one line naming the weights, for logs and picture captions.
func (md Metadata) Describe() string {
	s := fmt.Sprintf("%s %s pooling, weights %s (%s)", md.Arch, md.Pooling, md.Weights, md.WeightsSource)
	if md.WidthDivisor > 1 {
		s += fmt.Sprintf(", layer widths /%d", md.WidthDivisor)
	}
	if !md.Pretrained() {
		s += " - random weights, not the paper's ImageNet VGG"
	}
	return s
}
