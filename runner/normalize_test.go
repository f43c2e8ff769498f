package runner

import (
	"bytes"
	"encoding/json"
	"math"
	"os/exec"
	"testing"

	"github.com/styletransfer/gostyle/graphs"
	"github.com/styletransfer/gostyle/graphs/graphstest"
	"github.com/styletransfer/gostyle/runner/plan"
)

// Each normalisation's losses, as the graph reports them through our
// coefficients (two blended style pictures, a content blend, a style layer
// exponent), equal an independent NumPy implementation of the formula
// (testdata/normalization_reference.py) from the raw activations.
func TestNormalizationsMatchNumPy(t *testing.T) {
	m := loadTiny(t)
	styles := "[" + graphstest.Picture(t, "starry_night.jpg") + ", " + graphstest.Picture(t, "woman-with-hat-matisse.jpg") + "]"
	for _, norm := range []string{"notebook", "paper", "neural-style", "jcjohnson", "keras"} {
		t.Run(norm, func(t *testing.T) {
			tv := "0.01"
			cfg := tinyConfig(t, t.TempDir(), "width=40", "height=32", "normalization="+norm, "style="+styles,
				"style_blend_weights=[1, 3]", "content_layers={conv4_2: 2}", "content_weight_blend=0.7",
				"style_layers={conv1_1: 1, conv2_1: 0.5, conv3_1: 2}", "style_layer_weight_exp=1.5",
				"content_weight=3", "style_weight=50", "tv_weight="+tv)
			ex, err := plan.Prepare(cfg, m)
			if err != nil {
				t.Fatal(err)
			}
			content, stylePics := ex.Pictures(ex.Scales()[0])
			w, h := content.Width, content.Height
			tg, err := ex.Targets(content, stylePics)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.SetTargets(tg.Targets); err != nil {
				t.Fatal(err)
			}
			x := ex.StartImage(content)
			var l graphs.Losses
			if err := m.NewEvaluator(w, h).Evaluate(x, make([]float32, len(x)), &l); err != nil {
				t.Fatal(err)
			}
			tg.Adjust(&l)

			act := func(img []float32, layer string) any {
				r, err := m.Features(img, w, h, graphs.ActivationKey(layer))
				if err != nil {
					t.Fatal(err)
				}
				return r[graphs.ActivationKey(layer)].Value().([][][][]float32)[0]
			}
			acts := map[string]map[string]any{}
			for _, layer := range []string{"conv4_2", "conv5_2", "conv1_1", "conv2_1", "conv3_1"} {
				var ss []any
				for _, s := range stylePics {
					ss = append(ss, act(s.Data, layer))
				}
				acts[layer] = map[string]any{"x": act(x, layer), "p": act(content.Data, layer), "s": ss}
			}
			img := make([][][3]float32, h)
			for i := range img {
				img[i] = make([][3]float32, w)
				for j := range img[i] {
					copy(img[i][j][:], x[(i*w+j)*3:])
				}
			}
			tvw := 0.01
			in, err := json.Marshal(map[string]any{
				"normalization": norm, "layers": m.Meta.Layers, "x": img, "act": acts,
				"content_layers": map[string]float64{"conv4_2": 2}, "content_weight_blend": 0.7,
				"content_blend_layers":   []string{"conv4_2", "conv5_2"},
				"style_layers":           map[string]float64{"conv1_1": 1, "conv2_1": 0.5, "conv3_1": 2},
				"style_layer_weight_exp": 1.5, "blend": []float64{1, 3},
				"content_weight": 3, "style_weight": 50, "tv_weight": tvw,
			})
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(graphstest.Python(t), "testdata/normalization_reference.py")
			cmd.Stdin = bytes.NewReader(in)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			outJSON, err := cmd.Output()
			if err != nil {
				t.Fatalf("reference: %v\n%s", err, stderr.String())
			}
			var want map[string]float64
			if err := json.Unmarshal(outJSON, &want); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name string
				got  float32
			}{{"content", l.Content}, {"style", l.Style}, {"tv", l.TV}, {"total", l.Total}} {
				wv := want[c.name]
				if math.Abs(float64(c.got)-wv) > 1e-5*math.Abs(wv) {
					t.Errorf("%s loss %g, NumPy %g (relative %.2g)", c.name, c.got, wv, math.Abs(float64(c.got)-wv)/math.Abs(wv))
				}
			}
			t.Logf("%s: content %g style %g tv %g", norm, l.Content, l.Style, l.TV)
		})
	}
}
