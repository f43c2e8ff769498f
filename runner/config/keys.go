package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/styletransfer/gostyle/runner/normalize"
)

// key is one config key: its name, where it lives in Config (which also
// gives its type), its default, its check and its help. The table below is
// the only list of keys: defaults, decoding, validation, the resolved YAML
// and the README reference are all generated from it.
type key struct {
	name  string
	field func(c *Config) any // a pointer to the field: *string, *[]string, *int, *int64, *float64, *bool, *[]float64, *[]int, *map[string]float64
	def   any                 // default, in the YAML form a user would write
	check func(c *Config) string
	help  string
	flags flag
}

// flag marks how a key takes part in the resolved config and its identity.
type flag uint8

const (
	// absPath: a path, made absolute in the resolved config so it reruns from anywhere.
	absPath flag = 1 << iota
	// notInID: where or how a run goes, not what it computes; left out of
	// Canonical and ID, so changing it keeps a run's identity (and its resume).
	notInID
)

// Optimizers lists the accepted values of the optimizer key.
var Optimizers = []string{"adam", "lbfgs"}

// Precisions lists the accepted values of the precision key.
var Precisions = []string{"float32", "bfloat16", "float16"}

// ConvGradients lists the accepted values of the conv_gradient key.
var ConvGradients = []string{"auto", "backprop", "forward"}

// keys is the table of every config key, in the order the README lists them.
var keys = []key{
	{"model", func(c *Config) any { return &c.Model }, "models/vgg19-random", nonEmpty(func(c *Config) string { return c.Model }, "a SavedModel folder"),
		"SavedModel folder written by export/", absPath},
	{"content", func(c *Config) any { return &c.Content }, "", nonEmpty(func(c *Config) string { return c.Content }, "a picture path"),
		"content picture (JPEG, PNG or GIF)", absPath},
	{"style", func(c *Config) any { return &c.Style }, []string{}, func(c *Config) string {
		if len(c.Style) == 0 {
			return "a picture path or a list of them"
		}
		return ""
	}, "style picture, or a list of them (blended, see style_blend_weights)", absPath},
	{"style_blend_weights", func(c *Config) any { return &c.StyleBlendWeights }, []float64{}, func(c *Config) string {
		if len(c.StyleBlendWeights) == 0 {
			return ""
		}
		if len(c.StyleBlendWeights) != len(c.Style) {
			return fmt.Sprintf("one weight per style picture (%d)", len(c.Style))
		}
		sum := 0.0
		for _, w := range c.StyleBlendWeights {
			if !(w >= 0) || math.IsInf(w, 0) {
				return "finite weights >= 0"
			}
			sum += w
		}
		if sum == 0 {
			return "weights that do not all vanish"
		}
		return ""
	}, "weight of each style picture, normalised to sum 1; empty: equal weights", 0},
	{"style_scale", func(c *Config) any { return &c.StyleScale }, 1.0, positive(func(c *Config) float64 { return c.StyleScale }),
		"style pictures are resized to style_scale times the output size", 0},
	{"output", func(c *Config) any { return &c.Output }, "results", nonEmpty(func(c *Config) string { return c.Output }, "a folder"),
		"root folder of the run folders", absPath | notInID},
	{"name", func(c *Config) any { return &c.Name }, "", func(c *Config) string {
		if strings.ContainsAny(c.Name, `/\`) || c.Name == "." || c.Name == ".." {
			return "a plain folder name"
		}
		return ""
	}, `run folder name; empty: "<content>_<style>"`, notInID},
	{"overwrite", func(c *Config) any { return &c.Overwrite }, false, nil,
		"replace a finished run (or another config's) in the run folder; the old one stays until the new one finishes", notInID},
	{"iterations", func(c *Config) any { return &c.Iterations }, 500, atLeast(func(c *Config) int { return c.Iterations }, 1, "at least 1"),
		"optimizer iterations (per scale when scales is set)", 0},
	{"checkpoint_every", func(c *Config) any { return &c.CheckpointEvery }, 25, atLeast(func(c *Config) int { return c.CheckpointEvery }, 0, "0 (none) or more"),
		"write styled_%04d.png every N iterations; 0: none", 0},
	{"width", func(c *Config) any { return &c.Width }, 800, size(func(c *Config) int { return c.Width }),
		"output width; 0 keeps the content's aspect", 0},
	{"height", func(c *Config) any { return &c.Height }, 600, size(func(c *Config) int { return c.Height }),
		"output height; 0 keeps the content's aspect", 0},
	{"max_size", func(c *Config) any { return &c.MaxSize }, 0, size(func(c *Config) int { return c.MaxSize }),
		"if > 0, the output's long side, keeping the content's aspect (width and height are then ignored)", 0},
	{"scales", func(c *Config) any { return &c.Scales }, []int{}, func(c *Config) string {
		for i, s := range c.Scales {
			if s < 1 || s > 16384 || (i > 0 && s < c.Scales[i-1]) {
				return "increasing long-side sizes between 1 and 16384"
			}
		}
		return ""
	}, "coarse to fine: long-side sizes run in turn, each starting from the last result upsampled; iterations per scale", 0},
	{"scale_iterations", func(c *Config) any { return &c.ScaleIterations }, []int{}, func(c *Config) string {
		if len(c.ScaleIterations) == 0 {
			return ""
		}
		if len(c.ScaleIterations) != len(c.Scales) {
			return fmt.Sprintf("one iteration count per scale (%d)", len(c.Scales))
		}
		for _, n := range c.ScaleIterations {
			if n < 1 {
				return "iteration counts of at least 1"
			}
		}
		return ""
	}, "iterations at each of scales, coarse to fine (a print-size scale is slow: give it fewer); empty: iterations at each", 0},
	{"init", func(c *Config) any { return &c.Init }, "noise", nonEmpty(func(c *Config) string { return c.Init }, "noise, content, style or a picture path"),
		"start image: noise (blended with the content by noise_ratio), content, style, or a picture file", 0},
	{"noise_ratio", func(c *Config) any { return &c.NoiseRatio }, 0.7, between(func(c *Config) float64 { return c.NoiseRatio }, 0, 1),
		"init noise: start = ratio*U(-20,20) + (1-ratio)*content", 0},
	{"seed", func(c *Config) any { return &c.Seed }, 0, nil,
		"start-image noise seed (same seed, same picture on one machine)", 0},
	{"content_layers", func(c *Config) any { return &c.ContentLayers }, map[string]any{"conv4_2": 1.0}, nil,
		"content layer -> weight", 0},
	{"content_weight", func(c *Config) any { return &c.ContentWeight }, 1.0, nonNegative(func(c *Config) float64 { return c.ContentWeight }),
		"multiplies the content loss", 0},
	{"content_weight_blend", func(c *Config) any { return &c.ContentWeightBlend }, 1.0, between(func(c *Config) float64 { return c.ContentWeightBlend }, 0, 1),
		"b: the first of content_blend_layers gets b of its weight, the second 1-b (anishathalye's --content-weight-blend)", 0},
	{"content_blend_layers", func(c *Config) any { return &c.ContentBlendLayers }, []string{"conv4_2", "conv5_2"}, func(c *Config) string {
		if len(c.ContentBlendLayers) != 2 {
			return "two layer names"
		}
		return ""
	}, "the two layers content_weight_blend shares the content weight between", 0},
	{"style_layers", func(c *Config) any { return &c.StyleLayers }, map[string]any{"conv1_1": 1.0, "conv2_1": 1.0, "conv3_1": 1.0, "conv4_1": 1.0, "conv5_1": 1.0}, nil,
		"style layer -> weight", 0},
	{"style_weight", func(c *Config) any { return &c.StyleWeight }, 500.0, nonNegative(func(c *Config) float64 { return c.StyleWeight }),
		"multiplies the style loss (the notebook's STYLE_STRENGTH)", 0},
	{"style_layer_weight_exp", func(c *Config) any { return &c.StyleLayerWeightExp }, 1.0, positive(func(c *Config) float64 { return c.StyleLayerWeightExp }),
		"the k-th used style layer (model order, from 0) has its weight multiplied by exp^k", 0},
	{"tv_weight", func(c *Config) any { return &c.TVWeight }, 0.0, nonNegative(func(c *Config) float64 { return c.TVWeight }),
		"total-variation weight", 0},
	{"normalization", func(c *Config) any { return &c.Normalization }, "notebook", oneOf(func(c *Config) string { return c.Normalization }, normalize.Names()),
		"how raw per-layer sums are scaled (see Normalisations)", 0},
	{"pooling", func(c *Config) any { return &c.Pooling }, "", oneOf(func(c *Config) string { return c.Pooling }, []string{"", "avg", "max"}),
		"required model pooling (avg or max); empty: any", 0},
	{"preserve_colors", func(c *Config) any { return &c.PreserveColors }, false, nil,
		"keep the content's colours: the result's luminance (YCbCr Y) with the content's chroma", 0},
	{"optimizer", func(c *Config) any { return &c.Optimizer }, "adam", oneOf(func(c *Config) string { return c.Optimizer }, Optimizers),
		"adam or lbfgs", 0},
	{"learning_rate", func(c *Config) any { return &c.LearningRate }, 2.0, positive(func(c *Config) float64 { return c.LearningRate }),
		"Adam step size", 0},
	{"beta1", func(c *Config) any { return &c.Beta1 }, 0.9, unit(func(c *Config) float64 { return c.Beta1 }), "Adam beta1", 0},
	{"beta2", func(c *Config) any { return &c.Beta2 }, 0.999, unit(func(c *Config) float64 { return c.Beta2 }), "Adam beta2", 0},
	{"epsilon", func(c *Config) any { return &c.Epsilon }, 1e-8, positive(func(c *Config) float64 { return c.Epsilon }), "Adam epsilon", 0},
	{"lbfgs_memory", func(c *Config) any { return &c.LBFGSMemory }, 10, atLeast(func(c *Config) int { return c.LBFGSMemory }, 1, "at least 1"),
		"L-BFGS: correction pairs kept", 0},
	{"max_evaluations", func(c *Config) any { return &c.MaxEvaluations }, 20, atLeast(func(c *Config) int { return c.MaxEvaluations }, 1, "at least 1"),
		"L-BFGS: loss-and-gradient evaluations per iteration (Keras' fmin_l_bfgs_b maxfun)", 0},
	{"log_every", func(c *Config) any { return &c.LogEvery }, 10, atLeast(func(c *Config) int { return c.LogEvery }, 0, "0 (never) or more"),
		"print losses every N iterations; 0: never", notInID},
	{"device", func(c *Config) any { return &c.Device }, "auto", device,
		"where the graph runs: auto (a GPU if TensorFlow sees one, else the CPU), cpu, gpu (an error without one) or gpu:N", 0},
	{"intra_op_threads", func(c *Config) any { return &c.IntraOpThreads }, 0, atLeast(func(c *Config) int { return c.IntraOpThreads }, 0, "0 (TensorFlow's choice) or more"),
		"TensorFlow threads within one op; 0 lets TensorFlow use one thread per core, which suits the host", notInID},
	{"inter_op_threads", func(c *Config) any { return &c.InterOpThreads }, 0, atLeast(func(c *Config) int { return c.InterOpThreads }, 0, "0 (TensorFlow's choice) or more"),
		"TensorFlow threads running independent ops side by side; 0 lets TensorFlow choose for the host", notInID},
	{"precision", func(c *Config) any { return &c.Precision }, "float32", oneOf(func(c *Config) string { return c.Precision }, Precisions),
		"number format of the graph's convolutions and matrix products: float32; bfloat16 (oneDNN on CPUs with AMX or AVX512-BF16); float16 (mixed precision on a GPU: an error on the CPU). Variables, losses and the gradient stay float32", 0},
	{"conv_gradient", func(c *Config) any { return &c.ConvGradient }, "auto", oneOf(func(c *Config) string { return c.ConvGradient }, ConvGradients),
		"how the loss takes each convolution's input gradient: backprop (TensorFlow's Conv2DBackpropInput; the leaner in memory), forward (a forward convolution with the flipped kernel, and VGG's 256- and 512-channel layers (conv3_2 on) both ways by Winograd's F(4x4,3x3): same values to a few 1e-6, faster on CPUs, 60-90 MB more memory) or auto (forward on a CPU in float32, backprop on a GPU or in bfloat16)", notInID},
	{"max_pixels", func(c *Config) any { return &c.MaxPixels }, 100_000_000, atLeast(func(c *Config) int { return c.MaxPixels }, 1, "at least 1"),
		"pictures over this many pixels (width x height, read from the file's header) are refused before decoding", notInID},
	{"tile", func(c *Config) any { return &c.Tile }, "0", func(c *Config) string {
		if c.Tile == "auto" {
			return ""
		}
		if n, err := strconv.Atoi(c.Tile); err != nil || n < 0 || n > 16384 {
			return "0 (untiled), a tile side in pixels, or auto"
		}
		return ""
	}, "evaluate each iteration in exact tiles of this side (pixels; a multiple of the deepest used layer's stride, 16 from conv5_1): same numbers as untiled in bounded memory, for print-size pictures; auto: the largest tile that fits max_memory, untiled where the whole picture fits; 0: untiled", notInID},
	{"max_memory", func(c *Config) any { return &c.MaxMemory }, 0.0, nonNegative(func(c *Config) float64 { return c.MaxMemory }),
		"memory budget in GB for tile auto, and the most an untiled run may need; 0: three quarters of the host's memory", notInID},
	{"divergence_factor", func(c *Config) any { return &c.DivergenceFactor }, 1e3, func(c *Config) string {
		if f := c.DivergenceFactor; !finite(f) || f < 0 || (f > 0 && f <= 1) {
			return "0 (off) or a finite number > 1"
		}
		return ""
	}, "stop when the total loss grows above this factor times its first value; 0: never", 0},
}

// Blocks are top-level sections that are not run settings: Load skips them
// and Split returns them to the tools that read them (sweeps, clusters).
var Blocks = []string{"sweep", "slurm", "k8s"}

// device accepts auto, cpu, gpu and gpu:N (N a non-negative integer in plain digits).
func device(c *Config) string {
	switch d := c.Device; d {
	case "auto", "cpu", "gpu":
		return ""
	default:
		if n, ok := strings.CutPrefix(d, "gpu:"); ok && n != "" && len(n) <= 9 && strings.Trim(n, "0123456789") == "" {
			return ""
		}
	}
	return `auto, cpu, gpu or gpu:N (N = 0, 1, ...)`
}

func nonEmpty(get func(*Config) string, want string) func(*Config) string {
	return func(c *Config) string {
		if get(c) == "" {
			return want
		}
		return ""
	}
}

func atLeast(get func(*Config) int, min int, want string) func(*Config) string {
	return func(c *Config) string {
		if get(c) < min {
			return want
		}
		return ""
	}
}

func size(get func(*Config) int) func(*Config) string {
	return func(c *Config) string {
		if v := get(c); v < 0 || v > 16384 {
			return "0 or a size up to 16384"
		}
		return ""
	}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func nonNegative(get func(*Config) float64) func(*Config) string {
	return func(c *Config) string {
		if v := get(c); !finite(v) || v < 0 {
			return "a finite number >= 0"
		}
		return ""
	}
}

func positive(get func(*Config) float64) func(*Config) string {
	return func(c *Config) string {
		if v := get(c); !finite(v) || v <= 0 {
			return "a positive number"
		}
		return ""
	}
}

func between(get func(*Config) float64, lo, hi float64) func(*Config) string {
	return func(c *Config) string {
		if v := get(c); !(v >= lo && v <= hi) {
			return fmt.Sprintf("between %g and %g", lo, hi)
		}
		return ""
	}
}

func unit(get func(*Config) float64) func(*Config) string {
	return func(c *Config) string {
		if v := get(c); !(v >= 0 && v < 1) {
			return "in [0, 1)"
		}
		return ""
	}
}

func oneOf(get func(*Config) string, values []string) func(*Config) string {
	return func(c *Config) string {
		if !slices.Contains(values, get(c)) {
			var q []string
			for _, v := range values {
				q = append(q, fmt.Sprintf("%q", v))
			}
			return "one of " + strings.Join(q, ", ")
		}
		return ""
	}
}

func lookup(name string) *key {
	for i := range keys {
		if keys[i].name == name {
			return &keys[i]
		}
	}
	return nil
}

// typeName is the README's word for a field's type.
func typeName(field any) string {
	switch field.(type) {
	case *string:
		return "string"
	case *[]string:
		return "list of strings"
	case *int, *int64:
		return "integer"
	case *float64:
		return "number"
	case *bool:
		return "bool"
	case *[]float64:
		return "list of numbers"
	case *[]int:
		return "list of integers"
	case *map[string]float64:
		return "map layer: weight"
	}
	panic(fmt.Sprintf("config: no type name for %T", field))
}

// ReferenceMarkdown renders the key table as a Markdown table for the
// README: one row per key, in table order, deterministic.
func ReferenceMarkdown() string {
	var b strings.Builder
	b.WriteString("| key | type | default | meaning |\n|---|---|---|---|\n")
	var c Config
	for _, k := range keys {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", k.name, typeName(k.field(&c)), markdownDefault(k.def), strings.ReplaceAll(k.help, "|", `\|`))
	}
	return b.String()
}

func markdownDefault(v any) string {
	switch x := v.(type) {
	case string:
		if x == "" {
			return "(empty)"
		}
		return "`" + x + "`"
	case []string:
		if len(x) == 0 {
			return "(empty)"
		}
		return "`[" + strings.Join(x, ", ") + "]`"
	case []float64, []int:
		if fmt.Sprint(x) == "[]" {
			return "(empty)"
		}
	case map[string]any:
		ks := make([]string, 0, len(x))
		for k := range x {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		parts := make([]string, len(ks))
		for i, k := range ks {
			parts[i] = fmt.Sprintf("%s: %v", k, x[k])
		}
		return "`{" + strings.Join(parts, ", ") + "}`"
	}
	return fmt.Sprintf("`%v`", v)
}
