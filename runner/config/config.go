// Package config reads experiment configs: YAML files (or the embedded ones)
// through viper, -set overrides, defaults, and validation that names the key
// and the file for every mistake. It is the one package that reads YAML
// text: Split hands a config's sweep, slurm and k8s blocks to the tools
// that own them as Values, keys in file order.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/spf13/viper"
	"github.com/styletransfer/gostyle/runner/regularfile"
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
	Device              string
	IntraOpThreads      int
	InterOpThreads      int
	Precision           string
	ConvGradient        string
	MaxPixels           int
	DivergenceFactor    float64
	Tile                string
	MaxMemory           float64
	ScaleIterations     []int
}

// Source is where a config was found, for error messages and the resolved copy.
type Source struct {
	Name string // as the user wrote it, or the path found
	Data []byte
}

// MaxFileBytes bounds a config file: configs are written by hand (the
// shipped ones are under 3 KiB), so a larger file is refused before it is
// read, as is anything but a regular file (a named pipe, a device, a folder).
const MaxFileBytes = 1 << 20

// Read reads the config file at path: a regular file of at most
// MaxFileBytes. Errors name the file; a missing one matches fs.ErrNotExist.
func Read(path string) (Source, error) {
	data, err := regularfile.Read(path, MaxFileBytes)
	switch {
	case errors.Is(err, regularfile.ErrNotRegular) || errors.Is(err, regularfile.ErrTooLarge):
		return Source{}, fmt.Errorf("config %w", err) // the error starts with the path
	case err != nil:
		return Source{}, fmt.Errorf("config %s: %w", path, err)
	}
	return Source{Name: path, Data: data}, nil
}

// Find reads a config given as a path, else under dir (the repository's
// configs/), else from embedded (the configs compiled into the binary).
func Find(name, dir string, embedded fs.FS) (Source, error) {
	if src, err := Read(name); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return src, err
	}
	if !filepath.IsAbs(name) {
		p := filepath.Join(dir, name)
		if src, err := Read(p); err == nil || !errors.Is(err, fs.ErrNotExist) {
			return src, err
		}
		if embedded != nil {
			if data, err := fs.ReadFile(embedded, filepath.ToSlash(name)); err == nil {
				return Source{Name: name + " (embedded)", Data: data}, nil
			}
		}
	}
	return Source{}, fmt.Errorf("config %s: no such file (looked here and under %s/)", name, dir)
}

// Load parses src and applies, in this order of precedence, the defaults,
// the file, the RUNNER_* environment (see EnvVar) and overrides
// ("key=value", value in YAML; "map.entry=value" changes one entry of a
// map), then checks every key and type. Errors are one line naming where the
// bad value came from (the config, "environment RUNNER_X" or "-set x") and
// the key. Top-level Blocks (sweep, slurm, k8s) are skipped: Split returns them.
func Load(src Source, overrides []string) (Config, error) {
	return LoadEnv(src, overrides, os.LookupEnv)
}

// LoadEnv is Load with the environment read through lookup (os.LookupEnv,
// or a map in tests); a nil lookup reads no environment, for a config that
// must load as it was recorded (a run folder's config.yaml on resume).
// Only the table's keys are looked up, never the whole environment.
func LoadEnv(src Source, overrides []string, lookup func(string) (string, bool)) (Config, error) {
	v, err := fromFile(src)
	if err != nil {
		return Config{}, err
	}
	l := layered{v: v, file: src.Name, origins: map[string]string{}}
	if err := l.env(lookup); err != nil {
		return Config{}, err
	}
	if err := l.sets(overrides); err != nil {
		return Config{}, err
	}
	for _, k := range v.AllKeys() {
		if err := checkKnown(k); err != nil {
			return Config{}, fmt.Errorf("%s: %w", l.where(k), err)
		}
	}
	c, err := decode(v)
	if err != nil {
		var ke *keyError
		if errors.As(err, &ke) {
			return Config{}, fmt.Errorf("%s: %w", l.where(ke.key), err)
		}
		return Config{}, fmt.Errorf("config %s: %w", src.Name, err)
	}
	return c, nil
}

// fromFile is a viper holding the table's defaults under src's settings
// (its Blocks left out). A map key given in the file replaces the default
// map instead of merging with it.
func fromFile(src Source) (*viper.Viper, error) {
	doc, err := parse(src)
	if err != nil {
		return nil, err
	}
	if err := checkBounds(doc); err != nil {
		return nil, fmt.Errorf("config %s: %w", src.Name, err)
	}
	for _, b := range Blocks {
		delete(doc, b)
	}
	v := viper.New()
	for _, k := range keys {
		v.SetDefault(k.name, k.def)
	}
	if err := v.MergeConfigMap(doc); err != nil {
		return nil, fmt.Errorf("config %s: %s", src.Name, OneLine(err))
	}
	for _, k := range mapKeys() {
		if v.InConfig(k) {
			v.SetDefault(k, map[string]any{})
		}
	}
	return v, nil
}

// layered applies the environment and the -set overrides over a config
// file's settings, remembering where each key's value came from.
type layered struct {
	v       *viper.Viper
	file    string            // the config's name
	origins map[string]string // key -> "environment RUNNER_X" or "-set x", when not the file
}

// env applies the RUNNER_* variables of the table's keys, read through
// lookup (nil: none). An empty variable is unset, as in viper.
func (l *layered) env(lookup func(string) (string, bool)) error {
	if lookup == nil {
		return nil
	}
	for _, k := range keys {
		name := EnvVar(k.name)
		val, ok := lookup(name)
		if !ok || val == "" {
			continue
		}
		if err := set(l.v, k.name, val); err != nil {
			return fmt.Errorf("environment %s: %w", name, err)
		}
		l.origins[k.name] = "environment " + name
	}
	return nil
}

// sets applies "key=value" overrides in order.
func (l *layered) sets(overrides []string) error {
	for _, o := range overrides {
		key, val, ok := strings.Cut(o, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		if !ok || key == "" {
			return fmt.Errorf("-set %q: want key=value", o)
		}
		if err := set(l.v, key, val); err != nil {
			return fmt.Errorf("-set %s: %w", printable(key), err)
		}
		l.origins[key] = "-set " + printable(key)
	}
	return nil
}

// where names the origin of key's value: that of the key or the nearest
// map holding it that was overridden, else the config file.
func (l *layered) where(key string) string {
	for k := key; ; {
		if o, ok := l.origins[k]; ok {
			return o
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			return "config " + l.file
		}
		k = k[:i]
	}
}

// EnvVar is the environment variable that overrides key, in viper's
// conventions: RUNNER_, then the key in upper case with dots as underscores
// (style_weight: RUNNER_STYLE_WEIGHT).
func EnvVar(key string) string {
	return "RUNNER_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// set applies one override, its value parsed as YAML: a whole key, or one
// entry of a map key (style_layers.conv1_1), the rest of the map kept.
func set(v *viper.Viper, key, val string) error {
	parsed, err := parseAny(val)
	if err != nil {
		return err
	}
	if err := checkKnown(key); err != nil {
		return err
	}
	if err := checkValue(key, parsed); err != nil {
		return err
	}
	if parsed == nil {
		parsed = ""
	}
	if m, entry, ok := mapEntry(key); ok {
		cur, isMap := v.Get(m).(map[string]any)
		if !isMap {
			return &keyError{m, "a map of layer: weight, got " + describe(v.Get(m))}
		}
		next := maps.Clone(cur) // never the table's default map itself
		// The entry replaces the one for its layer, however it was spelled (relu1_1, conv1_1).
		maps.DeleteFunc(next, func(k string, _ any) bool { return Layer(k) == Layer(entry) })
		next[entry] = parsed
		v.Set(m, next)
		return nil
	}
	if slices.Contains(mapKeys(), key) {
		v.SetDefault(key, map[string]any{})
	}
	v.Set(key, parsed)
	return nil
}

// mapEntry splits "style_layers.conv1_1" into a map key and an entry.
func mapEntry(name string) (m, entry string, ok bool) {
	for _, m := range mapKeys() {
		if e, ok := strings.CutPrefix(name, m+"."); ok {
			return m, e, true
		}
	}
	return "", "", false
}

// keyError is a bad value of one key; Load prefixes where the value came from.
type keyError struct {
	key, want string
}

func (e *keyError) Error() string { return "key " + printable(e.key) + ": want " + e.want }

// printable is a key as typed when it is plain, else quoted, so that an
// error naming it stays one readable line.
func printable(key string) string {
	for _, r := range key {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) || r == '"' {
			return strconv.Quote(key)
		}
	}
	return key
}

// Block returns the top-level block name (one of Blocks) of src as a map,
// or nil when src has none; Load ignores it. Split gives every block with
// its keys in file order (the sweep reads its axes that way).
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
