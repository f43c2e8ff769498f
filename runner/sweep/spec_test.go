package sweep

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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

// all is every point of p.
func all(t *testing.T, p Plan) []Point {
	t.Helper()
	points, err := p.All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return points
}

func mustLoad(t *testing.T, text string, sets ...string) Plan {
	t.Helper()
	p, err := load(t, text, sets...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func overridesOf(points []Point) []string {
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
	if len(all(t, p)) != 12 {
		t.Fatalf("got %d points, want 2*2*3 = 12", len(all(t, p)))
	}
	want := []string{
		"style_weight=50 pooling=avg iterations=1", "style_weight=50 pooling=avg iterations=2", "style_weight=50 pooling=avg iterations=3",
		"style_weight=50 pooling=max iterations=1", "style_weight=50 pooling=max iterations=2", "style_weight=50 pooling=max iterations=3",
		"style_weight=500 pooling=avg iterations=1", "style_weight=500 pooling=avg iterations=2", "style_weight=500 pooling=avg iterations=3",
		"style_weight=500 pooling=max iterations=1", "style_weight=500 pooling=max iterations=2", "style_weight=500 pooling=max iterations=3",
	}
	if got := overridesOf(all(t, p)); !slices.Equal(got, want) {
		t.Fatalf("points:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i, pt := range all(t, p) {
		if pt.Index != i || all(t, p)[i].Config.Name != pt.Dir {
			t.Errorf("point %d: index %d, config name %q, dir %q", i, pt.Index, all(t, p)[i].Config.Name, pt.Dir)
		}
	}
	if c := all(t, p)[10].Config; c.StyleWeight != 500 || c.Pooling != "max" || c.Iterations != 2 {
		t.Errorf("point 10 config: style_weight %v pooling %q iterations %d", c.StyleWeight, c.Pooling, c.Iterations)
	}
	if p.Output != "results/sw" || p.Spec.Name != "s" {
		t.Errorf("output %q, name %q", p.Output, p.Spec.Name)
	}
	if all(t, p)[5].Dir != "005-style_weight=50-pooling=max-iterations=3" {
		t.Errorf("dir %q", all(t, p)[5].Dir)
	}
}

func TestZipAndGridTimesZip(t *testing.T) {
	p := mustLoad(t, base+`
sweep:
  zip:
    model: [m/avg, m/max]
    pooling: [avg, max]
`)
	if got, want := overridesOf(all(t, p)), []string{"model=m/avg pooling=avg", "model=m/max pooling=max"}; !slices.Equal(got, want) {
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
	if got := overridesOf(all(t, p)); !slices.Equal(got, want) {
		t.Fatalf("grid x zip points %q, want %q", got, want)
	}
	if c := all(t, p)[3].Config; c.Model != "m/max" || c.Pooling != "max" || c.StyleWeight != 50 {
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
	if got := overridesOf(all(t, p)); !slices.Equal(got, want) {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	c0, c1 := all(t, p)[0].Config, all(t, p)[1].Config
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
	text := base + "sweep:\n  grid:\n    seed: [1, 2]\n    style_weight: [5, 50]\n"
	p, err := Load(config.Source{Name: "s.yaml", Data: []byte(text)}, []string{"iterations=7"}, "elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	for i, pt := range all(t, p) {
		if c := pt.Config; c.Iterations != 7 || c.Seed != int64(i/2+1) || c.Output != "elsewhere" || c.Name != pt.Dir {
			t.Errorf("point %d: iterations %d seed %d output %q name %q", i, c.Iterations, c.Seed, c.Output, c.Name)
		}
	}
	if p.Output != "elsewhere" {
		t.Errorf("sweep output %q", p.Output)
	}
}

// Issue 24 point 3: a -set of a swept key replaces that axis (Hydra's rule):
// the key takes the value in every point and no longer varies.
func TestSetOfASweptKeyReplacesItsAxis(t *testing.T) {
	text := base + "sweep:\n  grid:\n    seed: [1, 2]\n  zip:\n    model: [m/avg, m/max]\n    pooling: [avg, max]\n"
	p := mustLoad(t, text, "seed=9", "model=m/other")
	if got, want := overridesOf(all(t, p)), []string{"pooling=avg", "pooling=max"}; !slices.Equal(got, want) {
		t.Fatalf("points %q, want %q", got, want)
	}
	for _, pt := range all(t, p) {
		if pt.Config.Seed != 9 || pt.Config.Model != "m/other" {
			t.Errorf("point %d: seed %d model %q, want the -set values", pt.Index, pt.Config.Seed, pt.Config.Model)
		}
	}
	// The sweep block itself can be set: a new zip list for model.
	p = mustLoad(t, text, "sweep.zip.model=[a/x, a/y]")
	if got := all(t, p); len(got) != 4 || got[1].Config.Model != "a/y" || got[3].Config.Pooling != "max" {
		t.Fatalf("sweep.zip.model set: %q", overridesOf(got))
	}
	p = mustLoad(t, base+"sweep:\n  grid:\n    seed: [1, 2]\n", "sweep.grid.style_weight=[5, 50, 500]")
	if p.Len() != 6 {
		t.Fatalf("sweep.grid.style_weight added: %d points, want 6", p.Len())
	}
	// max_points counts the points that run: a -set that removes a long
	// axis brings a sweep under it.
	big := base + "sweep:\n  max_points: 4\n  grid:\n    seed: [1, 2, 3, 4, 5]\n    style_weight: [5, 50]\n"
	if _, err := load(t, big); err == nil {
		t.Fatal("10 points over max_points 4: no error")
	}
	if p := mustLoad(t, big, "seed=3"); p.Len() != 2 {
		t.Fatalf("seed set: %d points, want 2", p.Len())
	}
	// Refusals name the key as typed, in one line.
	for _, c := range []struct {
		sets []string
		want string
	}{
		{[]string{"sweep.zip.model=[a, b, c]"}, "-set sweep.zip.model: key sweep.zip.model: has 3 values but"},
		{[]string{"sweep.zip.model=m/x"}, "-set sweep.zip.model: key sweep.zip.model: want a list of values"},
		{[]string{"sweep.zip.pooling=[avg, round]"}, "-set sweep.zip.pooling: key sweep.zip, row 1 (model=m/max pooling=round)"},
		{[]string{"sweep.grid.iterations=[1, many]"}, "-set sweep.grid.iterations: key sweep.grid.iterations, value 1 (many)"},
		{[]string{"sweep.zips.model=[a]"}, "-set sweep.zips.model: not a sweep key"},
		{[]string{"sweep=1"}, "-set sweep: not a sweep key"},
		{[]string{"style_layers.conv1_1=2"}, "-set style_layers.conv1_1: style_layers is swept (sweep.grid.style_layers)"},
	} {
		src := text
		if strings.HasPrefix(c.sets[0], "style_layers") {
			src = base + "sweep:\n  grid:\n    style_layers: [{conv1_1: 1}, {conv2_1: 1}]\n"
		}
		_, err := load(t, src, c.sets...)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("-set %q: error %v, want one line with %q", c.sets, err, c.want)
		}
	}
}

// Issue 26 point 6: an error in the base config is reported as the base
// key, not under the grid's first key.
func TestBaseConfigErrorNamesTheBaseKey(t *testing.T) {
	_, err := load(t, base+"learning_rate: 0\nsweep:\n  grid:\n    seed: [1, 2]\n")
	if err == nil || !strings.HasPrefix(err.Error(), "config s.yaml: key learning_rate") || strings.Contains(err.Error(), "sweep.grid") {
		t.Fatalf("error %v: want the base key learning_rate, not a sweep key", err)
	}
	_, err = load(t, base+"sweep:\n  grid:\n    seed: [1, 2]\n", "learning_rate=0")
	if err == nil || !strings.HasPrefix(err.Error(), "-set learning_rate: key learning_rate") {
		t.Fatalf("error %v: want the -set key learning_rate", err)
	}
}

// Issue 26 point 4: a point is computed from its index (mixed radix), so a
// million-point grid answers any index at once and streams its points.
func TestMillionPointGridIndexAndStream(t *testing.T) {
	axis := "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"
	text := base + "sweep:\n  max_points: 1000000\n  grid:\n    seed: " + axis + "\n    iterations: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n" +
		"    style_weight: " + axis + "\n    content_weight: " + axis + "\n    tv_weight: " + axis + "\n    noise_ratio: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]\n"
	start := time.Now()
	p := mustLoad(t, text)
	pt, err := p.Point(999999)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("load and -index 999999 took %v", took)
	}
	want := "seed=9 iterations=10 style_weight=9 content_weight=9 tv_weight=9 noise_ratio=0.9"
	if got := strings.Join(pt.Overrides(), " "); got != want || pt.Config.Iterations != 10 || pt.Config.NoiseRatio != 0.9 {
		t.Errorf("point 999999: %s (iterations %d), want %s", got, pt.Config.Iterations, want)
	}
	// Mixed radix: 123456 is seed 1, iterations 3, style weight 3, ...
	if pt, err := p.Point(123456); err != nil || strings.Join(pt.Overrides(), " ") != "seed=1 iterations=3 style_weight=3 content_weight=4 tv_weight=5 noise_ratio=0.6" {
		t.Errorf("point 123456: %v %v", pt.Overrides(), err)
	}
	if _, err := p.Point(1000000); err == nil || !strings.Contains(err.Error(), "-index 1000000: out of range: the sweep has 1000000 points (0..999999)") {
		t.Errorf("index past the end: %v", err)
	}
	// Each streams: the first points come without computing the rest, and a
	// cancelled context stops it.
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	start = time.Now()
	err = p.Each(ctx, func(pt Point) error {
		if pt.Index != n {
			t.Fatalf("point %d came as number %d", pt.Index, n)
		}
		if n++; n == 100 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n != 100 {
		t.Errorf("Each stopped after %d points with %v, want 100 and context.Canceled", n, err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the first 100 points took %v", took)
	}
}

func TestAxisLengthIsBounded(t *testing.T) {
	_, err := load(t, base+"sweep:\n  max_points: 100000\n  grid:\n    seed: ["+strings.Repeat("1, ", MaxValues)+"1]\n")
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("key sweep.grid.seed: a list of %d values, more than the bound %d", MaxValues+1, MaxValues)) {
		t.Fatalf("error %v", err)
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

func TestPointIndex(t *testing.T) {
	p := mustLoad(t, base+"sweep:\n  grid:\n    seed: [1, 2, 3]\n")
	if pt, err := p.Point(2); err != nil || pt.Index != 2 || pt.Config.Seed != 3 {
		t.Fatalf("Point 2: %v %v", pt, err)
	}
	for _, i := range []int{-1, 3, 100} {
		_, err := p.Point(i)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("-index %d: out of range", i)) || !strings.Contains(err.Error(), "3 points (0..2)") {
			t.Errorf("Point %d: %v", i, err)
		}
	}
}

func TestIDsAreStableAndMeanTheConfig(t *testing.T) {
	a := mustLoad(t, base+"sweep:\n  grid:\n    seed: [1, 2]\n")
	// The same experiments written with other map orders, another output
	// folder and the default name: same ids.
	b := mustLoad(t, strings.Replace(strings.Replace(base, "{conv1_1: 1, conv2_1: 1}", "{conv2_1: 1, conv1_1: 1.0}", 1), "results/sw", "other", 1)+
		"name: x\nsweep:\n  grid:\n    seed: [1, 2]\n")
	for i := range all(t, a) {
		if all(t, a)[i].ID != all(t, b)[i].ID {
			t.Errorf("point %d: ids %s and %s differ for the same experiment", i, all(t, a)[i].ID, all(t, b)[i].ID)
		}
		if len(all(t, a)[i].ID) != 12 {
			t.Errorf("id %q: want 12 hex digits", all(t, a)[i].ID)
		}
	}
	if all(t, a)[0].ID == all(t, a)[1].ID {
		t.Errorf("seeds 1 and 2 share id %s", all(t, a)[0].ID)
	}
	// A -set that changes the experiment changes the id.
	c := mustLoad(t, base+"sweep:\n  grid:\n    seed: [1, 2]\n", "iterations=6")
	if all(t, c)[0].ID == all(t, a)[0].ID {
		t.Errorf("iterations=6 kept id %s", all(t, a)[0].ID)
	}
	// Repeated loads in one process (map iteration order varies) agree.
	for range 20 {
		if d := mustLoad(t, base+"sweep:\n  grid:\n    seed: [1, 2]\n"); all(t, d)[1].ID != all(t, a)[1].ID {
			t.Fatalf("id changed between loads: %s, %s", all(t, d)[1].ID, all(t, a)[1].ID)
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
	for i, p := range all(t, plan) {
		id, err := all(t, plan)[i].Config.ID()
		if err != nil || p.ID != id {
			t.Errorf("point %d: id %s, config id %s (%v)", i, p.ID, id, err)
		}
	}
	if all(t, plan)[0].ID == all(t, plan)[1].ID {
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
	if all(t, p)[0].Dir == all(t, p)[1].Dir {
		t.Errorf("two points share folder %q", all(t, p)[0].Dir)
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
		for _, pt := range all(t, p) {
			c := pt.Config
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

// The sweep block comes from the one parse every config goes through
// (config.Split): a block written twice is refused as Load refuses any key
// written twice, not read as the last one.
func TestSweepBlockTwiceIsRefused(t *testing.T) {
	_, err := load(t, base+"sweep:\n  grid:\n    seed: [1]\nsweep:\n  grid:\n    seed: [1, 2]\n")
	if err == nil || !strings.HasPrefix(err.Error(), "config s.yaml: not valid YAML: ") || !strings.Contains(err.Error(), `mapping key "sweep" already defined`) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("error %v: want one line naming the file and the key twice", err)
	}
}

// Only runner/config reads YAML text: no file of the sweep packages
// decodes YAML itself (k8s writes manifests with an encoder).
func TestOnlyConfigReadsYAML(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob(filepath.Join("*", "*.go"))
	n := 0
	for _, f := range append(files, more...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n++
		for _, call := range []string{"yaml.Unmarshal(", "yaml.NewDecoder(", "yaml.Node"} {
			if strings.Contains(string(data), call) {
				t.Errorf("%s reads YAML itself (%s): go through config.Split or config.ParseValue", f, call)
			}
		}
	}
	if n < 5 {
		t.Fatalf("looked at %d files", n)
	}
}
