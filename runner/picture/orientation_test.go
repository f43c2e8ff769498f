package picture

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"
)

// corners returns a 3x2 picture whose pixels are all different.
func corners() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for y := 0; y < 2; y++ {
		for x := 0; x < 3; x++ {
			img.SetRGBA(x, y, color.RGBA{uint8(10 * x), uint8(100 * y), 7, 255})
		}
	}
	return img
}

// TestOrientMatchesTheEXIFTable checks each orientation against where the
// EXIF specification says the stored top-left pixel is shown.
func TestOrientMatchesTheEXIFTable(t *testing.T) {
	src := corners()
	topLeft := src.RGBAAt(0, 0)
	for _, tc := range []struct {
		o      int
		w, h   int
		px, py int // where the stored (0,0) lands when displayed
	}{
		{1, 3, 2, 0, 0}, {2, 3, 2, 2, 0}, {3, 3, 2, 2, 1}, {4, 3, 2, 0, 1},
		{5, 2, 3, 0, 0}, {6, 2, 3, 1, 0}, {7, 2, 3, 1, 2}, {8, 2, 3, 0, 2},
	} {
		got := orient(src, tc.o)
		if b := got.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h {
			t.Errorf("orientation %d: size %dx%d want %dx%d", tc.o, b.Dx(), b.Dy(), tc.w, tc.h)
			continue
		}
		if c := color.RGBAModel.Convert(got.At(tc.px, tc.py)).(color.RGBA); c != topLeft {
			t.Errorf("orientation %d: pixel (%d,%d) = %v, want the stored top-left %v", tc.o, tc.px, tc.py, c, topLeft)
		}
	}
}

// withOrientation inserts an EXIF APP1 segment (big- or little-endian TIFF)
// right after SOI, as cameras write it.
func withOrientation(t *testing.T, jpg []byte, o uint16, order binary.ByteOrder) []byte {
	t.Helper()
	tiff := make([]byte, 8+2+12+4)
	if order == binary.LittleEndian {
		copy(tiff, "II*\x00")
	} else {
		copy(tiff, "MM\x00*")
	}
	order.PutUint32(tiff[4:], 8)
	order.PutUint16(tiff[8:], 1)
	order.PutUint16(tiff[10:], 0x0112)
	order.PutUint16(tiff[12:], 3) // SHORT
	order.PutUint32(tiff[14:], 1)
	order.PutUint16(tiff[18:], o)
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(app1[2:], uint16(len(seg)+2))
	out := append([]byte{}, jpg[:2]...)
	out = append(out, app1...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

func TestLoadTurnsPortraitPhotosUpright(t *testing.T) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 40, 24)), nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		o     uint16
		order binary.ByteOrder
		w, h  int
	}{{1, binary.BigEndian, 40, 24}, {6, binary.BigEndian, 24, 40}, {8, binary.LittleEndian, 24, 40}, {3, binary.LittleEndian, 40, 24}} {
		path := filepath.Join(dir, "photo.jpg")
		os.WriteFile(path, withOrientation(t, buf.Bytes(), tc.o, tc.order), 0o644)
		img, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h {
			t.Errorf("orientation %d: loaded %dx%d, want %dx%d", tc.o, b.Dx(), b.Dy(), tc.w, tc.h)
		}
	}
	if o := exifOrientation(buf.Bytes()); o != 1 {
		t.Errorf("no EXIF: orientation %d", o)
	}
	if o := exifOrientation([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF}); o != 1 {
		t.Errorf("truncated segment: orientation %d", o)
	}
}

// FuzzExifOrientation: any bytes give an orientation in 1..8, never a panic
// (run with `go test -fuzz FuzzExifOrientation ./runner/picture`).
func FuzzExifOrientation(f *testing.F) {
	var buf bytes.Buffer
	jpeg.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 8, 8)), nil)
	f.Add(buf.Bytes())
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x10, 'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, '*', 0, 0, 0, 8})
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := exifOrientation(data); o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
	})
}
