// Package config reads experiment configs: YAML files (or the embedded ones)
// through viper, -set overrides, defaults, and validation that names the key
// and the file for every mistake.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cast"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// Config is one resolved experiment. Every field is a key of the table in
// keys.go, which holds its name, default, check and help.
type Config struct {
	Model               string
	Content             string
	Style               []string
	StyleBlendWeights   []float64
	StyleScale          float64
	Output              string
	Name                string
	Overwrite           bool
	Iterations          int
	CheckpointEvery     int
	Width, Height       int
	MaxSize             int
	Scales              []int
	Init                string
	NoiseRatio          float64
	Seed                int64
	ContentLayers       map[string]float64
	ContentWeight       float64
	ContentWeightBlend  float64
	ContentBlendLayers  []string
	StyleLayers         map[string]float64
	StyleWeight         float64
	StyleLayerWeightExp float64
	TVWeight            float64
	Normalization       string
	Pooling             string
	PreserveColors      bool
	Optimizer           string
	LearningRate        float64
	Beta1, Beta2        float64
	Epsilon             float64
	LBFGSMemory         int
	MaxEvaluations      int
	LogEvery            int
}

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
// every key and type. Errors name the config and the key. Top-level Blocks
// (sweep, slurm, k8s) are skipped: Block reads them.
func Load(src Source, overrides []string) (Config, error) {
	doc, err := parse(src)
	if err != nil {
		return Config{}, err
	}
	for _, b := range Blocks {
		delete(doc, b)
	}
	v := viper.New()
	for _, k := range keys {
		v.SetDefault(k.name, k.def)
	}
	if err := v.MergeConfigMap(doc); err != nil {
		return Config{}, fmt.Errorf("config %s: %s", src.Name, oneLine(err))
	}
	// A map key given in the file replaces the default map instead of merging with it.
	for _, k := range mapKeys() {
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
		if slices.Contains(mapKeys(), key) {
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

// Block returns the top-level block name (one of Blocks) of src, or nil
// when src has none. A sweep reads its grid this way; Load ignores it.
func Block(src Source, name string) (map[string]any, error) {
	doc, err := parse(src)
	if err != nil {
		return nil, err
	}
	raw, ok := doc[name]
	if !ok || raw == nil {
		return nil, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("config %s: key %s: want a block of keys, got %s", src.Name, name, describe(raw))
	}
	return m, nil
}

// parse reads the YAML document of src as a map.
func parse(src Source) (map[string]any, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(src.Data, &doc); err != nil {
		return nil, fmt.Errorf("config %s: not valid YAML: %s", src.Name, oneLine(err))
	}
	if doc == nil {
		doc = map[string]any{}
	}
	return doc, nil
}

// mapKeys are the keys holding a map whose own keys are free (layer names,
// checked against the model).
func mapKeys() []string {
	var out []string
	var c Config
	for _, k := range keys {
		if _, ok := k.field(&c).(*map[string]float64); ok {
			out = append(out, k.name)
		}
	}
	return out
}

func checkKnown(name string) error {
	if lookup(name) != nil {
		return nil
	}
	for _, m := range mapKeys() {
		if strings.HasPrefix(name, m+".") && !strings.Contains(name[len(m)+1:], ".") {
			return nil
		}
	}
	known := make([]string, len(keys))
	for i, k := range keys {
		known[i] = k.name
	}
	slices.Sort(known)
	return fmt.Errorf("unknown key %q (known keys: %s)", name, strings.Join(known, ", "))
}

// decode reads every key of the table with its field's type; the first
// problem is returned, then the table's checks run in table order.
func decode(v *viper.Viper) (Config, error) {
	d := decoder{v: v}
	var c Config
	for _, k := range keys {
		switch p := k.field(&c).(type) {
		case *string:
			*p = d.str(k.name)
		case *[]string:
			*p = d.strs(k.name)
		case *int:
			*p = d.int(k.name)
		case *int64:
			*p = int64(d.int(k.name))
		case *float64:
			*p = d.float(k.name)
		case *bool:
			*p = d.bool(k.name)
		case *[]float64:
			*p = d.floats(k.name)
		case *[]int:
			*p = d.ints(k.name)
		case *map[string]float64:
			*p = d.weights(k.name)
		default:
			panic(fmt.Sprintf("config: key %s has no decoder for %T", k.name, p))
		}
	}
	if d.err != nil {
		return Config{}, d.err
	}
	return c, c.validate()
}

func (c Config) validate() error {
	for _, k := range keys {
		if k.check == nil {
			continue
		}
		if want := k.check(&c); want != "" {
			return fmt.Errorf("key %s: want %s", k.name, want)
		}
	}
	if len(c.ContentLayers)+len(c.StyleLayers) == 0 {
		return fmt.Errorf("key content_layers/style_layers: want at least one layer")
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

func (d *decoder) bool(key string) bool {
	raw := d.v.Get(key)
	if b, ok := raw.(bool); ok {
		return b
	}
	d.fail(key, "true or false", raw)
	return false
}

func (d *decoder) floats(key string) []float64 {
	raw := d.v.Get(key)
	list, ok := raw.([]any)
	if !ok {
		if fs, ok := raw.([]float64); ok {
			return fs
		}
		d.fail(key, "a list of numbers", raw)
		return nil
	}
	out := make([]float64, len(list))
	for i, e := range list {
		switch x := e.(type) {
		case int:
			out[i] = float64(x)
		case float64:
			out[i] = x
		default:
			d.fail(key, "a list of numbers", raw)
			return nil
		}
	}
	return out
}

func (d *decoder) ints(key string) []int {
	raw := d.v.Get(key)
	list, ok := raw.([]any)
	if !ok {
		if is, ok := raw.([]int); ok {
			return is
		}
		d.fail(key, "a list of integers", raw)
		return nil
	}
	out := make([]int, len(list))
	for i, e := range list {
		x, ok := e.(int)
		if !ok {
			d.fail(key, "a list of integers", raw)
			return nil
		}
		out[i] = x
	}
	return out
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
	out := make(map[string]any, len(keys))
	for _, k := range keys {
		v := reflectValue(k.field(&c))
		if k.path {
			switch x := v.(type) {
			case string:
				v = abs(x)
			case []string:
				ps := make([]string, len(x))
				for i, p := range x {
					ps[i] = abs(p)
				}
				v = ps
			}
		}
		out[k.name] = v
	}
	if !slices.Contains([]string{"noise", "content", "style"}, c.Init) {
		out["init"] = abs(c.Init) // a picture file
	}
	return out
}

// reflectValue dereferences a field pointer of the key table.
func reflectValue(p any) any {
	switch x := p.(type) {
	case *string:
		return *x
	case *[]string:
		return *x
	case *int:
		return *x
	case *int64:
		return *x
	case *float64:
		return *x
	case *bool:
		return *x
	case *[]float64:
		return *x
	case *[]int:
		return *x
	case *map[string]float64:
		return *x
	}
	panic(fmt.Sprintf("config: no value for %T", p))
}

// YAML renders a resolved config.
func YAML(resolved map[string]any) ([]byte, error) {
	return yaml.Marshal(resolved)
}
