// Package normalize holds the published loss normalisations, each formula as
// data with its citation. The graph returns raw sums: sum (x-p)^2 per content
// layer and sum (G-A)^2 per style layer with G = F^T F; a normalisation says
// what multiplies them to give one paper's or tool's loss. Its names are the
// values the config key normalization accepts (runner/config checks them
// against Names), so a formula added here is a value there.
package normalize

import (
	"fmt"
	"math"
)

// Shape is a feature map's size: N channels over H x W positions.
type Shape struct{ N, H, W float64 }

// M is the number of positions, H x W.
func (s Shape) M() float64 { return s.H * s.W }

// TV are the total-variation coefficients: Vertical and Horizontal weigh
// sum(dy^2) and sum(dx^2) over the whole image; Grid weighs the sum over the
// (H-1)x(W-1) grid of (dx^2 + dy^2)^GridPower.
type TV struct{ Vertical, Horizontal, Grid, GridPower float64 }

// Normalization turns raw sums into the loss of one published formula: its
// functions return what multiplies them. Layer weights, content_weight and
// style_weight are applied by the caller except where a formula rescales
// them (StyleLayerSum1, DivideByLayers).
type Normalization struct {
	Name    string
	Content func(s Shape) float64
	Style   func(s Shape, img Shape) float64 // img: the input picture (3 channels, H x W)
	TV      func(weight float64, h, w float64) TV
	// StyleLayerSum1 normalises the style layer weights to sum 1.
	StyleLayerSum1 bool
	// DivideByLayers divides the style weight by the number of style layers.
	DivideByLayers bool
}

func plainTV(weight, _, _ float64) TV { return TV{Vertical: weight, Horizontal: weight} }

// all is every normalisation, the config's default (notebook) first.
var all = []Normalization{
	// The seed notebook: content 1/(2 sqrt(N) sqrt(M)) sum (x-p)^2, style
	// 1/(4 N^2 M^2) sum (G-A)^2, TV raw sums of squared differences.
	{
		Name:    "notebook",
		Content: func(s Shape) float64 { return 1 / (2 * math.Sqrt(s.N) * math.Sqrt(s.M())) },
		Style:   func(s, _ Shape) float64 { return 1 / (4 * s.N * s.N * s.M() * s.M()) },
		TV:      plainTV,
	},
	// Gatys et al. 2015, equations 1 and 4: content 1/2 sum (F-P)^2, style
	// w_l / (4 N^2 M^2) sum (G-A)^2.
	{
		Name:    "paper",
		Content: func(Shape) float64 { return 0.5 },
		Style:   func(s, _ Shape) float64 { return 1 / (4 * s.N * s.N * s.M() * s.M()) },
		TV:      plainTV,
	},
	// anishathalye/neural-style: content 2 l2_loss(x-p)/size = sum/(NM);
	// Gram G/(NM), style 2 l2_loss/size of the Gram = sum (G-A)^2/((NM)^2 N^2);
	// style layer weights (after the exponent) sum to 1; TV 2 l2_loss of each
	// direction over its number of neighbour pairs (times 3 channels).
	{
		Name:    "neural-style",
		Content: func(s Shape) float64 { return 1 / (s.N * s.M()) },
		Style:   func(s, _ Shape) float64 { return 1 / (s.N * s.M() * s.N * s.M() * s.N * s.N) },
		TV: func(w, h, wd float64) TV {
			return TV{Vertical: w / ((h - 1) * wd * 3), Horizontal: w / (h * (wd - 1) * 3)}
		},
		StyleLayerSum1: true,
	},
	// jcjohnson/neural-style (Lua): content MSE of features = sum/(NM);
	// Gram divided by C*H*W, MSE of Grams = sum (G-A)^2/((NM)^2 N^2); TVLoss's
	// gradient is that of strength/2 * sum over the (H-1)x(W-1) grid of
	// dx^2 + dy^2.
	{
		Name:    "jcjohnson",
		Content: func(s Shape) float64 { return 1 / (s.N * s.M()) },
		Style:   func(s, _ Shape) float64 { return 1 / (s.N * s.M() * s.N * s.M() * s.N * s.N) },
		TV:      func(w, _, _ float64) TV { return TV{Grid: w / 2, GridPower: 1} },
	},
	// The Keras neural style example: content sum (x-p)^2; style
	// sum (G-A)^2 / (4 * 3^2 * (H*W)^2) with the input's 3 channels and H*W
	// pixels, times style_weight / number of style layers; TV
	// sum over the (H-1)x(W-1) grid of (dx^2 + dy^2)^1.25.
	{
		Name:           "keras",
		Content:        func(Shape) float64 { return 1 },
		Style:          func(_, img Shape) float64 { return 1 / (4 * 9 * img.M() * img.M()) },
		TV:             func(w, _, _ float64) TV { return TV{Grid: w, GridPower: 1.25} },
		DivideByLayers: true,
	},
}

// Names are the normalisations' names, in the table's order.
func Names() []string {
	names := make([]string, len(all))
	for i, n := range all {
		names[i] = n.Name
	}
	return names
}

// Lookup returns the normalisation called name.
func Lookup(name string) (Normalization, error) {
	for _, n := range all {
		if n.Name == name {
			return n, nil
		}
	}
	return Normalization{}, fmt.Errorf("key normalization: %q is not implemented", name)
}
