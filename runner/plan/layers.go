package plan

import (
	"github.com/styletransfer/gostyle/graphs"
	"github.com/styletransfer/gostyle/runner/config"
	"github.com/styletransfer/gostyle/runner/normalize"
)

// layerWeight is one used layer: its model index and its weight before the
// normalisation's coefficient.
type layerWeight struct {
	name   string
	index  int
	weight float64
}

// layerPlan is the used layers in model order, with user weights, blends
// and exponents applied.
type layerPlan struct {
	content, style []layerWeight
}

// Term is one used layer's content or style loss term.
type Term struct {
	Layer string
	Index int // in the model's layers
	Style bool
}

// terms are the plan's terms in model order, a layer's content term before
// its style term.
func (p layerPlan) terms() []Term {
	var out []Term
	c, s := p.content, p.style
	for len(c) > 0 || len(s) > 0 {
		if len(c) > 0 && (len(s) == 0 || c[0].index <= s[0].index) {
			out, c = append(out, Term{c[0].name, c[0].index, false}), c[1:]
		} else {
			out, s = append(out, Term{s[0].name, s[0].index, true}), s[1:]
		}
	}
	return out
}

// planLayers puts the used layers (usedLayers) in model order. Style: the
// k-th used layer's weight times style_layer_weight_exp^k.
func planLayers(cfg config.Config, md graphs.Metadata) layerPlan {
	content, style := usedLayers(cfg)
	var p layerPlan
	exp := 1.0
	for i, l := range md.Layers {
		if w, ok := content[l]; ok {
			p.content = append(p.content, layerWeight{l, i, w})
		}
		if w, ok := style[l]; ok {
			p.style = append(p.style, layerWeight{l, i, w * exp})
			exp *= cfg.StyleLayerWeightExp
		}
	}
	return p
}

// usedLayers decides which layers a run of cfg computes a loss at, with
// their weights: content_layers, with content_weight_blend b moving (1-b) of
// the first blend layer's weight to the second (anishathalye's
// conv4_2/conv5_2 blend), and style_layers; a layer counts where its weight
// and its term's weight are positive.
func usedLayers(cfg config.Config) (content, style map[string]float64) {
	content, style = map[string]float64{}, map[string]float64{}
	if cfg.ContentWeight > 0 {
		for l, w := range contentWeights(cfg) {
			if w > 0 {
				content[l] = w
			}
		}
	}
	if cfg.StyleWeight > 0 {
		for l, w := range cfg.StyleLayers {
			if w > 0 {
				style[l] = w
			}
		}
	}
	return content, style
}

// contentWeights are the content layers' weights after the blend.
func contentWeights(cfg config.Config) map[string]float64 {
	content := make(map[string]float64, len(cfg.ContentLayers)+1)
	for l, w := range cfg.ContentLayers {
		content[l] = w
	}
	if b := cfg.ContentWeightBlend; b != 1 {
		first, second := cfg.ContentBlendLayers[0], cfg.ContentBlendLayers[1]
		w := content[first]
		content[first] = b * w
		content[second] += (1 - b) * w
	}
	return content
}

// UsedLayers are the layers a run of cfg computes a loss at (usedLayers),
// in no particular order: what graphs.Options.Runs wants before the model's
// layer order is known.
func UsedLayers(cfg config.Config) []string {
	content, style := usedLayers(cfg)
	used := keysOf(content)
	for l := range style {
		if _, ok := content[l]; !ok {
			used = append(used, l)
		}
	}
	return used
}

func keysOf(m map[string]float64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// coefficients folds weights, strengths and the normalisation into
// per-layer coefficients (Meta.Layers order) for content and style, and the
// TV term, for an output of h x w pixels. shapes holds every used layer's shape.
func (p layerPlan) coefficients(norm normalize.Normalization, contentWeight, styleWeight, tvWeight float64, shapes map[string]normalize.Shape, nLayers, h, w int) (content, style []float32, tv normalize.TV) {
	content, style = make([]float32, nLayers), make([]float32, nLayers)
	img := normalize.Shape{N: 3, H: float64(h), W: float64(w)}
	for _, l := range p.content {
		content[l.index] = float32(contentWeight * l.weight * norm.Content(shapes[l.name]))
	}
	sw := styleWeight
	sum := 0.0
	for _, l := range p.style {
		sum += l.weight
	}
	if norm.StyleLayerSum1 && sum > 0 {
		sw /= sum
	}
	if norm.DivideByLayers && len(p.style) > 0 {
		sw /= float64(len(p.style))
	}
	for _, l := range p.style {
		style[l.index] = float32(sw * l.weight * norm.Style(shapes[l.name], img))
	}
	if tvWeight > 0 {
		tv = norm.TV(tvWeight, float64(h), float64(w))
	}
	return content, style, tv
}
