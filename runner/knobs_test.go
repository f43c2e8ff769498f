package runner

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func writePNG(t *testing.T, path string, w, h int) {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(5 * x), uint8(7 * y), uint8(3 * (x + y)), 255})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

func pngSize(t *testing.T, path string) (int, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	return c.Width, c.Height
}

// Portrait, square and landscape contents all run; max_size is the long side
// and the content's aspect is kept.
func TestAnyOrientationWithMaxSize(t *testing.T) {
	m := loadTiny(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name         string
		w, h         int
		wantW, wantH int
	}{{"portrait", 30, 50, 19, 32}, {"square", 40, 40, 32, 32}, {"landscape", 64, 32, 32, 16}} {
		content := filepath.Join(dir, tc.name+".png")
		writePNG(t, content, tc.w, tc.h)
		res, err := Run(context.Background(), tinyConfig(t, t.TempDir(), "content="+content, "max_size=32", "iterations=2", "log_every=0"), m, io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if w, h := pngSize(t, res.Final); w != tc.wantW || h != tc.wantH {
			t.Errorf("%s %dx%d: final is %dx%d, want %dx%d", tc.name, tc.w, tc.h, w, h, tc.wantW, tc.wantH)
		}
	}
}

// Coarse to fine: each scale runs its iterations on the one model, starting
// from the previous result upsampled; every scale's result is kept.
func TestScales(t *testing.T) {
	res, err := Run(context.Background(), tinyConfig(t, t.TempDir(), "scales=[16, 32]", "iterations=2", "checkpoint_every=1", "log_every=0"), loadTiny(t), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Iterations != 4 || res.Evaluations != 6 {
		t.Errorf("iterations %d, evaluations %d; want 4 and 6", res.Iterations, res.Evaluations)
	}
	for name, want := range map[string][2]int{"scale_16x11.png": {16, 11}, "scale_32x22.png": {32, 22}, "final.png": {32, 22},
		"styled_0001.png": {16, 11}, "styled_0004.png": {32, 22}, "initial.png": {16, 11}, "content.png": {32, 22}} {
		if w, h := pngSize(t, filepath.Join(res.Dir, name)); w != want[0] || h != want[1] {
			t.Errorf("%s is %dx%d, want %dx%d", name, w, h, want[0], want[1])
		}
	}
	rows := readCSV(t, filepath.Join(res.Dir, "metrics.csv"))
	var its []string
	for _, r := range rows[1:] {
		its = append(its, r[0])
	}
	if !slices.Equal(its, []string{"0", "1", "2", "2", "3", "4"}) {
		t.Errorf("iterations column %v", its)
	}
}

// style_scale resizes the style pictures relative to the output.
func TestStyleScale(t *testing.T) {
	res, err := Run(context.Background(), tinyConfig(t, t.TempDir(), "width=32", "height=24", "style_scale=0.5", "iterations=1", "log_every=0"), loadTiny(t), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if w, h := pngSize(t, filepath.Join(res.Dir, "style.png")); w != 16 || h != 12 {
		t.Errorf("style.png is %dx%d, want 16x12", w, h)
	}
}
