package runner

import (
	"context"
	"image"
	"image/png"
	"io"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/styletransfer/gostyle/graphs"
	"github.com/styletransfer/gostyle/graphs/graphstest"
)

func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// samePicture checks two 8-bit pictures differ by at most one level (float32
// rounding on either side of a level) at a few pixels.
func samePicture(t *testing.T, what string, a, b image.Image) {
	t.Helper()
	if a.Bounds() != b.Bounds() {
		t.Fatalf("%s: %v and %v", what, a.Bounds(), b.Bounds())
	}
	// Adam's first steps move each pixel by about learning_rate whatever its
	// gradient's size, so where a gradient is near zero the float32 rounding
	// of the two evaluations (the untiled CPU graph's Winograd convolutions,
	// the tiles' direct ones) can turn a step: a few values end a level or
	// two apart (59 of 77421 values 2 levels apart in one fresh-clone run;
	// with the leaner loss graph, 9 values 2-4 levels apart). Ten steps of
	// learning_rate 2 could part a value by 40 levels; a seam or a wrong
	// tile would part whole rows. More than 8 levels, more than 0.2% of
	// values over one level apart, or more than 1% off at all, is a real
	// difference.
	var worst uint32
	off, far := 0, 0
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			for _, d := range []uint32{absDiff(r1, r2), absDiff(g1, g2), absDiff(b1, b2)} {
				worst = max(worst, d>>8)
				if d>>8 > 0 {
					off++
				}
				if d>>8 > 1 {
					far++
				}
			}
		}
	}
	n := a.Bounds().Dx() * a.Bounds().Dy() * 3
	if worst > 8 || far > n/500 || off > n/100 {
		t.Errorf("%s: tiled and untiled pictures differ by up to %d levels at %d of %d values (%d by more than one)", what, worst, off, n, far)
	}
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// The end-to-end exactness: a run in tiles ends at the untiled run's
// picture and losses, for every normalisation and TV form, both poolings,
// VGG16, a content blend, two blended styles, a large style_scale, odd
// sizes, Adam and L-BFGS.
func TestTiledRunsEndAtTheUntiledPicture(t *testing.T) {
	styles := "style=[" + graphstest.Picture(t, "starry_night.jpg") + "," + graphstest.Picture(t, "woman-with-hat-matisse.jpg") + "]"
	cases := []struct {
		model string
		sets  []string
	}{
		{"vgg19-tiny", []string{"normalization=notebook"}},
		{"vgg19-tiny", []string{"normalization=paper", "optimizer=lbfgs", "iterations=3", "max_evaluations=4", "style_scale=1.5"}},
		{"vgg19-tiny", []string{"normalization=neural-style", "tv_weight=100", "content_weight_blend=0.5", "content_layers={conv4_2: 1}", styles}},
		{"vgg19-tiny-max", []string{"normalization=jcjohnson", "tv_weight=0.01", "pooling=max"}},
		{"vgg16-tiny", []string{"normalization=keras", "tv_weight=1", "pooling=max", "content_layers={conv4_2: 1}",
			"style_layers={conv1_1: 1, conv2_1: 1, conv3_1: 1, conv4_1: 1, conv5_1: 1}"}},
	}
	models := map[string]*graphs.Model{}
	for _, c := range cases {
		t.Run(c.model+" "+c.sets[0], func(t *testing.T) {
			m := models[c.model]
			if m == nil {
				var err error
				if m, err = graphs.Load(graphstest.Path(t, "testdata", c.model)); err != nil {
					t.Fatal(err)
				}
				models[c.model] = m
			}
			var finals []string
			var last []graphs.Losses
			for _, tile := range []string{"0", "96"} {
				out := t.TempDir()
				sets := append([]string{"model=" + graphstest.Path(t, "testdata", c.model), "width=197", "height=131",
					"iterations=10", "learning_rate=2", "tile=" + tile}, c.sets...)
				res, err := Run(context.Background(), tinyConfig(t, out, sets...), m, io.Discard)
				if err != nil {
					t.Fatal(err)
				}
				finals = append(finals, res.Final)
				last = append(last, res.Last)
			}
			if d := math.Abs(float64(last[0].Total - last[1].Total)); d > 1e-4*math.Abs(float64(last[0].Total)) {
				t.Errorf("final loss untiled %g, tiled %g", last[0].Total, last[1].Total)
			}
			samePicture(t, "final.png", readPNG(t, finals[0]), readPNG(t, finals[1]))
		})
	}
}

// Bad tiling input: one line naming the key and what would work, nothing
// written.
func TestBadTilingIsRefusedBeforeAnythingIsWritten(t *testing.T) {
	m := loadTiny(t)
	for _, c := range []struct {
		sets []string
		want string
	}{
		{[]string{"tile=48"}, "key tile: 48 is smaller than its halo of 80 pixels (the receptive field of conv5_1, the deepest layer used); use a tile of at least 80"},
		{[]string{"tile=100"}, "key tile: 100 is not a multiple of 16 (the stride of conv5_1, the deepest layer used): use 96 or 112"},
		{[]string{"tile=auto", "max_memory=0.1"}, "key max_memory: 0.1 GB cannot hold a 4000x"},
		{[]string{"tile=0", "max_memory=1"}, "key tile: 0 (untiled) at 4000x"},
	} {
		out := t.TempDir()
		cfg := tinyConfig(t, out, append([]string{"max_size=4000"}, c.sets...)...)
		_, err := Run(context.Background(), cfg, m, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: got %v, want %q", c.sets, err, c.want)
		}
		if entries, _ := os.ReadDir(out); len(entries) != 0 {
			t.Errorf("%v: wrote %d entries", c.sets, len(entries))
		}
	}
}
