package report

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"strings"

	"golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"github.com/styletransfer/gostyle/runner/picture"
)

// Panel is one labelled picture of compare.png.
type Panel struct {
	Label string
	Image image.Image
}

// Geometry of compare.png: every picture is scaled to one height, under a
// band holding its label, with a margin around and between them.
const (
	// MaxPanelHeight caps the common height; smaller pictures set it.
	MaxPanelHeight = 512
	Margin         = 8
	LabelHeight    = 28
	labelSize      = 16 // points at 72 dpi, i.e. pixels
)

var background = color.RGBA{255, 255, 255, 255}

// Layout says where each panel's picture lands in compare.png and how big
// the whole image is: the common height is the smallest picture height,
// capped at MaxPanelHeight, and each picture keeps its aspect ratio.
func Layout(panels []Panel) (pictures []image.Rectangle, size image.Point, err error) {
	if len(panels) == 0 {
		return nil, image.Point{}, errors.New("compare: no pictures")
	}
	h := MaxPanelHeight
	for i, p := range panels {
		if p.Image == nil {
			return nil, image.Point{}, fmt.Errorf("compare: panel %d (%q) has no picture", i, p.Label)
		}
		b := p.Image.Bounds()
		if b.Dx() <= 0 || b.Dy() <= 0 {
			return nil, image.Point{}, fmt.Errorf("compare: panel %d (%q) is an empty picture", i, p.Label)
		}
		h = min(h, b.Dy())
	}
	x := Margin
	top := Margin + LabelHeight
	for _, p := range panels {
		b := p.Image.Bounds()
		w := max(1, (b.Dx()*h+b.Dy()/2)/b.Dy())
		pictures = append(pictures, image.Rect(x, top, x+w, top+h))
		x += w + Margin
	}
	return pictures, image.Pt(x, top+h+Margin), nil
}

// Compare writes compare.png: the caption's title (a line of LabelHeight
// per line of it) over the panels side by side (content, style(s), result,
// in the order given), each under its label, on white; the caption's text
// goes into the PNG's text chunks.
func Compare(panels []Panel, w io.Writer, c Caption) error {
	rects, size, err := Layout(panels)
	if err != nil {
		return err
	}
	face, err := LabelFace(labelSize)
	if err != nil {
		return err
	}
	defer face.Close()
	var title []string
	if c.Title != "" {
		title = strings.Split(wrap(c.Title, max(20, (size.X-2*Margin)/8)), "\n")
	}
	top := len(title) * LabelHeight
	dst := image.NewRGBA(image.Rectangle{Max: size.Add(image.Pt(0, top))})
	draw.Draw(dst, dst.Bounds(), image.NewUniform(background), image.Point{}, draw.Src)
	d := font.Drawer{Dst: dst, Src: image.NewUniform(color.Black), Face: face}
	for i, line := range title {
		d.Dot = fixed.P(Margin, Margin+(i+1)*LabelHeight-8)
		d.DrawString(fit(&d, line, size.X-2*Margin))
	}
	for i, p := range panels {
		r := rects[i].Add(image.Pt(0, top))
		draw.CatmullRom.Scale(dst, r, p.Image, p.Image.Bounds(), draw.Src, nil)
		label := fit(&d, p.Label, r.Dx())
		width := d.MeasureString(label).Round()
		baseline := top + Margin + (LabelHeight+face.Metrics().Ascent.Round()-face.Metrics().Descent.Round())/2
		d.Dot = fixed.P(r.Min.X+(r.Dx()-width)/2, baseline)
		d.DrawString(label)
	}
	if err := picture.EncodePNG(w, dst, c.Text); err != nil {
		return fmt.Errorf("write compare picture: %w", err)
	}
	return nil
}

// LabelFace is Go's own sans-serif font (goregular) at size pixels, so
// labels look the same on every host without a system font.
func LabelFace(size float64) (font.Face, error) {
	f, err := opentype.Parse(goregular.TTF)
	if err != nil {
		return nil, fmt.Errorf("label font: %w", err)
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, fmt.Errorf("label font: %w", err)
	}
	return face, nil
}

// fit shortens a label with an ellipsis until it is at most width pixels.
func fit(d *font.Drawer, label string, width int) string {
	if d.MeasureString(label).Round() <= width {
		return label
	}
	r := []rune(label)
	for len(r) > 0 {
		r = r[:len(r)-1]
		if s := string(r) + "…"; d.MeasureString(s).Round() <= width {
			return s
		}
	}
	return ""
}
