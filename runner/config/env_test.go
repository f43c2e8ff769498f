package config

import (
	"strings"
	"testing"
)

func TestEnvVarNames(t *testing.T) {
	for key, want := range map[string]string{"style_weight": "RUNNER_STYLE_WEIGHT", "content_layers": "RUNNER_CONTENT_LAYERS",
		"style_layers.conv1_1": "RUNNER_STYLE_LAYERS_CONV1_1"} {
		if got := EnvVar(key); got != want {
			t.Errorf("EnvVar(%s) = %s, want %s", key, got, want)
		}
	}
}

// defaults < file < environment < -set, through the real process environment.
func TestPrecedenceDefaultsFileEnvironmentSet(t *testing.T) {
	file := minimal + "iterations: 7\nwidth: 64\nheight: 48\nstyle_weight: 10\n"
	t.Setenv("RUNNER_WIDTH", "32")
	t.Setenv("RUNNER_STYLE_WEIGHT", "20")
	t.Setenv("RUNNER_CONTENT_LAYERS", "{conv5_1: 2}")
	t.Setenv("RUNNER_STYLE", "[a.png, b.png]")
	t.Setenv("RUNNER_NAME", "") // empty: unset, as viper treats it
	t.Setenv("RUNNER_STDERR_FD", "not a config key")
	c, err := load(t, file, "style_weight=30")
	if err != nil {
		t.Fatal(err)
	}
	if c.LearningRate != 2 || c.Iterations != 7 || c.Height != 48 || c.Width != 32 || c.StyleWeight != 30 || c.Name != "" {
		t.Errorf("precedence: lr %g (default 2), iterations %d (file 7), height %d (file 48), width %d (env 32), style_weight %g (-set 30), name %q",
			c.LearningRate, c.Iterations, c.Height, c.Width, c.StyleWeight, c.Name)
	}
	if len(c.ContentLayers) != 1 || c.ContentLayers["conv5_1"] != 2 || len(c.Style) != 2 {
		t.Errorf("environment maps and lists: %v %v", c.ContentLayers, c.Style)
	}
	// -set reaches into the map the environment gave.
	c, err = load(t, file, "content_layers.conv4_2=0.5")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ContentLayers) != 2 || c.ContentLayers["conv5_1"] != 2 || c.ContentLayers["conv4_2"] != 0.5 {
		t.Errorf("env map + -set entry: %v", c.ContentLayers)
	}
	// LoadEnv with no lookup ignores the environment (a recorded config reloads as it was).
	c, err = LoadEnv(Source{Name: "test.yaml", Data: []byte(file)}, nil, nil)
	if err != nil || c.Width != 64 || c.StyleWeight != 10 {
		t.Errorf("nil lookup: width %d style_weight %g err %v", c.Width, c.StyleWeight, err)
	}
}

func TestEnvironmentErrorsNameTheVariable(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		sets []string
		want string
	}{
		{map[string]string{"RUNNER_ITERATIONS": "x"}, nil, `environment RUNNER_ITERATIONS: key iterations: want an integer, got "x"`},
		{map[string]string{"RUNNER_ITERATIONS": "0"}, nil, `environment RUNNER_ITERATIONS: key iterations: want at least 1`},
		{map[string]string{"RUNNER_STYLE_LAYERS": "{conv1_1: -1}"}, nil, `environment RUNNER_STYLE_LAYERS: key style_layers.conv1_1: want a finite weight >= 0`},
		{map[string]string{"RUNNER_WIDTH": "[1"}, nil, `environment RUNNER_WIDTH: value is not valid YAML`},
		{map[string]string{"RUNNER_DEVICE": "tpu"}, nil, `environment RUNNER_DEVICE: key device: want auto, cpu, gpu or gpu:N`},
		// A -set error names the -set, even when the environment set the key too.
		{map[string]string{"RUNNER_ITERATIONS": "3"}, []string{"iterations=x"}, `-set iterations: key iterations: want an integer, got "x"`},
		// A bad value in the file is the file's, whatever else was overridden.
		{map[string]string{"RUNNER_WIDTH": "64"}, []string{"style_layers.conv2_1=1"}, `config test.yaml: key height: want 0 or a size`},
	} {
		lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
		file := minimal
		if strings.Contains(tc.want, "height") {
			file += "height: -1\n"
		}
		_, err := LoadEnv(Source{Name: "test.yaml", Data: []byte(file)}, tc.sets, lookup)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%v %v: err = %v, want %q", tc.env, tc.sets, err, tc.want)
		}
	}
}

// Only the table's keys are looked up: other RUNNER_* variables (the
// launcher's RUNNER_STDERR_FD, tests' RUNNER_AS_MAIN) are never read.
func TestEnvironmentLooksUpOnlyTableKeys(t *testing.T) {
	var asked []string
	_, err := LoadEnv(Source{Name: "test.yaml", Data: []byte(minimal)}, nil, func(k string) (string, bool) {
		asked = append(asked, k)
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(asked) != len(keys) {
		t.Fatalf("looked up %d variables for %d keys", len(asked), len(keys))
	}
	for i, k := range keys {
		if asked[i] != EnvVar(k.name) {
			t.Errorf("lookup %d: %s, want %s", i, asked[i], EnvVar(k.name))
		}
	}
}

func TestSetMapEntryKeepsTheRestOfTheMap(t *testing.T) {
	c, err := load(t, minimal+"style_layers: {conv2_1: 3}\n", "style_layers.conv1_1=0.5")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.StyleLayers) != 2 || c.StyleLayers["conv2_1"] != 3 || c.StyleLayers["conv1_1"] != 0.5 {
		t.Errorf("file map + -set entry: %v", c.StyleLayers)
	}
	c, err = load(t, minimal, "style_layers.conv1_1=0.5")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.StyleLayers) != 5 || c.StyleLayers["conv1_1"] != 0.5 || c.StyleLayers["conv5_1"] != 1 {
		t.Errorf("default map + -set entry: %v", c.StyleLayers)
	}
	// The table's default map is not changed by an entry override.
	if c, _ := load(t, minimal); c.StyleLayers["conv1_1"] != 1 {
		t.Errorf("default map mutated: %v", c.StyleLayers)
	}
}

func TestNewRuntimeKeys(t *testing.T) {
	c, err := load(t, minimal)
	if err != nil {
		t.Fatal(err)
	}
	if c.Device != "auto" || c.IntraOpThreads != 0 || c.InterOpThreads != 0 || c.Precision != "float32" ||
		c.MaxPixels != 100_000_000 || c.DivergenceFactor != 1000 {
		t.Errorf("defaults: %+v", c)
	}
	for _, ok := range [][]string{{"device=cpu"}, {"device=gpu"}, {"device=gpu:0"}, {"device=gpu:12"},
		{"intra_op_threads=4", "inter_op_threads=2"}, {"precision=bfloat16"}, {"precision=float16"}, {"max_pixels=1"},
		{"divergence_factor=0"}, {"divergence_factor=1.5"}} {
		if _, err := load(t, minimal, ok...); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
	for _, tc := range []struct{ set, want string }{
		{"device=GPU", "key device"}, {"device='gpu:'", "key device"}, {"device=gpu:-1", "key device"},
		{"device=gpu:+1", "key device"}, {"device=cpu:0", "key device"},
		{"intra_op_threads=-1", "key intra_op_threads: want 0"}, {"inter_op_threads=1.5", "key inter_op_threads: want an integer"},
		{"precision=float64", `key precision: want one of "float32", "bfloat16", "float16"`},
		{"max_pixels=0", "key max_pixels: want at least 1"},
		{"divergence_factor=1", "key divergence_factor: want 0 (off) or a finite number > 1"},
		{"divergence_factor=0.5", "key divergence_factor"}, {"divergence_factor=-1", "key divergence_factor"},
		{"divergence_factor=.inf", "key divergence_factor"}, {"divergence_factor=.nan", "key divergence_factor"},
	} {
		if _, err := load(t, minimal, tc.set); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.set, err, tc.want)
		}
	}
}
