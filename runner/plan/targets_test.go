package plan

import (
	"slices"
	"testing"

	"github.com/styletransfer/gostyle/graphs"
	"github.com/styletransfer/gostyle/runner/config"
)

// The content and every style picture fetch one list of features, so
// TensorFlow prepares one graph for them all: each key once, the content
// layers' activations, every used layer's size and the style layers' Grams.
func TestFeatureKeysAreOneListForEveryPicture(t *testing.T) {
	p := layerPlan{
		content: []layerWeight{{name: "conv4_2", index: 10}},
		style:   []layerWeight{{name: "conv1_1", index: 0}, {name: "conv4_2", index: 10}},
	}
	got := p.featureKeys()
	want := []string{"conv4_2", "conv4_2_hw", "conv1_1_gram", "conv1_1_hw", "conv4_2_gram"}
	if !slices.Equal(got, want) {
		t.Fatalf("featureKeys = %v, want %v", got, want)
	}
}

// UsedLayers (what the model is loaded for) are exactly the layers
// planLayers keeps, so the loaded signatures reach every run's deepest one.
func TestUsedLayersAreThePlannedOnes(t *testing.T) {
	md := graphs.Metadata{Layers: []string{"conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv4_2", "conv5_1", "conv5_2"}}
	base := config.Config{
		ContentLayers: map[string]float64{"conv4_2": 1}, ContentWeight: 1, ContentWeightBlend: 1,
		StyleLayers: map[string]float64{"conv1_1": 1, "conv3_1": 0, "conv5_1": 0.5}, StyleWeight: 1, StyleLayerWeightExp: 1,
	}
	blend := base
	blend.ContentWeightBlend, blend.ContentBlendLayers = 0.5, []string{"conv4_2", "conv5_2"}
	noStyle := base
	noStyle.StyleWeight = 0
	noContent := base
	noContent.ContentWeight = 0
	for name, cfg := range map[string]config.Config{"base": base, "blend": blend, "no style": noStyle, "no content": noContent} {
		p := planLayers(cfg, md)
		var planned []string
		for _, l := range append(append([]layerWeight{}, p.content...), p.style...) {
			if !slices.Contains(planned, l.name) {
				planned = append(planned, l.name)
			}
		}
		used := UsedLayers(cfg)
		slices.Sort(planned)
		slices.Sort(used)
		used = slices.Compact(used)
		if !slices.Equal(used, planned) {
			t.Errorf("%s: UsedLayers %v, planned %v", name, used, planned)
		}
	}
}
