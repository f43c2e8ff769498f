package sweep

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/styletransfer/gostyle/runner/config"
)

const base = `model: testdata/vgg19-tiny
content: testdata/images/shipwreck.jpg
style: testdata/images/starry_night.jpg
output: results/sw
iterations: 5
content_layers: {conv4_2: 1}
style_layers: {conv1_1: 1, conv2_1: 1}
`

func load(t *testing.T, text string, sets ...string) (Plan, error) {
	t.Helper()
	return Load(config.Source{Name: "s.yaml", Data: []byte(text)}, sets, "")
}

func mustLoad(t *testing.T, text string, sets ...string) Plan {
	t.Helper()
	p, err := load(t, text, sets...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func overrides(points []Point) []string {
	var out []string
	for _, p := range points {
		out = append(out, strings.Join(p.Overrides(), " "))
	}
	return out
}

func TestGridIsCartesianProductFirstKeySlowest(t *testing.T) {
	p := mustLoad(t, base+`
sweep:
  grid:
    style_weight: [50, 500]
    pooling: [avg, max]
    iterations: [1, 2, 3]
`)
	if len(p.Points) != 12 {
		t.Fatalf("got %d points, want 2*2*3 = 12", len(p.Points))
	}
	want := []string{
		"style_weight=50 pooling=avg iterations=1", "style_weight=50 pooling=avg iterations=2", "style_weight=50 pooling=avg iterations=3",
		"style_weight=50 pooling=max iterations=1", "style_weight=50 pooling=max iterations=2", "style_weight=50 pooling=max iterations=3",
		"style_weight=500 pooling=avg iterations=1", "style_weight=500 pooling=avg iterations=2", "style_weight=500 pooling=avg iterations=3",
		"style_weight=500 pooling=max iterations=1", "style_weight=500 pooling=max iterations=2", "style_weight=500 pooling=max iterations=3",
	}
	if got := overrides(p.Points); !slices.Equal(got, want) {
		t.Fatalf("points:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i, pt := range p.Points {
		if pt.Index != i || p.Configs[i].Name != pt.Dir {
			t.Errorf("point %d: index %d, config name %q, dir %q", i, pt.Index, p.Configs[i].Name, pt.Dir)
		}
	}
	if c := p.Configs[10]; c.StyleWeight != 500 || c.Pooling != "max" || c.Iterations != 2 {
		t.Errorf("point 10 config: style_weight %v pooling %q iterations %d", c.StyleWeight, c.Pooling, c.Iterations)
	}
	if p.Output != "results/sw" || p.Spec.Name != "s" {
		t.Errorf("output %q, name %q", p.Output, p.Spec.Name)
	}
	if p.Points[5].Dir != "005-style_weight=50-pooling=max-iterations=3" {
		t.Errorf("dir %q", p.Points[5].Dir)
	}
}

func TestZipAndGridTimesZip(t *testing.T) {
	p := mustLoad(t, base+`
sweep:
  zip:
    model: [m/avg, m/max]
    pooling: [avg, max]
`)
	if got, want := overrides(p.Points), []string{"model=m/avg pooling=avg", "model=m/max pooling=max"}; !slices.Equal(got, want) {
		t.Fatalf("zip points %q, want %q", got, want)
	}
	p = mustLoad(t, base+`
sweep:
  zip:
    model: [m/avg, m/max]
    pooling: [avg, max]
  grid:
    style_weight: [5, 50]
`)
	want := []string{
		"style_weight=5 model=m/avg pooling=avg", "style_weight=5 model=m/max pooling=max",
		"style_weight=50 model=m/avg pooling=avg", "style_weight=50 model=m/max pooling=max",
	}
	if got := overrides(p.Points); !slices.Equal(got, want) {
		t.Fatalf("grid x zip points %q, want %q", got, want)
	}
	if c := p.Configs[3]; c.Model != "m/max" || c.Pooling != "max" || c.StyleWeight != 50 {
		t.Errorf("point 3 config %+v", c)
	}
}

// Values come back through config.Load's -set parser exactly: lists,
// maps, quoted strings, floats.
func TestValuesRenderAsFlowYAML(t *testing.T) {
	p := mustLoad(t, base+`
sweep:
  zip:
    style: [[a.jpg, "b c.jpg"], "x y.jpg"]
    style_layers:
      - {conv1_1: 0.5, conv2_1: 1}
      - conv3_1: 2
        conv4_1: 1.5e-1
    learning_rate: [1e-3, 10]
`)
	want := []string{
		"style=[a.jpg, \"b c.jpg\"] style_layers={conv1_1: 0.5, conv2_1: 1} learning_rate=1e-3",
		"style=\"x y.jpg\" style_layers={conv3_1: 2, conv4_1: 1.5e-1} learning_rate=10",
	}
	if got := overrides(p.Points); !slices.Equal(got, want) {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	c0, c1 := p.Configs[0], p.Configs[1]
	if !slices.Equal(c0.Style, []string{"a.jpg", "b c.jpg"}) || !slices.Equal(c1.Style, []string{"x y.jpg"}) {
		t.Errorf("styles %q %q", c0.Style, c1.Style)
	}
	if c0.StyleLayers["conv1_1"] != 0.5 || len(c0.StyleLayers) != 2 || c1.StyleLayers["conv4_1"] != 0.15 || len(c1.StyleLayers) != 2 {
		t.Errorf("style layers %v %v", c0.StyleLayers, c1.StyleLayers)
	}
	if c0.LearningRate != 1e-3 || c1.LearningRate != 10 {
		t.Errorf("learning rates %v %v", c0.LearningRate, c1.LearningRate)
	}
}

func TestSetAndOutApplyToEveryPoint(t *testing.T) {
	text := base + "sweep:\n  grid:\n    seed: [1, 2]\n"
	p, err := Load(config.Source{Name: "s.yaml", Data: []byte(text)}, []string{"iterations=7", "seed=9"}, "elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range p.Configs {
		if c.Iterations != 7 || c.Seed != int64(i+1) || c.Output != "elsewhere" {
			t.Errorf("point %d: iterations %d seed %d output %q (want 7, %d, elsewhere: -set applies to all, the sweep's value wins)", i, c.Iterations, c.Seed, c.Output, i+1)
		}
	}
	if p.Output != "elsewhere" {
		t.Errorf("sweep output %q", p.Output)
	}
}

func TestBadSweepsNameTheKey(t *testing.T) {
	cases := []struct {
		name, sweep string
		want        []string
	}{
		{"no block", "", []string{"s.yaml", "no sweep block"}},
		{"empty grid", "sweep:\n  grid: {}\n", []string{"sweep.grid", "empty"}},
		{"empty sweep", "sweep: {}\n", []string{"key sweep", "no grid"}},
		{"empty list", "sweep:\n  grid:\n    seed: []\n", []string{"sweep.grid.seed", "empty list"}},
		{"not a list", "sweep:\n  grid:\n    seed: 3\n", []string{"sweep.grid.seed", "want a list"}},
		{"unknown key", "sweep:\n  grid:\n    style_wieght: [1, 2]\n", []string{"sweep.grid.style_wieght", "unknown key \"style_wieght\""}},
		{"wrong type", "sweep:\n  grid:\n    iterations: [10, many]\n", []string{"sweep.grid.iterations", "value 1 (many)", "key iterations: want an integer"}},
		{"invalid value", "sweep:\n  zip:\n    noise_ratio: [0.5, 2]\n    seed: [1, 2]\n", []string{"sweep.zip, row 1", "noise_ratio"}},
		{"unequal zip", "sweep:\n  zip:\n    seed: [1, 2, 3]\n    noise_ratio: [0.1, 0.2]\n", []string{"sweep.zip.noise_ratio", "2 values", "sweep.zip.seed has 3"}},
		{"too many", "sweep:\n  max_points: 5\n  grid:\n    seed: [1, 2, 3]\n    iterations: [1, 2]\n", []string{"sweep.max_points", "6 points", "max_points 5"}},
		{"default cap", "sweep:\n  grid:\n    seed: [" + strings.Repeat("1, ", 40) + "1]\n    iterations: [" + strings.Repeat("1, ", 30) + "1]\n", []string{"sweep.max_points", "1271 points", "max_points 1000"}},
		{"bad max_points", "sweep:\n  max_points: lots\n  grid:\n    seed: [1]\n", []string{"sweep.max_points", "whole number"}},
		{"unknown sweep key", "sweep:\n  grids:\n    seed: [1]\n", []string{"sweep.grids", "unknown key"}},
		{"varied twice", "sweep:\n  grid:\n    seed: [1]\n  zip:\n    seed: [2]\n", []string{"sweep.zip.seed", "already varied"}},
		{"varied output", "sweep:\n  grid:\n    output: [a, b]\n", []string{"sweep.grid.output", "cannot be varied"}},
		{"bad slurm", "sweep:\n  grid:\n    seed: [1]\nslurm:\n  partitoin: gpu\n", []string{"key slurm", "partitoin"}},
		{"bad k8s", "sweep:\n  grid:\n    seed: [1]\nk8s:\n  parallelism: many\n", []string{"key k8s", "many"}},
		{"bad name", "sweep:\n  name: a/b\n  grid:\n    seed: [1]\n", []string{"sweep.name", "plain name"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := load(t, base+c.sweep)
			if err == nil {
				t.Fatalf("no error")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
		})
	}
}

func TestSelect(t *testing.T) {
	p := mustLoad(t, base+"sweep:\n  grid:\n    seed: [1, 2, 3]\n")
	if pt, err := Select(p.Points, 2); err != nil || pt.Index != 2 {
		t.Fatalf("Select 2: %v %v", pt, err)
	}
	for _, i := range []int{-1, 3, 100} {
		_, err := Select(p.Points, i)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("-index %d: out of range", i)) || !strings.Contains(err.Error(), "3 points (0..2)") {
			t.Errorf("Select %d: %v", i, err)
		}
	}
}

func TestIDsAreStableAndMeanTheConfig(t *testing.T) {
	a := mustLoad(t, base+"sweep:\n  grid:\n    seed: [1, 2]\n")
	// The same experiments written with other map orders, another output
	// folder and the default name: same ids.
	b := mustLoad(t, strings.Replace(strings.Replace(base, "{conv1_1: 1, conv2_1: 1}", "{conv2_1: 1, conv1_1: 1.0}", 1), "results/sw", "other", 1)+
		"name: x\nsweep:\n  grid:\n    seed: [1, 2]\n")
	for i := range a.Points {
		if a.Points[i].ID != b.Points[i].ID {
			t.Errorf("point %d: ids %s and %s differ for the same experiment", i, a.Points[i].ID, b.Points[i].ID)
		}
		if len(a.Points[i].ID) != 12 {
			t.Errorf("id %q: want 12 hex digits", a.Points[i].ID)
		}
	}
	if a.Points[0].ID == a.Points[1].ID {
		t.Errorf("seeds 1 and 2 share id %s", a.Points[0].ID)
	}
	// A -set that changes the experiment changes the id.
	c := mustLoad(t, base+"sweep:\n  grid:\n    seed: [1, 2]\n", "iterations=6")
	if c.Points[0].ID == a.Points[0].ID {
		t.Errorf("iterations=6 kept id %s", a.Points[0].ID)
	}
	// Repeated loads in one process (map iteration order varies) agree.
	for range 20 {
		if d := mustLoad(t, base+"sweep:\n  grid:\n    seed: [1, 2]\n"); d.Points[1].ID != a.Points[1].ID {
			t.Fatalf("id changed between loads: %s, %s", d.Points[1].ID, a.Points[1].ID)
		}
	}
}

// A point's id is the id its run folder records: config.Config.ID.
func TestPointIDIsTheConfigID(t *testing.T) {
	src := config.Source{Name: "s.yaml", Data: []byte("content: c.jpg\nstyle: s.jpg\nsweep:\n  grid:\n    style_weight: [1, 2]\n")}
	plan, err := Load(src, nil, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range plan.Points {
		id, err := plan.Configs[i].ID()
		if err != nil || p.ID != id {
			t.Errorf("point %d: id %s, config id %s (%v)", i, p.ID, id, err)
		}
	}
	if plan.Points[0].ID == plan.Points[1].ID {
		t.Error("two points, one id")
	}
}

func TestDirNames(t *testing.T) {
	vars := []Var{{"content", "testdata/images/shipwreck.jpg"}, {"style_layers", "{conv1_1: 0.5, conv2_1: 1}"}, {"pooling", "max"}}
	if got, want := dirName(3, 3, vars), "003-content=shipwreck-style_layers=conv1_1=0.5,conv2_1=1-pooling=max"; got != want {
		t.Errorf("dirName = %q, want %q", got, want)
	}
	if got := dirName(12, 4, []Var{{"name with/slash", `"a b"`}}); got != "0012-namewith_slash=ab" {
		t.Errorf("sanitised %q", got)
	}
	long1 := []Var{{"style", "[" + strings.Repeat("testdata/images/starry_night.jpg, ", 5) + "a.jpg]"}}
	long2 := []Var{{"style", "[" + strings.Repeat("testdata/images/starry_night.jpg, ", 5) + "b.jpg]"}}
	d1, d2 := dirName(1, 3, long1), dirName(1, 3, long2)
	if len(d1) > maxDir || len(d2) > maxDir || d1 == d2 || !strings.HasPrefix(d1, "001-style=") {
		t.Errorf("long names %q (%d) and %q (%d): want distinct, at most %d bytes", d1, len(d1), d2, len(d2), maxDir)
	}
	for _, d := range []string{d1, d2} {
		if strings.ContainsAny(d, "/\\ []{}\"'") {
			t.Errorf("%q holds a character that is not portable", d)
		}
	}
	// Every point of a sweep gets its own folder even when values differ
	// only in characters that sanitising drops.
	p := mustLoad(t, base+"sweep:\n  grid:\n    style: [\"a b.jpg\", \"ab.jpg\"]\n")
	if p.Points[0].Dir == p.Points[1].Dir {
		t.Errorf("two points share folder %q", p.Points[0].Dir)
	}
}

// A shipped sweep config parses and resolves (run from the repository root).
func TestShippedSweepConfigs(t *testing.T) {
	root := filepath.Join("..", "..")
	files, _ := filepath.Glob(filepath.Join(root, "configs", "experiments", "*.yaml"))
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "\nsweep:") {
			continue
		}
		n++
		p, err := Load(config.Source{Name: f, Data: data}, nil, "")
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for _, c := range p.Configs {
			for _, pic := range append([]string{c.Content}, c.Style...) {
				if _, err := os.Stat(filepath.Join(root, pic)); err != nil {
					t.Errorf("%s: picture %s: %v", f, pic, err)
				}
			}
		}
	}
	if n < 3 {
		t.Errorf("found %d sweep configs under configs/experiments, want at least 3", n)
	}
}
