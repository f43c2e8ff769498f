package plan

import (
	"fmt"

	"github.com/styletransfer/gostyle/graphs"
	"github.com/styletransfer/gostyle/runner/normalize"
	"github.com/styletransfer/gostyle/runner/picture"
)

// ScaleTargets are one scale's targets and what the loop adds back to the
// reported loss.
type ScaleTargets struct {
	graphs.Targets
	// styleConst[i] is the raw constant of style layer i: with blend weights
	// b_s summing to 1, sum_s b_s ||G - A_s||^2 = ||G - sum_s b_s A_s||^2 +
	// sum_s b_s ||A_s||^2 - ||sum_s b_s A_s||^2. The graph holds the blended
	// target; the constant makes the reported loss the weighted sum exactly.
	styleConst []float32
	constTotal float32 // sum_i StyleWeights[i] * styleConst[i]
}

// Adjust adds the blended styles' constant to a loss evaluation.
func (t *ScaleTargets) Adjust(l *graphs.Losses) {
	if t.constTotal == 0 {
		return
	}
	for i, c := range t.styleConst {
		l.StyleLayers[i] += c
	}
	l.Style += t.constTotal
	l.Total += t.constTotal
}

// Targets runs the network on the content and style pictures of one output
// size and folds weights, strengths and the normalisation into coefficients.
func (ex *Experiment) Targets(content *picture.Tensor, styles []*picture.Tensor) (*ScaleTargets, error) {
	cfg, md, p := ex.cfg, ex.model.Meta, ex.layers
	norm, err := normalize.Lookup(cfg.Normalization)
	if err != nil {
		return nil, err
	}
	keys := p.featureKeys()
	feats, err := ex.features(content, keys)
	if err != nil {
		return nil, fmt.Errorf("content features: %w", err)
	}
	shapes := map[string]normalize.Shape{}
	for _, l := range append(append([]layerWeight{}, p.content...), p.style...) {
		h, w, err := feats[graphs.SizeKey(l.name)].HW()
		if err != nil {
			return nil, fmt.Errorf("features %s: %w", graphs.SizeKey(l.name), err)
		}
		shapes[l.name] = normalize.Shape{N: float64(md.Channels[l.index]), H: float64(h), W: float64(w)}
	}
	t := &ScaleTargets{Targets: graphs.Targets{Content: map[string]graphs.Tensor{}, Grams: map[string]graphs.Tensor{}},
		styleConst: make([]float32, len(md.Layers))}
	var tv normalize.TV
	t.ContentWeights, t.StyleWeights, tv = p.coefficients(norm, cfg.ContentWeight, cfg.StyleWeight, cfg.TVWeight, shapes, len(md.Layers), content.Height, content.Width)
	t.TV = graphs.TV{Vertical: float32(tv.Vertical), Horizontal: float32(tv.Horizontal), Grid: float32(tv.Grid), GridPower: float32(tv.GridPower)}
	for _, l := range p.content {
		t.Content[l.name] = feats[graphs.ActivationKey(l.name)]
	}
	if len(p.style) > 0 {
		if err := ex.styleGrams(t, styles, shapes, keys); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// featureKeys are the features outputs targets need: the content layers'
// activations, every layer's size and the style layers' Grams. The content
// and style pictures all fetch this one list, though each uses part of it:
// TensorFlow prepares (optimises and instantiates) a graph for each new list
// of fetches, 0.3-0.4 s on a 2-core CPU, against a few milliseconds for the
// Grams of the content picture and nothing for the style pictures'
// activations, which the run computes anyway.
func (p layerPlan) featureKeys() []string {
	var keys []string
	seen := map[string]bool{}
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for _, l := range p.content {
		add(graphs.ActivationKey(l.name))
		add(graphs.SizeKey(l.name))
	}
	for _, l := range p.style {
		add(graphs.GramKey(l.name))
		add(graphs.SizeKey(l.name))
	}
	return keys
}

// styleGrams stores each style layer's blended target Gram and its constant.
// A style picture of another size (style_scale) has its Gram rescaled to the
// output's positions, A * M_out / M_style, so Grams compare per position.
// keys are featureKeys.
func (ex *Experiment) styleGrams(t *ScaleTargets, styles []*picture.Tensor, shapes map[string]normalize.Shape, keys []string) error {
	layers := ex.layers.style
	blend := make([][][]float64, len(layers)) // layer -> sum_s b_s A_s
	sq := make([]float64, len(layers))        // layer -> sum_s b_s ||A_s||^2
	for si, st := range styles {
		feats, err := ex.gramFeatures(st, keys)
		if err != nil {
			return fmt.Errorf("style features (%s): %w", ex.cfg.Style[si], err)
		}
		for li, l := range layers {
			g, ok := feats[graphs.GramKey(l.name)].Value().([][]float32)
			if !ok {
				return fmt.Errorf("style %s: Gram is not a matrix", l.name)
			}
			h, w, err := feats[graphs.SizeKey(l.name)].HW()
			if err != nil {
				return fmt.Errorf("style features %s: %w", graphs.SizeKey(l.name), err)
			}
			scale := shapes[l.name].M() / float64(h*w)
			b := ex.blend[si]
			if blend[li] == nil {
				blend[li] = make([][]float64, len(g))
				for i := range g {
					blend[li][i] = make([]float64, len(g))
				}
			}
			for i, row := range g {
				for j, v := range row {
					a := float64(v) * scale
					blend[li][i][j] += b * a
					sq[li] += b * a * a
				}
			}
		}
	}
	for li, l := range layers {
		m := make([][]float32, len(blend[li]))
		norm2 := 0.0
		for i, row := range blend[li] {
			m[i] = make([]float32, len(row))
			for j, v := range row {
				m[i][j] = float32(v)
				norm2 += v * v
			}
		}
		g, err := graphs.NewGram(m)
		if err != nil {
			return fmt.Errorf("style %s: %w", l.name, err)
		}
		t.Grams[l.name] = g
		if len(styles) > 1 {
			c := sq[li] - norm2
			t.styleConst[l.index] = float32(c)
			t.constTotal += t.StyleWeights[l.index] * float32(c)
		}
	}
	return nil
}
