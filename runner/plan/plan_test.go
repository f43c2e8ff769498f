package plan

import (
	"slices"
	"strings"
	"testing"

	"github.com/styletransfer/gostyle/graphs"
	"github.com/styletransfer/gostyle/graphs/graphstest"
	"github.com/styletransfer/gostyle/runner/config"
)

func tinyConfig(t *testing.T, out string, sets ...string) config.Config {
	t.Helper()
	yaml := "model: " + graphstest.TinyModel(t) + "\ncontent: " + graphstest.Picture(t, "shipwreck.jpg") +
		"\nstyle: " + graphstest.Picture(t, "starry_night.jpg") + "\noutput: " + out + "\n"
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

// init: content starts from the content picture itself, a FILE from that
// picture fitted to the output, style from the first style picture.
func TestInitChoices(t *testing.T) {
	m := loadTiny(t)
	for _, init := range []string{"content", "style", graphstest.Picture(t, "woman-with-hat-matisse.jpg")} {
		cfg := tinyConfig(t, t.TempDir(), "width=16", "height=12", "init="+init)
		ex, err := Prepare(cfg, m)
		if err != nil {
			t.Fatal(err)
		}
		content, styles := ex.Pictures(ex.scales[0])
		want := content.Data
		switch init {
		case "content":
		case "style":
			want = styles[0].Data
		default:
			want = ex.fit(ex.init, 16, 12).Data
			if slices.Equal(want, content.Data) || slices.Equal(want, styles[0].Data) {
				t.Fatal("the init picture is not a third picture")
			}
		}
		if got := ex.StartImage(content); !slices.Equal(got, want) {
			t.Errorf("init %s: start differs", init)
		}
	}
	_, err := Prepare(tinyConfig(t, t.TempDir(), "init=/no/start.png"), m)
	if err == nil || !strings.Contains(err.Error(), "key init") || !strings.Contains(err.Error(), "/no/start.png") {
		t.Errorf("missing init file: %v", err)
	}
}

func TestStartImageIsSeededNoiseBlend(t *testing.T) {
	cfg := tinyConfig(t, t.TempDir(), "width=16", "height=12", "noise_ratio=0.7")
	ex, err := Prepare(cfg, loadTiny(t))
	if err != nil {
		t.Fatal(err)
	}
	content, _ := ex.Pictures(ex.scales[0])
	a, b := ex.StartImage(content), ex.StartImage(content)
	for i := range a {
		noise := (a[i] - 0.3*content.Data[i]) / 0.7
		if a[i] != b[i] || noise < -20.001 || noise > 20.001 {
			t.Fatalf("pixel %d: %g %g (noise %g)", i, a[i], b[i], noise)
		}
	}
	ex.cfg.Seed = 1
	if c := ex.StartImage(content); c[0] == a[0] && c[1] == a[1] {
		t.Error("seed does not change the noise")
	}
}

func TestTileAutoPicksTheLargestTileThatFits(t *testing.T) {
	m := loadTiny(t)
	cfg := tinyConfig(t, t.TempDir(), "max_size=4000", "tile=auto", "max_memory=2.05")
	ex, err := Prepare(cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	sz := ex.scales[0]
	tl := ex.tilings[sz]
	if tl.side == 0 || tl.side%16 != 0 || tl.need > 2.05e9 {
		t.Fatalf("tiling %+v", tl)
	}
	// The next tile up would not fit: bytes per pixel of the layers to conv5_1
	// (channels / stride^2, 4 bytes, tileCopies), the held vectors.
	var floats float64
	for i, c := range m.Meta.Channels[:13] {
		s := float64(m.Meta.Stride(i))
		floats += float64(c) / (s * s)
	}
	side := tl.side + 16
	in := float64(min(side+2*80, sz.Width) * min(side+2*80, sz.Height))
	if need := tiledBaseBytes + tileCopies*4*floats*in + ex.heldBytes(sz.Width, sz.Height); need <= 2.05e9 {
		t.Errorf("tile %d: %d would fit too (%g bytes)", tl.side, side, need)
	}
	// A picture that fits untiled runs untiled.
	cfg = tinyConfig(t, t.TempDir(), "width=64", "height=48", "tile=auto")
	if ex, err = Prepare(cfg, m); err != nil || ex.tilings[ex.scales[0]].side != 0 {
		t.Errorf("64x48 auto: %+v, %v", ex.tilings, err)
	}
}
