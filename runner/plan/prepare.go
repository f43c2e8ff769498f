package plan

import (
	"fmt"
	"image"
	"path/filepath"
	"strings"

	"github.com/styletransfer/gostyle/graphs"
	"github.com/styletransfer/gostyle/runner/config"
	"github.com/styletransfer/gostyle/runner/picture"
)

// Prepare checks cfg against model, loads the pictures and decides the
// experiment's plan. Bad input is one error naming the key; nothing is
// written.
func Prepare(cfg config.Config, model *graphs.Model) (*Experiment, error) {
	if err := checkModel(cfg, model); err != nil {
		return nil, err
	}
	ex := &Experiment{cfg: cfg, model: model, mean: model.Meta.Mean()}
	ex.layers = planLayers(cfg, model.Meta)
	if len(ex.layers.content)+len(ex.layers.style) == 0 && cfg.TVWeight == 0 {
		return nil, fmt.Errorf("keys content_layers, style_layers, content_weight, style_weight, tv_weight: every weight is 0, nothing to optimise")
	}
	if err := ex.loadPictures(); err != nil {
		return nil, err
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

// checkModel refuses layers the model lacks and a pooling it does not have.
func checkModel(cfg config.Config, model *graphs.Model) error {
	md := model.Meta
	for _, group := range []struct {
		key    string
		layers []string
	}{{"content_layers", keysOf(cfg.ContentLayers)}, {"style_layers", keysOf(cfg.StyleLayers)}, {"content_blend_layers", blendLayers(cfg)}} {
		for _, l := range group.layers {
			if md.LayerIndex(l) < 0 {
				return fmt.Errorf("key %s: model %s has no layer %q (it has %s)", group.key, model.Dir, l, strings.Join(md.Layers, ", "))
			}
		}
	}
	if cfg.Pooling != "" && cfg.Pooling != md.Pooling {
		return fmt.Errorf("key pooling: config wants %s pooling, model %s has %s (export one with --pooling %s)", cfg.Pooling, model.Dir, md.Pooling, cfg.Pooling)
	}
	return nil
}

// loadPictures loads the content, style and init pictures.
func (ex *Experiment) loadPictures() error {
	cfg := ex.cfg
	var err error
	pictures := picture.Loader{MaxPixels: cfg.MaxPixels}
	if ex.content, err = pictures.Load(cfg.Content); err != nil {
		return fmt.Errorf("content picture: %w", err)
	}
	for _, path := range cfg.Style {
		img, err := pictures.Load(path)
		if err != nil {
			return fmt.Errorf("style picture: %w", err)
		}
		ex.styles = append(ex.styles, img)
	}
	switch cfg.Init {
	case "noise", "content", "style":
	default:
		if ex.init, err = pictures.Load(cfg.Init); err != nil {
			return fmt.Errorf("key init: %w", err)
		}
	}
	return nil
}

// blendLayers are the content_blend_layers that matter: only with a blend.
func blendLayers(cfg config.Config) []string {
	if cfg.ContentWeightBlend == 1 {
		return nil
	}
	return cfg.ContentBlendLayers
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
func outputSizes(cfg config.Config, img image.Image) []Size {
	if len(cfg.Scales) == 0 {
		if cfg.MaxSize > 0 {
			return []Size{longSide(img, cfg.MaxSize)}
		}
		w, h := picture.Size(img, cfg.Width, cfg.Height)
		return []Size{{w, h}}
	}
	out := make([]Size, len(cfg.Scales))
	for i, s := range cfg.Scales {
		out[i] = longSide(img, s)
	}
	return out
}

// CropNote is the warning for an output size whose aspect crops away more than a fifth
// of the content picture (64x600 from an 800x600 picture keeps a sliver), or "" when
// the crop keeps at least four fifths of it.
func (ex *Experiment) CropNote() string {
	cfg, img, out := ex.cfg, ex.content, ex.Output()
	b := img.Bounds()
	// The kept fraction is the smaller aspect over the larger one.
	a, c := float64(out.Width)*float64(b.Dy()), float64(out.Height)*float64(b.Dx())
	kept := min(a, c) / max(a, c)
	if kept >= 0.8 {
		return ""
	}
	w, h := picture.Size(img, out.Width, 0)
	return fmt.Sprintf("the %dx%d output crops away %.0f%% of content picture %s (%dx%d): to keep all of it set height: 0 (%dx%d), or max_size for its long side",
		out.Width, out.Height, 100*(1-kept), cfg.Content, b.Dx(), b.Dy(), w, h)
}

// longSide keeps the picture's aspect with its long side n.
func longSide(img image.Image, n int) Size {
	if b := img.Bounds(); b.Dx() >= b.Dy() {
		w, h := picture.Size(img, n, 0)
		return Size{w, h}
	}
	w, h := picture.Size(img, 0, n)
	return Size{w, h}
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
