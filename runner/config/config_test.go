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

func TestBlocksAreSkippedByLoadAndReadByBlock(t *testing.T) {
	src := Source{Name: "s.yaml", Data: []byte(minimal + "sweep:\n  grid: {style_weight: [1, 2]}\nslurm: {partition: x}\n")}
	c, err := Load(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.StyleWeight != 500 {
		t.Errorf("style_weight %g", c.StyleWeight)
	}
	b, err := Block(src, "sweep")
	if err != nil {
		t.Fatal(err)
	}
	if g, ok := b["grid"].(map[string]any); !ok || len(g["style_weight"].([]any)) != 2 {
		t.Errorf("sweep block %v", b)
	}
	if b, err := Block(src, "k8s"); b != nil || err != nil {
		t.Errorf("absent block: %v %v", b, err)
	}
	if _, err := Block(Source{Name: "s.yaml", Data: []byte("sweep: 3\n")}, "sweep"); err == nil || !strings.Contains(err.Error(), "key sweep") {
		t.Errorf("scalar sweep block: %v", err)
	}
}

func TestNewKeysDecodeAndCheck(t *testing.T) {
	c, err := load(t, minimal, "style=[a.png, b.png]", "style_blend_weights=[1, 3]", "scales=[64, 128]",
		"preserve_colors=true", "optimizer=lbfgs", "normalization=keras", "init=content", "max_size=300")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.StyleBlendWeights) != 2 || c.StyleBlendWeights[1] != 3 || len(c.Scales) != 2 || !c.PreserveColors ||
		c.Optimizer != "lbfgs" || c.Normalization != "keras" || c.Init != "content" || c.MaxSize != 300 ||
		c.MaxEvaluations != 20 || c.LBFGSMemory != 10 || c.ContentWeightBlend != 1 {
		t.Errorf("decoded %+v", c)
	}
	for _, tc := range []struct {
		sets []string
		want string
	}{
		{[]string{"style_blend_weights=[1, 2]"}, "key style_blend_weights: want one weight per style picture (1)"},
		{[]string{"style_blend_weights=[0]"}, "key style_blend_weights"},
		{[]string{"scales=[128, 64]"}, "key scales"},
		{[]string{"scales=[a]"}, "key scales: want a list of integers"},
		{[]string{"preserve_colors=yes please"}, "key preserve_colors: want true or false"},
		{[]string{"optimizer=sgd"}, `key optimizer: want one of "adam", "lbfgs"`},
		{[]string{"content_weight_blend=2"}, "key content_weight_blend"},
		{[]string{"style_scale=0"}, "key style_scale"},
		{[]string{"max_evaluations=0"}, "key max_evaluations"},
	} {
		if _, err := load(t, minimal, tc.sets...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.sets, err, tc.want)
		}
	}
}

// The README reference lists every key once, in table order, and is the
// same text each time (a drift test compares it with README.md).
func TestReferenceMarkdownListsEveryKey(t *testing.T) {
	md := ReferenceMarkdown()
	if md != ReferenceMarkdown() {
		t.Fatal("not deterministic")
	}
	rows := strings.Split(strings.TrimSpace(md), "\n")
	if len(rows) != len(keys)+2 {
		t.Fatalf("%d rows for %d keys", len(rows), len(keys))
	}
	for i, k := range keys {
		if !strings.HasPrefix(rows[i+2], "| `"+k.name+"` |") {
			t.Errorf("row %d: %s", i+2, rows[i+2])
		}
	}
	if !strings.Contains(md, "| `style_layers` | map layer: weight | `{conv1_1: 1, conv2_1: 1, conv3_1: 1, conv4_1: 1, conv5_1: 1}` |") {
		t.Errorf("style_layers row:\n%s", md)
	}
	// Every key's default passes its own check (with the required paths given).
	if _, err := load(t, minimal); err != nil {
		t.Error(err)
	}
}

// The README's reference block is ReferenceMarkdown() exactly.
func TestREADMEReferenceIsCurrent(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok1 := strings.Cut(string(readme), "<!-- config-reference:begin -->\n")
	block, _, ok2 := strings.Cut(rest, "<!-- config-reference:end -->")
	if !ok1 || !ok2 {
		t.Fatal("README.md lacks the config-reference markers")
	}
	if block != ReferenceMarkdown() {
		t.Errorf("README.md's config reference differs from runner/config/keys.go: run `make docs`")
	}
}

// jcjohnson/neural-style's relu<b>_<c> names are aliases of conv<b>_<c> (each conv
// layer here is its ReLU's output): the config resolves to the same layers and the same
// run id, a dotted -set through an alias replaces the entry it means, and one layer given
// under both names is refused naming the key.
func TestReluLayerAliases(t *testing.T) {
	conv, err := load(t, minimal+"content_layers: {conv4_2: 1}\nstyle_layers: {conv1_1: 1, conv2_1: 0.5}\ncontent_blend_layers: [conv4_2, conv5_2]\n")
	if err != nil {
		t.Fatal(err)
	}
	relu, err := load(t, minimal+"content_layers: {relu4_2: 1}\nstyle_layers: {RELU1_1: 1, conv2_1: 0.5}\ncontent_blend_layers: [relu4_2, relu5_2]\n")
	if err != nil {
		t.Fatal(err)
	}
	if relu.ContentLayers["conv4_2"] != 1 || len(relu.ContentLayers) != 1 || relu.StyleLayers["conv1_1"] != 1 ||
		relu.StyleLayers["conv2_1"] != 0.5 || len(relu.StyleLayers) != 2 || strings.Join(relu.ContentBlendLayers, ",") != "conv4_2,conv5_2" {
		t.Errorf("aliases resolved to %v %v %v", relu.ContentLayers, relu.StyleLayers, relu.ContentBlendLayers)
	}
	reluID, err1 := relu.ID()
	convID, err2 := conv.ID()
	if err1 != nil || err2 != nil || reluID != convID {
		t.Errorf("ids differ: relu %s %v, conv %s %v", reluID, err1, convID, err2)
	}
	// The default style_layers hold conv1_1: 1; the alias's entry replaces it.
	c, err := load(t, minimal, "style_layers.relu1_1=3")
	if err != nil {
		t.Fatal(err)
	}
	if c.StyleLayers["conv1_1"] != 3 || len(c.StyleLayers) != 5 {
		t.Errorf("style_layers.relu1_1=3 gave %v", c.StyleLayers)
	}
	_, err = load(t, minimal+"style_layers: {relu1_1: 1, conv1_1: 2}\n")
	if err == nil || !strings.Contains(err.Error(), "key style_layers.") || !strings.Contains(err.Error(), "one weight for conv1_1") {
		t.Errorf("both names: %v", err)
	}
}
