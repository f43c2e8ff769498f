package picture

import (
	"image"
	"image/color"
)

// PreserveColors returns styled with the colours of content: the styled
// picture's luminance (YCbCr's Y) with the content's chroma (Cb, Cr), as
// anishathalye/neural-style and jcjohnson/neural-style (-original_colors)
// do. The conversion is JPEG's (JFIF) YCbCr, the one PIL uses. Both
// pictures have the same size.
func PreserveColors(styled, content *image.NRGBA) *image.NRGBA {
	b := styled.Bounds()
	out := image.NewNRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			s := styled.NRGBAAt(x, y)
			c := content.NRGBAAt(x-b.Min.X+content.Rect.Min.X, y-b.Min.Y+content.Rect.Min.Y)
			lum, _, _ := color.RGBToYCbCr(s.R, s.G, s.B)
			_, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
			r, g, bl := color.YCbCrToRGB(lum, cb, cr)
			out.SetNRGBA(x, y, color.NRGBA{r, g, bl, 255})
		}
	}
	return out
}
