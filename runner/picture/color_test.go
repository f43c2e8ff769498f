package picture

import (
	"image"
	"image/color"
	"math"
	"testing"
)

// A styled picture's luminance with the content's chroma: on a synthetic
// content of many hues and a grey styled picture, the result's Cb and Cr are
// the content's within 1 level and its Y the styled picture's within 1.
func TestPreserveColorsKeepsContentChroma(t *testing.T) {
	const w, h = 32, 24
	content := image.NewNRGBA(image.Rect(0, 0, w, h))
	styled := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			// Moderate colours, so that no channel clips on the way back.
			content.SetNRGBA(x, y, color.NRGBA{uint8(70 + 4*x), uint8(80 + 3*y), uint8(150 - 2*x), 255})
			v := uint8(90 + x + 2*y)
			styled.SetNRGBA(x, y, color.NRGBA{v, uint8(int(v) + 10), uint8(int(v) - 10), 255})
		}
	}
	out := PreserveColors(styled, content)
	for y := range h {
		for x := range w {
			o, c, s := out.NRGBAAt(x, y), content.NRGBAAt(x, y), styled.NRGBAAt(x, y)
			oy, ocb, ocr := jfif(o)
			_, ccb, ccr := jfif(c)
			sy, _, _ := jfif(s)
			if math.Abs(ocb-ccb) > 1 || math.Abs(ocr-ccr) > 1 || math.Abs(oy-sy) > 1 {
				t.Fatalf("pixel (%d,%d): YCbCr %.1f,%.1f,%.1f; want Y %.1f (styled), CbCr %.1f,%.1f (content)", x, y, oy, ocb, ocr, sy, ccb, ccr)
			}
		}
	}
}

// jfif is the JFIF (JPEG, PIL) RGB to YCbCr conversion, from its formulas.
func jfif(c color.NRGBA) (y, cb, cr float64) {
	r, g, b := float64(c.R), float64(c.G), float64(c.B)
	return 0.299*r + 0.587*g + 0.114*b,
		128 - 0.168736*r - 0.331264*g + 0.5*b,
		128 + 0.5*r - 0.418688*g - 0.081312*b
}
