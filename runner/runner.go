// Package runner runs one style-transfer experiment: it prepares the
// pictures, computes the targets once, drives the optimizer over the model's
// loss-and-gradient signature, and writes the run folder (resolved config,
// metrics, checkpoints, final picture).
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/styletransfer/gostyle/graphs"
	"github.com/styletransfer/gostyle/runner/config"
	"github.com/styletransfer/gostyle/runner/optim"
	"github.com/styletransfer/gostyle/runner/picture"
)

// Result describes a finished (or interrupted) run.
type Result struct {
	Dir         string // the run folder
	Final       string // path of the final picture
	Iterations  int    // updates applied
	Interrupted bool   // stopped early by the context
	Initial     graphs.Losses
	Last        graphs.Losses
	Seconds     float64 // optimisation wall time
	// PerIteration is the steady pace: seconds per iteration after the first
	// evaluation, which also pays for TensorFlow's one-off graph optimisation.
	PerIteration float64
}

// experiment is everything a run needs, checked before anything is written.
type experiment struct {
	cfg     config.Config
	model   *graphs.Model
	mean    [3]float32
	width   int
	height  int
	content *picture.Tensor
	styles  []*picture.Tensor
	dir     string
}

// Run executes cfg on model. Bad input is reported before the run folder is
// created; the folder is written as <name>.partial and renamed when done, so
// a run folder without that suffix is always complete.
func Run(ctx context.Context, cfg config.Config, model *graphs.Model, log io.Writer) (*Result, error) {
	ex, err := prepare(cfg, model)
	if err != nil {
		return nil, err
	}
	targets, err := ex.targets()
	if err != nil {
		return nil, err
	}
	if err := model.SetTargets(targets); err != nil {
		return nil, err
	}
	return ex.optimise(ctx, targets, log)
}

func prepare(cfg config.Config, model *graphs.Model) (*experiment, error) {
	md := model.Meta
	for _, group := range []struct {
		key    string
		layers map[string]float64
	}{{"content_layers", cfg.ContentLayers}, {"style_layers", cfg.StyleLayers}} {
		for l := range group.layers {
			if md.LayerIndex(l) < 0 {
				return nil, fmt.Errorf("key %s: model %s has no layer %q (it has %s)", group.key, model.Dir, l, strings.Join(md.Layers, ", "))
			}
		}
	}
	if cfg.Pooling != "" && cfg.Pooling != md.Pooling {
		return nil, fmt.Errorf("key pooling: config wants %s pooling, model %s has %s (export one with --pooling %s)", cfg.Pooling, model.Dir, md.Pooling, cfg.Pooling)
	}
	ex := &experiment{cfg: cfg, model: model, mean: md.Mean()}
	if len(ex.used(cfg.ContentLayers, cfg.ContentWeight))+len(ex.used(cfg.StyleLayers, cfg.StyleWeight)) == 0 && cfg.TVWeight == 0 {
		return nil, fmt.Errorf("keys content_layers, style_layers, content_weight, style_weight, tv_weight: every weight is 0, nothing to optimise")
	}

	content, err := picture.Load(cfg.Content)
	if err != nil {
		return nil, fmt.Errorf("content picture: %w", err)
	}
	ex.width, ex.height = picture.Size(content, cfg.Width, cfg.Height)
	ex.content = picture.FromImage(picture.Fit(content, ex.width, ex.height), ex.mean)
	for _, path := range cfg.Style {
		img, err := picture.Load(path)
		if err != nil {
			return nil, fmt.Errorf("style picture: %w", err)
		}
		// As in the notebook, the style picture is cropped and resized to the
		// output size, so its Gram matrices sum over as many positions.
		ex.styles = append(ex.styles, picture.FromImage(picture.Fit(img, ex.width, ex.height), ex.mean))
	}
	name := cfg.Name
	if name == "" {
		name = defaultName(cfg)
	}
	ex.dir = filepath.Join(cfg.Output, name)
	return ex, nil
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

// used returns the layers with a non-zero weight, in model order.
func (ex *experiment) used(weights map[string]float64, strength float64) []string {
	var out []string
	for _, l := range ex.model.Meta.Layers {
		if weights[l] > 0 && strength > 0 {
			out = append(out, l)
		}
	}
	return out
}

// targets runs the network on the content and style pictures once and folds
// weights, strengths and the loss normalisation into per-layer coefficients.
func (ex *experiment) targets() (graphs.Targets, error) {
	cfg, md := ex.cfg, ex.model.Meta
	contentLayers := ex.used(cfg.ContentLayers, cfg.ContentWeight)
	styleLayers := ex.used(cfg.StyleLayers, cfg.StyleWeight)
	all := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(contentLayers), styleLayers...))))

	keys := make([]string, 0, 2*len(all))
	for _, l := range contentLayers {
		keys = append(keys, graphs.ActivationKey(l))
	}
	for _, l := range all {
		keys = append(keys, graphs.SizeKey(l))
	}
	feats, err := ex.model.Features(ex.content.Data, ex.width, ex.height, keys...)
	if err != nil {
		return graphs.Targets{}, fmt.Errorf("content features: %w", err)
	}
	t := graphs.Targets{
		Content:        map[string]graphs.Tensor{},
		Grams:          map[string]graphs.Tensor{},
		ContentWeights: make([]float32, len(md.Layers)),
		StyleWeights:   make([]float32, len(md.Layers)),
		TV:             graphs.TV{Vertical: float32(cfg.TVWeight), Horizontal: float32(cfg.TVWeight)},
	}
	size := func(l string) (n, m float64, err error) {
		h, w, err := feats[graphs.SizeKey(l)].HW()
		if err != nil {
			return 0, 0, fmt.Errorf("features %s: %w", graphs.SizeKey(l), err)
		}
		return float64(md.Channels[md.LayerIndex(l)]), float64(h) * float64(w), nil
	}
	for _, l := range contentLayers {
		n, m, err := size(l)
		if err != nil {
			return t, err
		}
		t.Content[l] = feats[graphs.ActivationKey(l)]
		t.ContentWeights[md.LayerIndex(l)] = float32(cfg.ContentWeight * cfg.ContentLayers[l] * contentNorm(n, m))
	}
	if len(styleLayers) > 0 {
		grams, err := ex.styleGrams(styleLayers)
		if err != nil {
			return t, err
		}
		for _, l := range styleLayers {
			n, m, err := size(l)
			if err != nil {
				return t, err
			}
			t.Grams[l] = grams[l]
			t.StyleWeights[md.LayerIndex(l)] = float32(cfg.StyleWeight * cfg.StyleLayers[l] * styleNorm(n, m))
		}
	}
	return t, nil
}

// The notebook's normalisations (seed 000): content 1/(2 sqrt(N) sqrt(M)),
// style 1/(4 N^2 M^2), N channels and M = h*w positions of the layer.
func contentNorm(n, m float64) float64 { return 1 / (2 * math.Sqrt(n) * math.Sqrt(m)) }
func styleNorm(n, m float64) float64   { return 1 / (4 * n * n * m * m) }

// styleGrams returns the target Gram matrices; several style pictures are
// blended with equal weights: sum_s (G - A_s)^2 / S has the gradient of
// (G - mean_s A_s)^2, so the mean Gram is the one target to store.
func (ex *experiment) styleGrams(layers []string) (map[string]graphs.Tensor, error) {
	keys := make([]string, len(layers))
	for i, l := range layers {
		keys[i] = graphs.GramKey(l)
	}
	perLayer := map[string][]graphs.Tensor{}
	for si, st := range ex.styles {
		feats, err := ex.model.Features(st.Data, ex.width, ex.height, keys...)
		if err != nil {
			return nil, fmt.Errorf("style features (%s): %w", ex.cfg.Style[si], err)
		}
		for _, l := range layers {
			perLayer[l] = append(perLayer[l], feats[graphs.GramKey(l)])
		}
	}
	out := make(map[string]graphs.Tensor, len(layers))
	for _, l := range layers {
		g, err := graphs.MeanGram(perLayer[l])
		if err != nil {
			return nil, fmt.Errorf("style %s: %w", l, err)
		}
		out[l] = g
	}
	return out, nil
}

// startImage is the notebook's ratio*U(-20, 20) + (1-ratio)*content, seeded.
func (ex *experiment) startImage() []float32 {
	rng := rand.New(rand.NewPCG(uint64(ex.cfg.Seed), 0x5eed))
	r := float32(ex.cfg.NoiseRatio)
	x := make([]float32, len(ex.content.Data))
	for i, c := range ex.content.Data {
		noise := float32(rng.Float64()*40 - 20)
		x[i] = r*noise + (1-r)*c
	}
	return x
}

// optimise writes the run folder and runs the optimizer loop.
func (ex *experiment) optimise(ctx context.Context, targets graphs.Targets, log io.Writer) (res *Result, err error) {
	cfg, md := ex.cfg, ex.model.Meta
	partial := ex.dir + ".partial"
	if err := os.RemoveAll(partial); err != nil {
		return nil, fmt.Errorf("run folder: %w", err)
	}
	if err := os.MkdirAll(partial, 0o755); err != nil {
		return nil, fmt.Errorf("run folder: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(partial)
		}
	}()
	caption := map[string]string{"Software": "gostyle runner", "Comment": md.Describe()}
	save := func(name string, t *picture.Tensor) error {
		return picture.SavePNG(filepath.Join(partial, name), t.Image(ex.mean), caption)
	}

	if err := ex.writeRecord(partial); err != nil {
		return nil, err
	}
	if err := save("content.png", ex.content); err != nil {
		return nil, err
	}
	for i, st := range ex.styles {
		name := "style.png"
		if len(ex.styles) > 1 {
			name = fmt.Sprintf("style_%d.png", i+1)
		}
		if err := save(name, st); err != nil {
			return nil, err
		}
	}
	x := &picture.Tensor{Width: ex.width, Height: ex.height, Data: ex.startImage()}
	if err := save("initial.png", x); err != nil {
		return nil, err
	}
	metrics, err := createCSV(filepath.Join(partial, "metrics.csv"), "iteration,total,content,style,tv,seconds")
	if err != nil {
		return nil, err
	}
	defer metrics.close()
	// layers.csv: each used layer's weighted loss, to see which layers move.
	var used []layerTerm
	header := "iteration"
	for i, l := range md.Layers {
		if w := targets.ContentWeights[i]; w > 0 {
			used = append(used, layerTerm{i, w, false})
			header += ",content_" + l
		}
		if w := targets.StyleWeights[i]; w > 0 {
			used = append(used, layerTerm{i, w, true})
			header += ",style_" + l
		}
	}
	layers, err := createCSV(filepath.Join(partial, "layers.csv"), header)
	if err != nil {
		return nil, err
	}
	defer layers.close()

	fmt.Fprintf(log, "model: %s\n", md.Describe())
	if note := ex.model.VersionNote(); note != "" {
		fmt.Fprintf(log, "note: %s\n", note)
	}
	fmt.Fprintf(log, "run: %s (%dx%d, %d iterations)\n", ex.dir, ex.width, ex.height, cfg.Iterations)

	eval := ex.model.NewEvaluator(ex.width, ex.height)
	grad := make([]float32, len(x.Data))
	adam := optim.NewAdam(len(x.Data), cfg.LearningRate, cfg.Beta1, cfg.Beta2, cfg.Epsilon)
	res = &Result{Dir: ex.dir}
	var losses graphs.Losses
	var first float64 // seconds the first evaluation took
	start := time.Now()
	for it := 0; ; it++ {
		if err := eval.Evaluate(x.Data, grad, &losses); err != nil {
			return nil, fmt.Errorf("iteration %d: %w", it, err)
		}
		elapsed := time.Since(start).Seconds()
		if bad := float64(losses.Total); math.IsNaN(bad) || math.IsInf(bad, 0) {
			return nil, fmt.Errorf("iteration %d: loss is %v (try a smaller learning_rate)", it, losses.Total)
		}
		metrics.begin(it)
		for _, v := range [4]float32{losses.Total, losses.Content, losses.Style, losses.TV} {
			metrics.float32(v)
		}
		metrics.seconds(elapsed)
		layers.begin(it)
		for _, u := range used {
			raw := losses.ContentLayers[u.index]
			if u.style {
				raw = losses.StyleLayers[u.index]
			}
			layers.float32(u.weight * raw)
		}
		if err := errors.Join(metrics.end(), layers.end()); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
		if it == 0 {
			res.Initial, first = losses, elapsed
		} else {
			res.PerIteration = (elapsed - first) / float64(it)
		}
		res.Last, res.Iterations, res.Seconds = losses, it, elapsed
		if cfg.LogEvery > 0 && (it%cfg.LogEvery == 0 || it == cfg.Iterations) {
			fmt.Fprintf(log, "iter %5d/%d  total %.4g  content %.4g  style %.4g  tv %.4g%s\n",
				it, cfg.Iterations, losses.Total, losses.Content, losses.Style, losses.TV, pace(it, cfg.Iterations, res.PerIteration))
		}
		if it == cfg.Iterations {
			break
		}
		if ctx.Err() != nil {
			res.Interrupted = true
			fmt.Fprintf(log, "interrupted after %d iterations: saving where it got to\n", it)
			break
		}
		adam.Step(x.Data, grad)
		if cfg.CheckpointEvery > 0 && (it+1)%cfg.CheckpointEvery == 0 {
			if err := save(fmt.Sprintf("styled_%04d.png", it+1), x); err != nil {
				return nil, err
			}
		}
	}
	if err := save("final.png", x); err != nil {
		return nil, err
	}
	if err := errors.Join(metrics.close(), layers.close()); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(ex.dir); err != nil {
		return nil, fmt.Errorf("replace %s: %w", ex.dir, err)
	}
	if err := os.Rename(partial, ex.dir); err != nil {
		return nil, fmt.Errorf("finish run folder: %w", err)
	}
	res.Final = filepath.Join(ex.dir, "final.png")
	return res, nil
}

// layerTerm is one column of layers.csv: a layer's content or style term.
type layerTerm struct {
	index  int
	weight float32
	style  bool
}

// pace is "  0.750 s/it  eta 1m15s" once an iteration has been timed.
func pace(it, total int, perIt float64) string {
	if it == 0 {
		return ""
	}
	eta := time.Duration(perIt * float64(total-it) * float64(time.Second)).Round(time.Second)
	return fmt.Sprintf("  %.3f s/it  eta %s", perIt, eta)
}

// writeRecord saves the resolved config and the model's metadata.
func (ex *experiment) writeRecord(dir string) error {
	resolved := ex.cfg.Resolved()
	resolved["width"], resolved["height"] = ex.width, ex.height
	y, err := config.YAML(resolved)
	if err != nil {
		return err
	}
	header := fmt.Sprintf("# resolved config of this run\n# model: %s\n", ex.model.Meta.Describe())
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), append([]byte(header), y...), 0o644); err != nil {
		return fmt.Errorf("write config.yaml: %w", err)
	}
	js, err := json.MarshalIndent(ex.model.Meta, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "model.json"), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("write model.json: %w", err)
	}
	return nil
}
