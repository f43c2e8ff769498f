package runner

import (
	"slices"
	"testing"
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
