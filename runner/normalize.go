package runner

import (
	"fmt"
	"math"
)

// layerShape is a feature map's size: n channels over h x w positions.
type layerShape struct{ n, h, w float64 }

func (s layerShape) m() float64 { return s.h * s.w }

// tvTerm are the total-variation coefficients: vertical and horizontal
// weigh sum(dy^2) and sum(dx^2) over the whole image; grid weighs the sum
// over the (H-1)x(W-1) grid of (dx^2 + dy^2)^gridPower.
type tvTerm struct{ vertical, horizontal, grid, gridPower float64 }

// normalization turns raw sums into the loss of one published formula. The
// graph returns raw sums: sum (x-p)^2 per content layer and sum (G-A)^2 per
// style layer with G = F^T F; these functions return what multiplies them.
// Layer weights, content_weight and style_weight are applied by the caller
// except where a formula rescales them (styleLayerSum1, perLayerStyle).
type normalization struct {
	content func(s layerShape) float64
	style   func(s layerShape, img layerShape) float64 // img: the input picture (3 channels, H x W)
	tv      func(weight float64, h, w float64) tvTerm
	// styleLayerSum1 normalises the style layer weights to sum 1.
	styleLayerSum1 bool
	// divideByLayers divides the style weight by the number of style layers.
	divideByLayers bool
}

func plainTV(weight, _, _ float64) tvTerm { return tvTerm{vertical: weight, horizontal: weight} }

var normalizations = map[string]normalization{
	// The seed notebook: content 1/(2 sqrt(N) sqrt(M)) sum (x-p)^2, style
	// 1/(4 N^2 M^2) sum (G-A)^2, TV raw sums of squared differences.
	"notebook": {
		content: func(s layerShape) float64 { return 1 / (2 * math.Sqrt(s.n) * math.Sqrt(s.m())) },
		style:   func(s, _ layerShape) float64 { return 1 / (4 * s.n * s.n * s.m() * s.m()) },
		tv:      plainTV,
	},
	// Gatys et al. 2015, equations 1 and 4: content 1/2 sum (F-P)^2, style
	// w_l / (4 N^2 M^2) sum (G-A)^2.
	"paper": {
		content: func(layerShape) float64 { return 0.5 },
		style:   func(s, _ layerShape) float64 { return 1 / (4 * s.n * s.n * s.m() * s.m()) },
		tv:      plainTV,
	},
	// anishathalye/neural-style: content 2 l2_loss(x-p)/size = sum/(NM);
	// Gram G/(NM), style 2 l2_loss/size of the Gram = sum (G-A)^2/((NM)^2 N^2);
	// style layer weights (after the exponent) sum to 1; TV 2 l2_loss of each
	// direction over its number of neighbour pairs (times 3 channels).
	"neural-style": {
		content: func(s layerShape) float64 { return 1 / (s.n * s.m()) },
		style:   func(s, _ layerShape) float64 { return 1 / (s.n * s.m() * s.n * s.m() * s.n * s.n) },
		tv: func(w, h, wd float64) tvTerm {
			return tvTerm{vertical: w / ((h - 1) * wd * 3), horizontal: w / (h * (wd - 1) * 3)}
		},
		styleLayerSum1: true,
	},
	// jcjohnson/neural-style (Lua): content MSE of features = sum/(NM);
	// Gram divided by C*H*W, MSE of Grams = sum (G-A)^2/((NM)^2 N^2); TVLoss's
	// gradient is that of strength/2 * sum over the (H-1)x(W-1) grid of
	// dx^2 + dy^2.
	"jcjohnson": {
		content: func(s layerShape) float64 { return 1 / (s.n * s.m()) },
		style:   func(s, _ layerShape) float64 { return 1 / (s.n * s.m() * s.n * s.m() * s.n * s.n) },
		tv:      func(w, _, _ float64) tvTerm { return tvTerm{grid: w / 2, gridPower: 1} },
	},
	// The Keras neural style example: content sum (x-p)^2; style
	// sum (G-A)^2 / (4 * 3^2 * (H*W)^2) with the input's 3 channels and H*W
	// pixels, times style_weight / number of style layers; TV
	// sum over the (H-1)x(W-1) grid of (dx^2 + dy^2)^1.25.
	"keras": {
		content:        func(layerShape) float64 { return 1 },
		style:          func(_, img layerShape) float64 { return 1 / (4 * 9 * img.m() * img.m()) },
		tv:             func(w, _, _ float64) tvTerm { return tvTerm{grid: w, gridPower: 1.25} },
		divideByLayers: true,
	},
}

func lookupNormalization(name string) (normalization, error) {
	n, ok := normalizations[name]
	if !ok {
		return n, fmt.Errorf("key normalization: %q is not implemented", name)
	}
	return n, nil
}

// coefficients folds weights, strengths and the normalisation into
// per-layer coefficients (Meta.Layers order) for content and style, and the
// TV term, for an output of h x w pixels. shapes holds every used layer's shape.
func (p layerPlan) coefficients(norm normalization, contentWeight, styleWeight, tvWeight float64, shapes map[string]layerShape, nLayers, h, w int) (content, style []float32, tv tvTerm) {
	content, style = make([]float32, nLayers), make([]float32, nLayers)
	img := layerShape{n: 3, h: float64(h), w: float64(w)}
	for _, l := range p.content {
		content[l.index] = float32(contentWeight * l.weight * norm.content(shapes[l.name]))
	}
	sw := styleWeight
	sum := 0.0
	for _, l := range p.style {
		sum += l.weight
	}
	if norm.styleLayerSum1 && sum > 0 {
		sw /= sum
	}
	if norm.divideByLayers && len(p.style) > 0 {
		sw /= float64(len(p.style))
	}
	for _, l := range p.style {
		style[l.index] = float32(sw * l.weight * norm.style(shapes[l.name], img))
	}
	if tvWeight > 0 {
		tv = norm.tv(tvWeight, float64(h), float64(w))
	}
	return content, style, tv
}
