// Package config reads experiment configs: YAML files (or the embedded ones)
// through viper, -set overrides, defaults, and validation that names the key
// and the file for every mistake.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cast"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// Config is one resolved experiment.
type Config struct {
	Model           string             // SavedModel folder written by export/
	Content         string             // content picture
	Style           []string           // style picture(s)
	Output          string             // root folder for run folders
	Name            string             // run folder name; default "<content>_<style>"
	Iterations      int                // optimizer iterations
	CheckpointEvery int                // write styled_%04d.png every N iterations; 0: none
	Width, Height   int                // output size; 0 on one side keeps the content's aspect
	Seed            int64              // start-image noise
	NoiseRatio      float64            // start = ratio*U(-20,20) + (1-ratio)*content
	ContentLayers   map[string]float64 // layer -> weight
	StyleLayers     map[string]float64 // layer -> weight
	ContentWeight   float64            // multiplies the content loss
	StyleWeight     float64            // the notebook's STYLE_STRENGTH
	TVWeight        float64            // total-variation weight
	Normalization   string             // how raw per-layer sums are scaled
	Pooling         string             // required model pooling, "" for any
	Optimizer       string             // "adam"
	LearningRate    float64
	Beta1, Beta2    float64
	Epsilon         float64
	LogEvery        int // print losses every N iterations; 0: never
}

// defaults are the seed notebook's paper settings where it has one.
var defaults = map[string]any{
	"model":            "models/vgg19-random",
	"content":          "",
	"style":            []string{},
	"output":           "results",
	"name":             "",
	"iterations":       500,
	"checkpoint_every": 25,
	"width":            800,
	"height":           600,
	"seed":             0,
	"noise_ratio":      0.7,
	"content_layers":   map[string]any{"conv4_2": 1.0},
	"style_layers":     map[string]any{"conv1_1": 1.0, "conv2_1": 1.0, "conv3_1": 1.0, "conv4_1": 1.0, "conv5_1": 1.0},
	"content_weight":   1.0,
	"style_weight":     500.0,
	"tv_weight":        0.0,
	"normalization":    "notebook",
	"pooling":          "",
	"optimizer":        "adam",
	"learning_rate":    2.0,
	"beta1":            0.9,
	"beta2":            0.999,
	"epsilon":          1e-8,
	"log_every":        10,
}

// mapKeys hold a map whose own keys are free (layer names, checked against the model).
var mapKeys = []string{"content_layers", "style_layers"}

// Normalizations lists the accepted values of the normalization key.
var Normalizations = []string{"notebook"}

// Source is where a config was found, for error messages and the resolved copy.
type Source struct {
	Name string // as the user wrote it, or the path found
	Data []byte
}

// Find reads a config given as a path, else under dir (the repository's
// configs/), else from embedded (the configs compiled into the binary).
func Find(name, dir string, embedded fs.FS) (Source, error) {
	if data, err := os.ReadFile(name); err == nil {
		return Source{Name: name, Data: data}, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Source{}, fmt.Errorf("config %s: %w", name, err)
	}
	if !filepath.IsAbs(name) {
		p := filepath.Join(dir, name)
		if data, err := os.ReadFile(p); err == nil {
			return Source{Name: p, Data: data}, nil
		}
		if embedded != nil {
			if data, err := fs.ReadFile(embedded, filepath.ToSlash(name)); err == nil {
				return Source{Name: name + " (embedded)", Data: data}, nil
			}
		}
	}
	return Source{}, fmt.Errorf("config %s: no such file (looked here and under %s/)", name, dir)
}

// Load parses src, applies overrides ("key=value", value in YAML) and checks
// every key and type. Errors name the config and the key.
func Load(src Source, overrides []string) (Config, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	for k, d := range defaults {
		v.SetDefault(k, d)
	}
	if err := v.ReadConfig(bytes.NewReader(src.Data)); err != nil {
		return Config{}, fmt.Errorf("config %s: not valid YAML: %s", src.Name, oneLine(err))
	}
	// A map key given in the file replaces the default map instead of merging with it.
	for _, k := range mapKeys {
		if v.InConfig(k) {
			v.SetDefault(k, map[string]any{})
		}
	}
	for _, o := range overrides {
		key, val, ok := strings.Cut(o, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		if !ok || key == "" {
			return Config{}, fmt.Errorf("-set %q: want key=value", o)
		}
		var parsed any
		if err := yaml.Unmarshal([]byte(val), &parsed); err != nil {
			return Config{}, fmt.Errorf("-set %s: value is not valid YAML: %s", key, oneLine(err))
		}
		if err := checkKnown(key); err != nil {
			return Config{}, fmt.Errorf("-set %s: %w", key, err)
		}
		if slices.Contains(mapKeys, key) {
			v.SetDefault(key, map[string]any{})
		}
		if parsed == nil {
			parsed = ""
		}
		v.Set(key, parsed)
	}
	for _, k := range v.AllKeys() {
		if err := checkKnown(k); err != nil {
			return Config{}, fmt.Errorf("config %s: %w", src.Name, err)
		}
	}
	c, err := decode(v)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", src.Name, err)
	}
	return c, nil
}

func checkKnown(key string) error {
	if _, ok := defaults[key]; ok {
		return nil
	}
	for _, m := range mapKeys {
		if strings.HasPrefix(key, m+".") && !strings.Contains(key[len(m)+1:], ".") {
			return nil
		}
	}
	known := slices.Sorted(maps.Keys(defaults))
	return fmt.Errorf("unknown key %q (known keys: %s)", key, strings.Join(known, ", "))
}

// decode reads every key with its type; the first problem is returned.
func decode(v *viper.Viper) (Config, error) {
	d := decoder{v: v}
	c := Config{
		Model:           d.str("model"),
		Content:         d.str("content"),
		Style:           d.strs("style"),
		Output:          d.str("output"),
		Name:            d.str("name"),
		Iterations:      d.int("iterations"),
		CheckpointEvery: d.int("checkpoint_every"),
		Width:           d.int("width"),
		Height:          d.int("height"),
		Seed:            int64(d.int("seed")),
		NoiseRatio:      d.float("noise_ratio"),
		ContentLayers:   d.weights("content_layers"),
		StyleLayers:     d.weights("style_layers"),
		ContentWeight:   d.float("content_weight"),
		StyleWeight:     d.float("style_weight"),
		TVWeight:        d.float("tv_weight"),
		Normalization:   d.str("normalization"),
		Pooling:         d.str("pooling"),
		Optimizer:       d.str("optimizer"),
		LearningRate:    d.float("learning_rate"),
		Beta1:           d.float("beta1"),
		Beta2:           d.float("beta2"),
		Epsilon:         d.float("epsilon"),
		LogEvery:        d.int("log_every"),
	}
	if d.err != nil {
		return Config{}, d.err
	}
	return c, c.validate()
}

func (c Config) validate() error {
	checks := []struct {
		bad  bool
		key  string
		want string
	}{
		{c.Model == "", "model", "a SavedModel folder"},
		{c.Content == "", "content", "a picture path"},
		{len(c.Style) == 0, "style", "a picture path or a list of them"},
		{c.Output == "", "output", "a folder"},
		{c.Iterations < 1, "iterations", "at least 1"},
		{c.CheckpointEvery < 0, "checkpoint_every", "0 (none) or more"},
		{c.Width < 0 || c.Height < 0, "width/height", "0 (keep aspect) or more"},
		{c.Width > 16384 || c.Height > 16384, "width/height", "at most 16384"},
		{c.NoiseRatio < 0 || c.NoiseRatio > 1, "noise_ratio", "between 0 and 1"},
		{len(c.ContentLayers)+len(c.StyleLayers) == 0, "content_layers/style_layers", "at least one layer"},
		{!slices.Contains(Normalizations, c.Normalization), "normalization", "one of " + strings.Join(Normalizations, ", ")},
		{c.Pooling != "" && c.Pooling != "avg" && c.Pooling != "max", "pooling", `"avg", "max" or empty (any)`},
		{c.Optimizer != "adam", "optimizer", `"adam"`},
		{!(c.LearningRate > 0), "learning_rate", "a positive number"},
		{!(c.Beta1 >= 0 && c.Beta1 < 1), "beta1", "in [0, 1)"},
		{!(c.Beta2 >= 0 && c.Beta2 < 1), "beta2", "in [0, 1)"},
		{!(c.Epsilon > 0), "epsilon", "a positive number"},
		{c.LogEvery < 0, "log_every", "0 (never) or more"},
		{strings.ContainsAny(c.Name, `/\`) || c.Name == "." || c.Name == "..", "name", "a plain folder name"},
	}
	for _, ch := range checks {
		if ch.bad {
			return fmt.Errorf("key %s: want %s", ch.key, ch.want)
		}
	}
	for _, w := range []struct {
		key string
		v   float64
	}{{"content_weight", c.ContentWeight}, {"style_weight", c.StyleWeight}, {"tv_weight", c.TVWeight}} {
		if w.v < 0 || math.IsNaN(w.v) || math.IsInf(w.v, 0) {
			return fmt.Errorf("key %s: want a finite number >= 0", w.key)
		}
	}
	return nil
}

// decoder reads typed values and keeps the first error.
type decoder struct {
	v   *viper.Viper
	err error
}

func (d *decoder) fail(key string, want string, got any) {
	if d.err == nil {
		d.err = fmt.Errorf("key %s: want %s, got %v", key, want, describe(got))
	}
}

func (d *decoder) str(key string) string {
	raw := d.v.Get(key)
	switch raw.(type) {
	case string, int, int64, float64, bool:
		return cast.ToString(raw)
	case nil:
		return ""
	}
	d.fail(key, "a string", raw)
	return ""
}

func (d *decoder) strs(key string) []string {
	switch raw := d.v.Get(key).(type) {
	case string:
		if raw == "" {
			return nil
		}
		return []string{raw}
	case []string:
		return raw
	case []any:
		out := make([]string, 0, len(raw))
		for _, e := range raw {
			s, ok := e.(string)
			if !ok || s == "" {
				d.fail(key, "a list of paths", raw)
				return nil
			}
			out = append(out, s)
		}
		return out
	case nil:
		return nil
	default:
		d.fail(key, "a path or a list of paths", raw)
		return nil
	}
}

func (d *decoder) int(key string) int {
	raw := d.v.Get(key)
	switch x := raw.(type) {
	case int:
		return x
	case int64:
		return int(x)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int(x)
		}
	}
	d.fail(key, "an integer", raw)
	return 0
}

func (d *decoder) float(key string) float64 {
	raw := d.v.Get(key)
	switch x := raw.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case float64:
		return x
	}
	d.fail(key, "a number", raw)
	return 0
}

func (d *decoder) weights(key string) map[string]float64 {
	raw := d.v.Get(key)
	m, ok := raw.(map[string]any)
	if !ok {
		d.fail(key, "a map of layer: weight", raw)
		return nil
	}
	out := make(map[string]float64, len(m))
	for layer, w := range m {
		f, err := cast.ToFloat64E(w)
		if _, isStr := w.(string); err != nil || isStr || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
			d.fail(key+"."+layer, "a finite weight >= 0", w)
			return nil
		}
		out[strings.ToLower(layer)] = f
	}
	return out
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "nothing"
	case string:
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprintf("%v", v)
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// Resolved is the config as it ran, in the config file's own key names, for
// the run folder: paths made absolute so it reruns from anywhere.
func (c Config) Resolved() map[string]any {
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return p
	}
	styles := make([]string, len(c.Style))
	for i, s := range c.Style {
		styles[i] = abs(s)
	}
	return map[string]any{
		"model": abs(c.Model), "content": abs(c.Content), "style": styles,
		"output": abs(c.Output), "name": c.Name, "iterations": c.Iterations,
		"checkpoint_every": c.CheckpointEvery, "width": c.Width, "height": c.Height,
		"seed": c.Seed, "noise_ratio": c.NoiseRatio, "content_layers": c.ContentLayers,
		"style_layers": c.StyleLayers, "content_weight": c.ContentWeight,
		"style_weight": c.StyleWeight, "tv_weight": c.TVWeight,
		"normalization": c.Normalization, "pooling": c.Pooling, "optimizer": c.Optimizer,
		"learning_rate": c.LearningRate, "beta1": c.Beta1, "beta2": c.Beta2,
		"epsilon": c.Epsilon, "log_every": c.LogEvery,
	}
}

// YAML renders a resolved config.
func YAML(resolved map[string]any) ([]byte, error) {
	return yaml.Marshal(resolved)
}
