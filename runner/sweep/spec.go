// Package sweep turns a config's top-level `sweep:` block into numbered
// points (a grid's Cartesian product times a zip of keys varied together),
// runs them with resume (points already done with the same id are skipped),
// and rebuilds a summary and a contact sheet from the run folders alone, so
// a sweep run as one local process and one run as cluster array tasks end
// in the same files. It knows nothing of TensorFlow: the caller passes the
// function that runs one point.
package sweep

import (
	"fmt"
	"slices"
	"strings"

	"github.com/styletransfer/gostyle/runner/config"
)

// DefaultMaxPoints caps a sweep unless its block says otherwise: a typo that
// multiplies a grid should fail before it queues thousands of runs.
const DefaultMaxPoints = 1000

// MaxValues bounds one axis: a list longer than this is refused before
// anything is resolved (a sweep of more points needs sweep.max_points too).
const MaxValues = 10000

// Spec is a parsed sweep block plus the rest of the config.
type Spec struct {
	Source    string // config name, for error messages
	Name      string // sweep name (sweep.name, else the config's file name)
	Grid      []Axis // Cartesian product, first key slowest
	Zip       []Axis // varied together, equal lengths
	MaxPoints int
	Base      []byte // the config without its sweep, slurm and k8s blocks (config.Blocks)
	Slurm     Slurm
	K8s       K8s

	sets map[string]bool // sweep keys given by -set, for error messages
}

// Axis is one varied key and its values, each rendered as YAML flow text
// that a -set override reads back unchanged.
type Axis struct {
	Key    string
	Values []string
}

// Slurm is the config's `slurm:` block (every field optional).
type Slurm struct {
	Partition string   `yaml:"partition"`
	Time      string   `yaml:"time"`     // e.g. "01:00:00"
	GPUs      int      `yaml:"gpus"`     // per task
	CPUs      int      `yaml:"cpus"`     // cpus-per-task
	Mem       string   `yaml:"mem"`      // e.g. "16G"
	Parallel  int      `yaml:"parallel"` // the %P of --array: tasks at once; 0: no limit
	Account   string   `yaml:"account"`
	Setup     string   `yaml:"setup"`   // shell lines run before the runner (module load ...)
	Options   []string `yaml:"options"` // more #SBATCH options, e.g. "--qos=high"
}

// K8s is the config's `k8s:` block.
type K8s struct {
	Image                string            `yaml:"image"`
	Parallelism          int               `yaml:"parallelism"`
	PVC                  string            `yaml:"pvc"`        // claim holding the output root
	MountPath            string            `yaml:"mount_path"` // where it is mounted; default /results
	Namespace            string            `yaml:"namespace"`
	CPU                  string            `yaml:"cpu"`    // e.g. "4"
	Memory               string            `yaml:"memory"` // e.g. "16Gi"
	GPUs                 int               `yaml:"gpus"`   // nvidia.com/gpu
	BackoffLimitPerIndex int               `yaml:"backoff_limit_per_index"`
	Runner               string            `yaml:"runner"`  // command in the image; default "runner"
	WorkDir              string            `yaml:"workdir"` // the repository inside the image: configs, pictures, models
	Env                  map[string]string `yaml:"env"`
}

// Parse reads the sweep, slurm and k8s blocks of a config file. A config
// without a sweep block is an error: it is one experiment, not a sweep.
// sets are the user's -set flags: those of the sweep block
// ("sweep.grid.KEY=[...]", "sweep.zip.KEY=[...]", "sweep.max_points=N",
// "sweep.name=N") change it first, and an error in a value they gave names
// the -set; one of a swept key replaces that axis (see Load). The file is
// read by config.Split, as every config is.
func Parse(name string, data []byte, sets ...string) (Spec, error) {
	s := Spec{Source: name, Name: baseName(name), MaxPoints: DefaultMaxPoints, sets: map[string]bool{}}
	blocks, rest, err := config.Split(config.Source{Name: name, Data: data})
	if err != nil {
		return Spec{}, err
	}
	sw, ok := blocks["sweep"]
	if !ok {
		return Spec{}, fmt.Errorf("config %s: no sweep block (a sweep config has a top-level `sweep:` with `grid:` and/or `zip:`)", name)
	}
	if !sw.IsMap() {
		return Spec{}, s.fail("sweep", "want a map with grid: and/or zip:")
	}
	var cfgSets []string
	for _, set := range sets {
		if !isSweepSet(set) {
			cfgSets = append(cfgSets, set)
			continue
		}
		key, err := applySet(sw, set)
		if err != nil {
			return Spec{}, err
		}
		s.sets[key] = true
	}
	if err := s.block(sw); err != nil {
		return Spec{}, err
	}
	for _, set := range cfgSets {
		if err := s.override(set); err != nil {
			return Spec{}, err
		}
	}
	if n := s.Len(); n > s.MaxPoints {
		return Spec{}, s.fail("sweep.max_points", "the sweep has %d points, more than max_points %d (raise sweep.max_points if you mean it)", n, s.MaxPoints)
	}
	for key, dst := range map[string]any{"slurm": &s.Slurm, "k8s": &s.K8s} {
		if b, ok := blocks[key]; ok {
			if err := b.Decode(dst); err != nil {
				return Spec{}, s.fail(key, "%s", err)
			}
		}
	}
	s.Base = rest
	return s, nil
}

// block reads the sweep block's keys: grid, zip, max_points and name.
func (s *Spec) block(sw config.Value) error {
	for _, e := range sw.Entries() {
		var err error
		switch v := e.Value; e.Key {
		case "grid":
			s.Grid, err = s.axes("sweep.grid", v)
		case "zip":
			s.Zip, err = s.axes("sweep.zip", v)
		case "max_points":
			if !v.IsScalar() || v.Decode(&s.MaxPoints) != nil || s.MaxPoints < 1 {
				return s.fail("sweep.max_points", "want a whole number >= 1, got %s", v)
			}
		case "name":
			if n := v.Text(); !v.IsScalar() || n == "" || strings.ContainsAny(n, `/\`) || n == "." || n == ".." {
				return s.fail("sweep.name", "want a plain name, got %s", v)
			}
			s.Name = v.Text()
		default:
			return s.fail("sweep."+e.Key, "unknown key (known: grid, zip, max_points, name)")
		}
		if err != nil {
			return err
		}
	}
	if len(s.Grid) == 0 && len(s.Zip) == 0 {
		return s.fail("sweep", "no grid: or zip: keys to vary")
	}
	return s.checkAxes()
}

// fail is an error in sweep key key, naming where its value came from.
func (s Spec) fail(key, format string, args ...any) error {
	return fmt.Errorf("%s: key %s: %s", s.origin(key), key, fmt.Sprintf(format, args...))
}

func isBlock(k string) bool { return slices.Contains(config.Blocks, k) }

// applySet puts one "sweep.PART[.KEY]=value" override into the sweep block
// and returns the key as typed (lower case).
func applySet(sw config.Value, set string) (string, error) {
	k, val, _ := strings.Cut(set, "=")
	key := strings.ToLower(strings.TrimSpace(k))
	part, axis, _ := strings.Cut(strings.TrimPrefix(key, "sweep."), ".")
	path := []string{part}
	switch {
	case (part == "grid" || part == "zip") && axis != "":
		path = append(path, axis)
	case (part == "max_points" || part == "name") && axis == "":
	default:
		return "", fmt.Errorf("-set %s: not a sweep key (known: sweep.grid.KEY, sweep.zip.KEY, sweep.max_points, sweep.name)", key)
	}
	value, err := config.ParseValue(val)
	if err != nil {
		return "", fmt.Errorf("-set %s: %w", key, err)
	}
	if err := sw.Set(path, value); err != nil {
		return "", fmt.Errorf("-set %s: sweep.%w", key, err)
	}
	return key, nil
}

// origin says where a sweep key's value came from: "-set KEY" or the config.
func (s Spec) origin(key string) string {
	if s.sets[key] {
		return "-set " + key
	}
	return "config " + s.Source
}

// axes reads key -> list of values, in file order.
func (s Spec) axes(where string, m config.Value) ([]Axis, error) {
	if !m.IsMap() {
		return nil, s.fail(where, "want a map of config key -> list of values, got %s", m)
	}
	entries := m.Entries()
	if len(entries) == 0 {
		return nil, s.fail(where, "empty: name at least one key with a list of values")
	}
	var out []Axis
	for _, e := range entries {
		key := strings.ToLower(strings.TrimSpace(e.Key))
		at := where + "." + key
		items := e.Value.Items()
		switch {
		case key == "":
			return nil, fmt.Errorf("config %s: key %s: empty key name", s.Source, where)
		case !e.Value.IsList():
			return nil, s.fail(at, "want a list of values, got %s", e.Value)
		case len(items) == 0:
			return nil, s.fail(at, "empty list: give at least one value")
		case len(items) > MaxValues:
			return nil, s.fail(at, "a list of %d values, more than the bound %d", len(items), MaxValues)
		}
		a := Axis{Key: key}
		for j, v := range items {
			text, err := v.Flow()
			if err != nil {
				return nil, fmt.Errorf("%s: key %s[%d]: %w", s.origin(at), at, j, err)
			}
			a.Values = append(a.Values, text)
		}
		out = append(out, a)
	}
	return out, nil
}

// checkAxes rejects a key varied twice and zip lists of unequal length.
func (s Spec) checkAxes() error {
	seen := map[string]string{}
	for _, g := range []struct {
		where string
		axes  []Axis
	}{{"sweep.grid", s.Grid}, {"sweep.zip", s.Zip}} {
		for _, a := range g.axes {
			at := g.where + "." + a.Key
			if prev, ok := seen[a.Key]; ok {
				return fmt.Errorf("%s: key %s: %s is already varied in %s", s.origin(at), at, a.Key, prev)
			}
			seen[a.Key] = g.where
			if a.Key == "output" || a.Key == "name" || isBlock(a.Key) {
				return fmt.Errorf("%s: key %s: cannot be varied (the sweep owns the output folder and the run folder names)", s.origin(at), at)
			}
		}
	}
	for _, a := range s.Zip[min(1, len(s.Zip)):] {
		if ref := s.Zip[0]; len(a.Values) != len(ref.Values) {
			if s.sets["sweep.zip."+ref.Key] { // name the list the user typed
				a, ref = ref, a
			}
			at := "sweep.zip." + a.Key
			return fmt.Errorf("%s: key %s: has %d values but sweep.zip.%s has %d: zipped lists must have equal lengths",
				s.origin(at), at, len(a.Values), ref.Key, len(ref.Values))
		}
	}
	return nil
}

// axisKey is the sweep key that varies config key k ("sweep.grid.k"), or "".
func (s Spec) axisKey(k string) string {
	for _, a := range s.Grid {
		if a.Key == k {
			return "sweep.grid." + k
		}
	}
	for _, a := range s.Zip {
		if a.Key == k {
			return "sweep.zip." + k
		}
	}
	return ""
}

// isSweepSet reports whether a -set names a key of the sweep block.
func isSweepSet(set string) bool {
	key, _, _ := strings.Cut(set, "=")
	k := strings.ToLower(strings.TrimSpace(key))
	return k == "sweep" || strings.HasPrefix(k, "sweep.")
}

// override applies a -set of a config key: a swept key loses its axis; one
// entry of a swept map key is refused.
func (s *Spec) override(set string) error {
	key, _, _ := strings.Cut(set, "=")
	key = strings.ToLower(strings.TrimSpace(key))
	if s.drop(key) {
		return nil
	}
	for _, k := range s.Keys() {
		if strings.HasPrefix(key, k+".") {
			return fmt.Errorf("-set %s: %s is swept (%s); set the whole key to replace that axis", key, k, s.axisKey(k))
		}
	}
	return nil
}

// drop removes config key k's axis, reporting whether k was varied.
func (s *Spec) drop(k string) bool {
	if s.axisKey(k) == "" {
		return false
	}
	del := func(a Axis) bool { return a.Key == k }
	s.Grid = slices.DeleteFunc(s.Grid, del)
	s.Zip = slices.DeleteFunc(s.Zip, del)
	return true
}

// Len is the number of points: the grid's product times the zip's length.
func (s Spec) Len() int {
	n := 1
	for _, a := range s.Grid {
		n *= len(a.Values)
		if n > 1<<30 {
			return n
		}
	}
	if len(s.Zip) > 0 {
		n *= len(s.Zip[0].Values)
	}
	return n
}

// Keys lists the varied keys: the grid's in file order, then the zip's.
func (s Spec) Keys() []string {
	var keys []string
	for _, a := range append(append([]Axis{}, s.Grid...), s.Zip...) {
		keys = append(keys, a.Key)
	}
	return keys
}

// vars returns point i's key/value pairs: i read as a mixed-radix number
// whose digits are the axes' value indexes, so any point costs the same
// whatever the sweep's size. The grid's first key varies slowest and the
// zip (one digit for all its keys) fastest, as nested loops in file order.
func (s Spec) vars(i int) []Var {
	out := make([]Var, len(s.Grid)+len(s.Zip))
	rest := i
	if len(s.Zip) > 0 {
		n := len(s.Zip[0].Values)
		j := rest % n
		rest /= n
		for k, a := range s.Zip {
			out[len(s.Grid)+k] = Var{a.Key, a.Values[j]}
		}
	}
	for k := len(s.Grid) - 1; k >= 0; k-- {
		a := s.Grid[k]
		out[k] = Var{a.Key, a.Values[rest%len(a.Values)]}
		rest /= len(a.Values)
	}
	return out
}

// zipRow is vars with the zip's keys set to row j.
func (s Spec) zipRow(vars []Var, j int) []Var {
	out := append([]Var{}, vars...)
	for k, a := range s.Zip {
		out[len(s.Grid)+k].Value = a.Values[j]
	}
	return out
}

func baseName(p string) string {
	p = strings.TrimSuffix(p, " (embedded)")
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		p = p[i+1:]
	}
	if i := strings.LastIndex(p, "."); i > 0 {
		p = p[:i]
	}
	return p
}
