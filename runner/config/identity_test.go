package config

import (
	"regexp"
	"testing"
)

func id(t *testing.T, yaml string, sets ...string) string {
	t.Helper()
	c, err := LoadEnv(Source{Name: "test.yaml", Data: []byte(yaml)}, sets, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.ID()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestIDIsTwelveHexDigitsAndStableAcrossMapOrders(t *testing.T) {
	a := id(t, minimal+"style_layers: {conv1_1: 1, conv2_1: 0.5, conv3_1: 2}\n")
	if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(a) {
		t.Fatalf("id %q", a)
	}
	for i := 0; i < 20; i++ { // Go randomises map order on every walk
		if b := id(t, "style_layers: {conv3_1: 2, conv1_1: 1, conv2_1: 0.5}\nstyle: s.jpg\ncontent: c.jpg\n"); b != a {
			t.Fatalf("same settings in another order: %s != %s", b, a)
		}
	}
	// The same value written another way is the same config.
	if b := id(t, minimal+"style_layers: {conv1_1: 1.0, conv2_1: 5e-1, conv3_1: 2}\n", "iterations=500.0"); b != a {
		t.Errorf("1.0 vs 1, 5e-1 vs 0.5: %s != %s", b, a)
	}
}

func TestIDChangesWithResultsOnly(t *testing.T) {
	base := id(t, minimal)
	for _, set := range []string{"style_weight=501", "content=d.jpg", "style=[s.jpg, t.jpg]", "style_layers.conv1_1=2",
		"seed=1", "iterations=501", "device=cpu", "precision=bfloat16", "divergence_factor=0", "optimizer=lbfgs"} {
		if id(t, minimal, set) == base {
			t.Errorf("-set %s keeps the id", set)
		}
	}
	for _, set := range []string{"output=elsewhere", "name=mine", "overwrite=true", "log_every=1",
		"intra_op_threads=3", "inter_op_threads=2", "max_pixels=1000"} {
		if got := id(t, minimal, set); got != base {
			t.Errorf("-set %s changes the id: %s != %s", set, got, base)
		}
	}
}

// A run folder's config.yaml is config.YAML(c.Resolved()); -resume reloads it.
func TestIDSurvivesTheResolvedYAML(t *testing.T) {
	for _, sets := range [][]string{
		nil,
		{"style=[a.png, b.png]", "style_blend_weights=[1, 3]", "init=start.png", "scales=[64, 128]", "name=x", "seed=-7"},
		{"content_layers={conv5_1: 1e-3}", "learning_rate=1e1", "divergence_factor=0", "device=gpu:1"},
	} {
		c, err := LoadEnv(Source{Name: "test.yaml", Data: []byte(minimal)}, sets, nil)
		if err != nil {
			t.Fatal(err)
		}
		y, err := YAML(c.Resolved())
		if err != nil {
			t.Fatal(err)
		}
		back, err := LoadEnv(Source{Name: "config.yaml", Data: y}, nil, nil)
		if err != nil {
			t.Fatalf("%v: %v\n%s", sets, err, y)
		}
		c1, _ := c.Canonical()
		c2, _ := back.Canonical()
		if string(c1) != string(c2) {
			t.Errorf("%v: canonical changes on reload:\n%s\n---\n%s", sets, c1, c2)
		}
	}
}
