package runner

import (
	"context"
	"encoding/csv"
	"fmt"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/styletransfer/gostyle/graphs"
	"github.com/styletransfer/gostyle/graphs/graphstest"
	"github.com/styletransfer/gostyle/runner/config"
	"github.com/styletransfer/gostyle/runner/plan"
)

func tinyConfig(t *testing.T, out string, sets ...string) config.Config {
	t.Helper()
	yaml := fmt.Sprintf("model: %s\ncontent: %s\nstyle: %s\noutput: %s\n",
		graphstest.TinyModel(t), graphstest.Picture(t, "shipwreck.jpg"), graphstest.Picture(t, "starry_night.jpg"), out)
	cfg, err := config.Load(config.Source{Name: "test", Data: []byte(yaml)}, sets)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func loadTiny(t *testing.T) *graphs.Model {
	t.Helper()
	m, err := graphs.Load(graphstest.TinyModel(t))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

// The end-to-end check: 20 iterations on vgg19-tiny, loss at the end
// below half its start, checkpoints that decode as PNG of the requested size.
func TestEndToEndTinyModel(t *testing.T) {
	out := t.TempDir()
	cfg := tinyConfig(t, out, "width=64", "height=48", "iterations=20", "checkpoint_every=5", "learning_rate=2")
	res, err := Run(context.Background(), cfg, loadTiny(t), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Iterations != 20 || res.Interrupted {
		t.Fatalf("result %+v", res)
	}
	if !(res.Last.Total < res.Initial.Total/2) {
		t.Errorf("total loss %g -> %g: not below half", res.Initial.Total, res.Last.Total)
	}
	dir := filepath.Join(out, "shipwreck_starry_night")
	if res.Dir != dir {
		t.Errorf("run folder %s, want %s", res.Dir, dir)
	}
	for _, name := range []string{"styled_0005.png", "styled_0010.png", "styled_0015.png", "styled_0020.png",
		"final.png", "initial.png", "content.png", "style.png"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() != 64 || b.Dy() != 48 {
			t.Errorf("%s is %dx%d, want 64x48", name, b.Dx(), b.Dy())
		}
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 1 {
		t.Errorf("output root holds %v, want only the run folder", entries)
	}

	// metrics.csv: header + iterations 0..20, losses matching the result.
	rows := readCSV(t, filepath.Join(dir, "metrics.csv"))
	if strings.Join(rows[0], ",") != "iteration,total,content,style,tv,seconds,evaluations,tf_seconds" || len(rows) != 22 {
		t.Fatalf("metrics: header %v, %d rows", rows[0], len(rows))
	}
	last, _ := strconv.ParseFloat(rows[21][1], 64)
	if rows[21][0] != "20" || math.Abs(last-float64(res.Last.Total)) > 1e-6*last {
		t.Errorf("last metrics row %v, result total %g", rows[21], res.Last.Total)
	}

	// layers.csv: the weighted per-layer terms add up to content + style.
	lrows := readCSV(t, filepath.Join(dir, "layers.csv"))
	wantHeader := "iteration,style_conv1_1,style_conv2_1,style_conv3_1,style_conv4_1,content_conv4_2,style_conv5_1"
	if strings.Join(lrows[0], ",") != wantHeader || len(lrows) != 22 {
		t.Fatalf("layers.csv: header %v, %d rows", lrows[0], len(lrows))
	}
	for r := 1; r < len(lrows); r++ {
		sum := 0.0
		for _, v := range lrows[r][1:] {
			f, _ := strconv.ParseFloat(v, 64)
			sum += f
		}
		c, _ := strconv.ParseFloat(rows[r][2], 64)
		s, _ := strconv.ParseFloat(rows[r][3], 64)
		if math.Abs(sum-(c+s)) > 1e-5*(c+s) {
			t.Errorf("iteration %d: layer terms sum to %g, content+style %g", r-1, sum, c+s)
		}
	}

	// The resolved config reruns as it is.
	data, err := os.ReadFile(filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	back, err := config.Load(config.Source{Name: "config.yaml", Data: data}, nil)
	if err != nil {
		t.Fatalf("resolved config: %v", err)
	}
	if back.Iterations != 20 || back.Width != 64 || back.Height != 48 || back.Model != cfg.Model {
		t.Errorf("resolved config %+v", back)
	}
	if _, err := os.Stat(filepath.Join(dir, "model.json")); err != nil {
		t.Error(err)
	}
}

// The notebook's loss, computed here from raw activations with the seed's
// formulas, equals what the run's first evaluation reports.
func TestNotebookLossMatchesSeedFormulas(t *testing.T) {
	m := loadTiny(t)
	cfg := tinyConfig(t, t.TempDir(), "width=40", "height=32", "style_layers={conv1_1: 1, conv3_1: 0.5}",
		"content_layers={conv2_2: 2}", "style_weight=50", "content_weight=3")
	ex, err := plan.Prepare(cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	content, styles := ex.Pictures(ex.Scales()[0])
	width, height := content.Width, content.Height
	tg, err := ex.Targets(content, styles)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetTargets(tg.Targets); err != nil {
		t.Fatal(err)
	}
	x := ex.StartImage(content)
	e := m.NewEvaluator(width, height)
	var l graphs.Losses
	if err := e.Evaluate(x, make([]float32, len(x)), &l); err != nil {
		t.Fatal(err)
	}

	act := func(img []float32, layer string) [][][]float32 {
		r, err := m.Features(img, width, height, graphs.ActivationKey(layer))
		if err != nil {
			t.Fatal(err)
		}
		return r[graphs.ActivationKey(layer)].Value().([][][][]float32)[0]
	}
	// content: 1/(2 sqrt(N) sqrt(M)) sum (x - p)^2
	xa, pa := act(x, "conv2_2"), act(content.Data, "conv2_2")
	M, N := float64(len(xa)*len(xa[0])), float64(len(xa[0][0]))
	sum := 0.0
	for i := range xa {
		for j := range xa[i] {
			for k := range xa[i][j] {
				d := float64(xa[i][j][k]) - float64(pa[i][j][k])
				sum += d * d
			}
		}
	}
	wantContent := 3 * 2 * sum / (2 * math.Sqrt(N) * math.Sqrt(M))
	// style: sum_l w_l / (4 N^2 M^2) sum (G - A)^2, times the strength
	wantStyle := 0.0
	for layer, w := range map[string]float64{"conv1_1": 1, "conv3_1": 0.5} {
		xa, sa := act(x, layer), act(styles[0].Data, layer)
		G, A := graphstest.Gram(xa), graphstest.Gram(sa)
		M, N := float64(len(xa)*len(xa[0])), float64(len(xa[0][0]))
		s := 0.0
		for i := range G {
			for j := range G[i] {
				s += (G[i][j] - A[i][j]) * (G[i][j] - A[i][j])
			}
		}
		wantStyle += 50 * w * s / (4 * N * N * M * M)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"content", float64(l.Content), wantContent}, {"style", float64(l.Style), wantStyle},
		{"total", float64(l.Total), wantContent + wantStyle}} {
		if math.Abs(c.got-c.want) > 1e-4*math.Abs(c.want) {
			t.Errorf("%s loss %g, seed formula %g", c.name, c.got, c.want)
		}
	}
}

func TestBadInputWritesNothing(t *testing.T) {
	m := loadTiny(t)
	for _, tc := range []struct {
		sets []string
		want string
	}{
		{[]string{"content=/no/such.jpg"}, "/no/such.jpg"},
		{[]string{"style=[" + graphstest.Picture(t, "starry_night.jpg") + ", /no/style.png]"}, "/no/style.png"},
		{[]string{"content=" + graphstest.Path(t, "go.mod")}, "not a JPEG, PNG or GIF"},
		{[]string{"style_layers={conv9_1: 1}"}, `key style_layers: model`},
		{[]string{"pooling=max"}, "key pooling"},
		{[]string{"style_weight=0", "content_layers={conv4_2: 0}"}, "nothing to optimise"},
	} {
		out := filepath.Join(t.TempDir(), "out")
		_, err := Run(context.Background(), tinyConfig(t, out, append(tc.sets, "width=32", "height=24")...), m, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.sets, err, tc.want)
		}
		if _, serr := os.Stat(out); !os.IsNotExist(serr) {
			t.Errorf("%v: output folder was created", tc.sets)
		}
	}
}

// A cancelled context stops the loop at an iteration boundary and still
// leaves a complete run folder with the picture it got to.
func TestInterruptedRunKeepsAFinishedFolder(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := t.TempDir()
	res, err := Run(ctx, tinyConfig(t, out, "width=32", "height=24", "iterations=50"), loadTiny(t), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.Iterations != 0 {
		t.Errorf("result %+v", res)
	}
	if _, err := os.Stat(res.Final); err != nil {
		t.Error(err)
	}
}

// Several style pictures run as one target (their blended Grams) and each
// is saved beside the result.
func TestSeveralStylePictures(t *testing.T) {
	out := t.TempDir()
	cfg := tinyConfig(t, out, "width=32", "height=24", "iterations=3",
		"style=["+graphstest.Picture(t, "starry_night.jpg")+", "+graphstest.Picture(t, "woman-with-hat-matisse.jpg")+"]")
	res, err := Run(context.Background(), cfg, loadTiny(t), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(res.Dir) != "shipwreck_starry_night_woman-with-hat-matisse" {
		t.Errorf("run folder %s", res.Dir)
	}
	for _, name := range []string{"style_1.png", "style_2.png"} {
		if _, err := os.Stat(filepath.Join(res.Dir, name)); err != nil {
			t.Error(err)
		}
	}
}
