package runner

import (
	"fmt"
	"image"
	"path/filepath"
	"strings"

	"github.com/styletransfer/gostyle/graphs"
	"github.com/styletransfer/gostyle/runner/config"
	"github.com/styletransfer/gostyle/runner/picture"
)

// experiment is everything a run needs, checked before anything is written.
type experiment struct {
	cfg     config.Config
	model   *graphs.Model
	mean    [3]float32
	content image.Image     // as loaded
	styles  []image.Image   // as loaded
	init    image.Image     // init: FILE, else nil
	blend   []float64       // style blend weights, summing to 1
	layers  layerPlan       // decided once for every scale
	scales  []size          // output sizes, coarse to fine (one without scales)
	tilings map[size]tiling // how each picture size runs: untiled or in exact tiles
	dir     string
}

type size struct{ width, height int }

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

func prepare(cfg config.Config, model *graphs.Model) (*experiment, error) {
	md := model.Meta
	for _, group := range []struct {
		key    string
		layers []string
	}{{"content_layers", keysOf(cfg.ContentLayers)}, {"style_layers", keysOf(cfg.StyleLayers)}, {"content_blend_layers", blendLayers(cfg)}} {
		for _, l := range group.layers {
			if md.LayerIndex(l) < 0 {
				return nil, fmt.Errorf("key %s: model %s has no layer %q (it has %s)", group.key, model.Dir, l, strings.Join(md.Layers, ", "))
			}
		}
	}
	if cfg.Pooling != "" && cfg.Pooling != md.Pooling {
		return nil, fmt.Errorf("key pooling: config wants %s pooling, model %s has %s (export one with --pooling %s)", cfg.Pooling, model.Dir, md.Pooling, cfg.Pooling)
	}
	ex := &experiment{cfg: cfg, model: model, mean: md.Mean()}
	ex.layers = planLayers(cfg, md)
	if len(ex.layers.content)+len(ex.layers.style) == 0 && cfg.TVWeight == 0 {
		return nil, fmt.Errorf("keys content_layers, style_layers, content_weight, style_weight, tv_weight: every weight is 0, nothing to optimise")
	}

	var err error
	pictures := picture.Loader{MaxPixels: cfg.MaxPixels}
	if ex.content, err = pictures.Load(cfg.Content); err != nil {
		return nil, fmt.Errorf("content picture: %w", err)
	}
	for _, path := range cfg.Style {
		img, err := pictures.Load(path)
		if err != nil {
			return nil, fmt.Errorf("style picture: %w", err)
		}
		ex.styles = append(ex.styles, img)
	}
	switch cfg.Init {
	case "noise", "content", "style":
	default:
		if ex.init, err = pictures.Load(cfg.Init); err != nil {
			return nil, fmt.Errorf("key init: %w", err)
		}
	}
	ex.blend = blendWeights(cfg.StyleBlendWeights, len(cfg.Style))
	ex.scales = outputSizes(cfg, ex.content)
	if err := ex.planTilings(); err != nil {
		return nil, err
	}
	name := cfg.Name
	if name == "" {
		name = defaultName(cfg)
	}
	ex.dir = filepath.Join(cfg.Output, name)
	return ex, nil
}

func keysOf(m map[string]float64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// blendLayers are the content_blend_layers that matter: only with a blend.
func blendLayers(cfg config.Config) []string {
	if cfg.ContentWeightBlend == 1 {
		return nil
	}
	return cfg.ContentBlendLayers
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

// blendWeights normalises the style blend weights to sum 1 (equal if none).
func blendWeights(w []float64, n int) []float64 {
	out := make([]float64, n)
	sum := 0.0
	for i := range out {
		out[i] = 1
		if len(w) == n {
			out[i] = w[i]
		}
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// outputSizes are the output sizes, one per scale: scales (long sides) when
// given, else max_size (long side), else width and height.
func outputSizes(cfg config.Config, img image.Image) []size {
	if len(cfg.Scales) == 0 {
		if cfg.MaxSize > 0 {
			return []size{longSide(img, cfg.MaxSize)}
		}
		w, h := picture.Size(img, cfg.Width, cfg.Height)
		return []size{{w, h}}
	}
	out := make([]size, len(cfg.Scales))
	for i, s := range cfg.Scales {
		out[i] = longSide(img, s)
	}
	return out
}

// cropNote is the warning for an output size whose aspect crops away more than a fifth
// of the content picture (64x600 from an 800x600 picture keeps a sliver), or "" when
// the crop keeps at least four fifths of it.
func cropNote(cfg config.Config, img image.Image, out size) string {
	b := img.Bounds()
	// The kept fraction is the smaller aspect over the larger one.
	a, c := float64(out.width)*float64(b.Dy()), float64(out.height)*float64(b.Dx())
	kept := min(a, c) / max(a, c)
	if kept >= 0.8 {
		return ""
	}
	w, h := picture.Size(img, out.width, 0)
	return fmt.Sprintf("the %dx%d output crops away %.0f%% of content picture %s (%dx%d): to keep all of it set height: 0 (%dx%d), or max_size for its long side",
		out.width, out.height, 100*(1-kept), cfg.Content, b.Dx(), b.Dy(), w, h)
}

// longSide keeps the picture's aspect with its long side n.
func longSide(img image.Image, n int) size {
	if b := img.Bounds(); b.Dx() >= b.Dy() {
		w, h := picture.Size(img, n, 0)
		return size{w, h}
	}
	w, h := picture.Size(img, 0, n)
	return size{w, h}
}

// defaultName is "<content>_<style>", as the notebook names its results folder.
func defaultName(cfg config.Config) string {
	base := func(p string) string { return strings.TrimSuffix(filepath.Base(p), filepath.Ext(p)) }
	parts := []string{base(cfg.Content)}
	for _, s := range cfg.Style {
		parts = append(parts, base(s))
	}
	return strings.Join(parts, "_")
}
