package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// Split gives the blocks as written (keys in file order) and the settings
// without them; Load reads both texts alike.
func TestSplitKeepsBlocksInFileOrder(t *testing.T) {
	text := minimal + "sweep:\n  grid:\n    seed: [1, 2]\n    pooling: [avg, max]\n    iterations: [3]\n" +
		"style_weight: 50\nk8s: {image: i}\n"
	src := Source{Name: "s.yaml", Data: []byte(text)}
	blocks, rest, err := Split(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 2 || !blocks["sweep"].IsMap() || !blocks["k8s"].IsMap() {
		t.Fatalf("blocks %v", blocks)
	}
	grid := blocks["sweep"].Entries()[0]
	var keys []string
	for _, e := range grid.Value.Entries() {
		keys = append(keys, e.Key)
	}
	if grid.Key != "grid" || !slices.Equal(keys, []string{"seed", "pooling", "iterations"}) {
		t.Errorf("grid %q keys %q, want seed, pooling, iterations in file order", grid.Key, keys)
	}
	if strings.Contains(string(rest), "sweep") || strings.Contains(string(rest), "k8s") || !strings.Contains(string(rest), "style_weight: 50") {
		t.Errorf("rest still holds a block or lost a setting:\n%s", rest)
	}
	whole, err := Load(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	settings, err := Load(Source{Name: "s.yaml", Data: rest}, nil)
	if err != nil || !reflect.DeepEqual(whole, settings) || whole.StyleWeight != 50 {
		t.Errorf("Load of the rest %+v (%v), of the whole %+v", settings, err, whole)
	}
	var k8s struct {
		Image string `yaml:"image"`
	}
	if err := blocks["k8s"].Decode(&k8s); err != nil || k8s.Image != "i" {
		t.Errorf("k8s block: %+v %v", k8s, err)
	}
}

// Split refuses what Load refuses at the top level, in one line naming the
// file: text that is not YAML, a top level that is not a map, a key twice.
func TestSplitErrorsAreOneLine(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"a: [1\n", "config x.yaml: not valid YAML: "},
		{"- a\n- b\n", "config x.yaml: want a map of keys at the top level"},
		{"", "config x.yaml: want a map of keys at the top level"},
		{"sweep: {grid: {seed: [1]}}\nsweep: {grid: {seed: [2]}}\n", `config x.yaml: not valid YAML: yaml: unmarshal errors: line 2: mapping key "sweep" already defined at line 1`},
	} {
		_, _, err := Split(Source{Name: "x.yaml", Data: []byte(c.text)})
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error %v, want one line starting %q", c.text, err, c.want)
		}
	}
}

// Flow text read back by ParseValue is the value yaml.v3 decodes from the
// original text, for every shape a sweep axis holds.
func TestFlowReadsBackAsTheSameValue(t *testing.T) {
	for _, text := range []string{
		`"500"`, `500`, `1.5e-1`, `"b c.jpg"`, `[a.jpg, "b c.jpg"]`, "{conv1_1: 0.5, conv2_1: 1}",
		"conv3_1: 2\nconv4_1: 1.5e-1\n", "- x\n- [1, 2]\n", "|\n  two\n  lines\n", `~`, `'it''s'`, "true",
	} {
		v, err := ParseValue(text)
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		flow, err := v.Flow()
		if err != nil || strings.Contains(flow, "\n") {
			t.Fatalf("%q: flow %q %v", text, flow, err)
		}
		var want, got any
		if err := yaml.Unmarshal([]byte(text), &want); err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal([]byte(flow), &got); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%q: flow %q reads back as %#v (%v), want %#v", text, flow, got, err, want)
		}
	}
	if v, _ := ParseValue(`"500"`); v.String() != `"500"` || v.Text() != "500" || !v.IsScalar() {
		t.Errorf(`"500": String %s Text %q`, v, v.Text())
	}
	if v, _ := ParseValue(""); v.String() != "nothing" || !v.IsScalar() {
		t.Errorf("empty text: %s", v)
	}
	var zero Value
	if _, err := zero.Flow(); err == nil || zero.String() != "nothing" || zero.Decode(new(any)) == nil || zero.IsScalar() || zero.Items() != nil {
		t.Errorf("the zero Value: %s, flow error %v", zero, err)
	}
	if _, err := ParseValue("[1"); err == nil || !strings.HasPrefix(err.Error(), "value is not valid YAML: ") || strings.Contains(err.Error(), "\n") {
		t.Errorf("bad value: %v", err)
	}
}

// Set replaces a key however its case and spaces were written, adds a
// missing one with the maps on its way, and refuses to go through a
// scalar.
func TestSetEditsTheMapInPlace(t *testing.T) {
	blocks, _, err := Split(Source{Name: "s.yaml", Data: []byte("sweep:\n  ' Grid ': {seed: [1]}\n  name: n\n")})
	if err != nil {
		t.Fatal(err)
	}
	sw := blocks["sweep"]
	set := func(path, text string) error {
		v, err := ParseValue(text)
		if err != nil {
			t.Fatal(err)
		}
		return sw.Set(strings.Split(path, "."), v)
	}
	if err := set("grid.seed", "[7, 8]"); err != nil {
		t.Fatal(err)
	}
	if err := set("zip.model", "[a, b]"); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range sw.Entries() {
		for _, a := range e.Value.Entries() {
			got[e.Key+"/"+a.Key], _ = a.Value.Flow()
		}
	}
	if want := map[string]string{" Grid /seed": "[7, 8]", "zip/model": "[a, b]"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after Set: %q, want %q", got, want)
	}
	if err := set("name.x", "1"); err == nil || err.Error() != `name is "n" in the config, not a map` {
		t.Errorf("Set through a scalar: %v", err)
	}
}

func TestOneLine(t *testing.T) {
	_, err := parse(Source{Name: "x.yaml", Data: []byte("a: 1\nb: [1, x: {\n")})
	if err == nil || strings.ContainsAny(err.Error(), "\n\r\t") {
		t.Errorf("parse error %q: want one line", err)
	}
	if got := OneLine(errString("yaml: unmarshal errors:\n  line 1: x\r\n\tline 2:  y ")); got != "yaml: unmarshal errors: line 1: x line 2: y" {
		t.Errorf("OneLine = %q", got)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
