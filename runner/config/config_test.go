package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func load(t *testing.T, yaml string, sets ...string) (Config, error) {
	t.Helper()
	return Load(Source{Name: "test.yaml", Data: []byte(yaml)}, sets)
}

const minimal = "content: c.jpg\nstyle: s.jpg\n"

func TestDefaultsAreTheNotebookPaperSettings(t *testing.T) {
	c, err := load(t, minimal)
	if err != nil {
		t.Fatal(err)
	}
	if c.Width != 800 || c.Height != 600 || c.StyleWeight != 500 || c.NoiseRatio != 0.7 ||
		c.ContentLayers["conv4_2"] != 1 || len(c.StyleLayers) != 5 || c.CheckpointEvery != 25 {
		t.Errorf("defaults: %+v", c)
	}
	if len(c.Style) != 1 || c.Style[0] != "s.jpg" {
		t.Errorf("style = %v", c.Style)
	}
}

func TestSetOverridesAnyKeyWithYAMLValues(t *testing.T) {
	c, err := load(t, minimal+"content_layers: {conv4_2: 1}\n",
		"iterations=4", "width=64", "style=[a.png, b.png]", "content_layers={conv5_1: 2}",
		"style_layers.conv1_1=0.5", "learning_rate=1e1")
	if err != nil {
		t.Fatal(err)
	}
	if c.Iterations != 4 || c.Width != 64 || len(c.Style) != 2 || c.LearningRate != 10 {
		t.Errorf("overrides not applied: %+v", c)
	}
	if len(c.ContentLayers) != 1 || c.ContentLayers["conv5_1"] != 2 {
		t.Errorf("a map given with -set replaces the map: %v", c.ContentLayers)
	}
	if c.StyleLayers["conv1_1"] != 0.5 {
		t.Errorf("dotted -set: %v", c.StyleLayers)
	}
}

func TestMapInFileReplacesDefaultMap(t *testing.T) {
	c, err := load(t, minimal+"style_layers: {conv1_1: 1}\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.StyleLayers) != 1 {
		t.Errorf("style_layers = %v, want only conv1_1", c.StyleLayers)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		sets []string
		want string
	}{
		{minimal + "iteratons: 5\n", nil, `unknown key "iteratons"`},
		{minimal + "adam: {lr: 1}\n", nil, `unknown key "adam.lr"`},
		{minimal, []string{"colour=red"}, `-set colour: unknown key "colour"`},
		{minimal, []string{"iterations"}, `want key=value`},
		{minimal + "iterations: many\n", nil, `key iterations: want an integer, got "many"`},
		{minimal + "iterations: 2.5\n", nil, `key iterations: want an integer`},
		{minimal + "iterations: 0\n", nil, `key iterations: want at least 1`},
		{minimal + "noise_ratio: 2\n", nil, `key noise_ratio`},
		{minimal + "style_layers: {conv1_1: -1}\n", nil, `key style_layers.conv1_1`},
		{minimal + "style_layers: [conv1_1]\n", nil, `key style_layers: want a map`},
		{"content: c.jpg\n", nil, `key style: want a picture path`},
		{minimal + "normalization: fancy\n", nil, `key normalization`},
		{minimal + "name: ../x\n", nil, `key name`},
		{minimal + "content: [\n", nil, `not valid YAML`},
	} {
		_, err := load(t, tc.yaml, tc.sets...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q %v: err = %v, want %q", tc.yaml, tc.sets, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("error is not one line: %q", err)
		}
		if len(tc.sets) == 0 && !strings.Contains(err.Error(), "test.yaml") {
			t.Errorf("error does not name the file: %v", err)
		}
	}
}

func TestFindLooksHereThenUnderDirThenEmbedded(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "configs", "experiments"), 0o755)
	os.WriteFile(filepath.Join(dir, "configs", "experiments", "a.yaml"), []byte(minimal), 0o644)
	t.Chdir(dir)
	embedded := fstest.MapFS{"quick.yaml": {Data: []byte(minimal)}}

	if s, err := Find("experiments/a.yaml", "configs", embedded); err != nil || s.Name != filepath.Join("configs", "experiments", "a.yaml") {
		t.Errorf("under configs/: %v %v", s.Name, err)
	}
	if s, err := Find("configs/experiments/a.yaml", "configs", embedded); err != nil || s.Name != "configs/experiments/a.yaml" {
		t.Errorf("as given: %v %v", s.Name, err)
	}
	if s, err := Find("quick.yaml", "configs", embedded); err != nil || !strings.Contains(s.Name, "embedded") {
		t.Errorf("embedded: %v %v", s.Name, err)
	}
	if _, err := Find("nope.yaml", "configs", embedded); err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("missing: %v", err)
	}
}

func TestResolvedYAMLRoundTrips(t *testing.T) {
	c, err := load(t, minimal, "style=[a.png, b.png]", "tv_weight=3")
	if err != nil {
		t.Fatal(err)
	}
	y, err := YAML(c.Resolved())
	if err != nil {
		t.Fatal(err)
	}
	back, err := Load(Source{Name: "resolved", Data: y}, nil)
	if err != nil {
		t.Fatalf("resolved config does not load: %v\n%s", err, y)
	}
	if back.TVWeight != 3 || len(back.Style) != 2 || !filepath.IsAbs(back.Content) || back.Iterations != c.Iterations {
		t.Errorf("round trip: %+v", back)
	}
}
