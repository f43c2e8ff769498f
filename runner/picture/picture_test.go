package picture

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// solid returns a w x h picture where the left half is red and the right half blue.
func halves(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{255, 0, 0, 255}
			if x >= w/2 {
				c = color.RGBA{0, 0, 255, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

func TestSizeKeepsAspectWhenOneSideIsZero(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 800, 600))
	for _, tc := range []struct{ w, h, ww, wh int }{
		{400, 0, 400, 300}, {0, 300, 400, 300}, {64, 48, 64, 48}, {0, 0, 800, 600},
	} {
		if w, h := Size(img, tc.w, tc.h); w != tc.ww || h != tc.wh {
			t.Errorf("Size(%d,%d) = %d,%d want %d,%d", tc.w, tc.h, w, h, tc.ww, tc.wh)
		}
	}
	portrait := image.NewRGBA(image.Rect(0, 0, 468, 600))
	if w, h := Size(portrait, 0, 300); w != 234 || h != 300 {
		t.Errorf("portrait Size = %d,%d want 234,300", w, h)
	}
}

// A landscape picture fitted into a square loses its sides equally: the
// centre column (red|blue boundary) stays in the centre.
func TestFitCentreCropsAnyOrientation(t *testing.T) {
	got := Fit(halves(400, 100), 50, 50)
	if b := got.Bounds(); b.Dx() != 50 || b.Dy() != 50 {
		t.Fatalf("size %v", b)
	}
	left, right := got.RGBAAt(5, 25), got.RGBAAt(44, 25)
	if left.R < 250 || left.B > 5 || right.B < 250 || right.R > 5 {
		t.Errorf("crop not centred: left %v right %v", left, right)
	}
	// Portrait into landscape: rows are cropped, columns kept whole.
	got = Fit(halves(100, 400), 80, 40)
	if c := got.RGBAAt(0, 20); c.R < 250 {
		t.Errorf("portrait crop lost the left edge: %v", c)
	}
	if c := got.RGBAAt(79, 20); c.B < 250 {
		t.Errorf("portrait crop lost the right edge: %v", c)
	}
}

func TestTensorRoundTripSubtractsMeanAndClips(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 2, 1))
	img.SetRGBA(0, 0, color.RGBA{123, 117, 104, 255})
	img.SetRGBA(1, 0, color.RGBA{255, 0, 10, 255})
	mean := [3]float32{123, 117, 104}
	tt := FromImage(img, mean)
	want := []float32{0, 0, 0, 132, -117, -94}
	for i, v := range want {
		if tt.Data[i] != v {
			t.Fatalf("Data = %v want %v", tt.Data, want)
		}
	}
	tt.Data[3], tt.Data[4] = 500, -500 // out of range: clipped, as the notebook clips
	back := tt.Image(mean)
	if c := back.NRGBAAt(1, 0); c.R != 255 || c.G != 0 || c.B != 10 {
		t.Errorf("clipped pixel = %v", c)
	}
	if c := back.NRGBAAt(0, 0); c.R != 123 || c.G != 117 || c.B != 104 || c.A != 255 {
		t.Errorf("mean pixel = %v", c)
	}
}

func TestLoadDecodesJPEGPNGGIFAndRejectsOthers(t *testing.T) {
	dir := t.TempDir()
	src := halves(16, 8)
	var jb, gb bytes.Buffer
	if err := jpeg.Encode(&jb, src, nil); err != nil {
		t.Fatal(err)
	}
	if err := gif.Encode(&gb, src, nil); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "a.jpg"), jb.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "a.gif"), gb.Bytes(), 0o644)
	if err := SavePNG(filepath.Join(dir, "a.png"), src, map[string]string{"Comment": "weights: random"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a.jpg", "a.gif", "a.png"} {
		img, err := Load(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() != 16 || b.Dy() != 8 {
			t.Errorf("%s: size %v", name, b)
		}
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hello"), 0o644)
	if _, err := Load(filepath.Join(dir, "notes.txt")); err == nil || !strings.Contains(err.Error(), "notes.txt") {
		t.Errorf("text file: err = %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.png")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestSavePNGCarriesTextChunks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.png")
	if err := SavePNG(path, halves(4, 4), map[string]string{"Comment": "weights: random seed 0", "Software": "runner"}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !bytes.Contains(data, []byte("tEXtComment\x00weights: random seed 0")) {
		t.Error("no tEXt Comment chunk")
	}
	// The standard decoder verifies every chunk's CRC.
	if _, err := Load(path); err != nil {
		t.Fatalf("decode with text chunks: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}
