package sweep

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"path/filepath"
	"strings"

	"github.com/styletransfer/gostyle/runner/picture"
	"golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Sheet lays out a contact sheet: one cell per point, rows by the sweep's
// first dimension and columns by the others (a grid key is a dimension; the
// zip, whose keys move together, is one). A one-dimension sweep is one row.
type Sheet struct {
	Cell   int // side of the square a picture is fitted into, pixels
	Pad    int // space around cells
	LabelW int // width of the row-label column
	TitleH int // height of the title line
	LineH  int // height of one line of a label (a label holds one line per key)
	CaptH  int // height of the caption under each picture
}

// DefaultSheet fits pictures into 192-pixel squares.
var DefaultSheet = Sheet{Cell: 192, Pad: 8, LabelW: 160, TitleH: 28, LineH: 16, CaptH: 18}

// Size is the sheet's size in pixels for rows x cols cells whose column
// labels have headerLines lines.
func (s Sheet) Size(rows, cols, headerLines int) (w, h int) {
	return s.LabelW + cols*(s.Cell+s.Pad) + s.Pad, s.TitleH + s.headerH(headerLines) + rows*(s.Cell+s.CaptH+s.Pad) + s.Pad
}

func (s Sheet) headerH(lines int) int { return lines*s.LineH + 6 }

// Grid places points: rows and columns by the first two dimensions, with
// labels of one line per key. cells[r][c] is a point index or -1.
func Grid(spec Spec, points []Point) (rowLabels, colLabels []string, cells [][]int) {
	dims := dimensions(spec)
	label := func(p Point, ds []dimension) string {
		var parts []string
		for _, d := range ds {
			parts = append(parts, d.label(p))
		}
		return strings.Join(parts, "\n")
	}
	rowIdx, colIdx := map[string]int{}, map[string]int{}
	type rc struct{ r, c int }
	at := map[rc]int{}
	for _, p := range points {
		var rl, cl string
		if len(dims) == 1 {
			rl, cl = "", label(p, dims)
		} else {
			rl, cl = label(p, dims[:1]), label(p, dims[1:])
		}
		if _, ok := rowIdx[rl]; !ok {
			rowIdx[rl] = len(rowLabels)
			rowLabels = append(rowLabels, rl)
		}
		if _, ok := colIdx[cl]; !ok {
			colIdx[cl] = len(colLabels)
			colLabels = append(colLabels, cl)
		}
		at[rc{rowIdx[rl], colIdx[cl]}] = p.Index
	}
	cells = make([][]int, len(rowLabels))
	for r := range cells {
		cells[r] = make([]int, len(colLabels))
		for c := range cells[r] {
			i, ok := at[rc{r, c}]
			if !ok {
				i = -1
			}
			cells[r][c] = i
		}
	}
	return rowLabels, colLabels, cells
}

// dimension is a grid key or the whole zip.
type dimension struct{ keys []string }

func dimensions(spec Spec) []dimension {
	var ds []dimension
	for _, a := range spec.Grid {
		ds = append(ds, dimension{[]string{a.Key}})
	}
	if len(spec.Zip) > 0 {
		var keys []string
		for _, a := range spec.Zip {
			keys = append(keys, a.Key)
		}
		ds = append(ds, dimension{keys})
	}
	return ds
}

func (d dimension) label(p Point) string {
	var parts []string
	for _, v := range p.Vars {
		for _, k := range d.keys {
			if v.Key == k {
				parts = append(parts, lastPart(k)+"="+shortValue(v.Value))
			}
		}
	}
	return strings.Join(parts, "\n")
}

// lastPart keeps a dotted key's last element for labels.
func lastPart(k string) string { return k[strings.LastIndex(k, ".")+1:] }

// WriteContactSheet draws each point's final.png (from its row in rows)
// into a labelled grid and writes it atomically to output/contact-sheet.png.
func (s Sheet) WriteContactSheet(output string, spec Spec, points []Point, rows []Row) error {
	rowLabels, colLabels, cells := Grid(spec, points)
	lines := 1
	for _, l := range colLabels {
		lines = max(lines, strings.Count(l, "\n")+1)
	}
	headerH := s.headerH(lines)
	w, h := s.Size(len(rowLabels), len(colLabels), lines)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)

	face, err := labelFace(13)
	if err != nil {
		return err
	}
	defer face.Close()
	ink := image.NewUniform(color.Black)
	text := func(str string, x, y, maxW int) {
		d := font.Drawer{Dst: img, Src: ink, Face: face}
		str = fit(d, str, maxW)
		d.Dot = fixed.P(x, y)
		d.DrawString(str)
	}
	title := fmt.Sprintf("%s: %d points", spec.Name, len(points))
	if ks := spec.Keys(); len(ks) > 0 {
		title += "  (" + strings.Join(ks, ", ") + ")"
	}
	if len(rows) > 0 && rows[0].Weights != "" {
		title += "  model: " + rows[0].Weights
	}
	text(title, s.Pad, s.TitleH-9, w-2*s.Pad)
	for c, l := range colLabels {
		for i, line := range strings.Split(l, "\n") {
			text(line, s.LabelW+c*(s.Cell+s.Pad), s.TitleH+(i+1)*s.LineH-3, s.Cell)
		}
	}
	byIndex := map[int]Row{}
	for _, r := range rows {
		byIndex[r.Index] = r
	}
	for r, l := range rowLabels {
		top := s.TitleH + headerH + r*(s.Cell+s.CaptH+s.Pad)
		// Row labels sit in a narrow column: each key above its value.
		var ls []string
		for _, kv := range strings.Split(l, "\n") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				ls = append(ls, kv)
				continue
			}
			ls = append(ls, k+":", "  "+v)
		}
		for i, line := range ls {
			text(line, s.Pad, top+s.Cell/2-len(ls)*s.LineH/2+(i+1)*s.LineH-3, s.LabelW-2*s.Pad)
		}
		for c, i := range cells[r] {
			if i < 0 {
				continue
			}
			left := s.LabelW + c*(s.Cell+s.Pad)
			box := image.Rect(left, top, left+s.Cell, top+s.Cell)
			row := byIndex[i]
			caption := fmt.Sprintf("#%d %s", i, row.Status)
			if row.Total != nil {
				caption += fmt.Sprintf("  loss %.3g", *row.Total)
			}
			if pic, err := loadPNG(filepath.Join(output, filepath.FromSlash(row.Final))); row.Final != "" && err == nil {
				draw.CatmullRom.Scale(img, fitRect(pic.Bounds(), box), pic, pic.Bounds(), draw.Src, nil)
			} else {
				draw.Draw(img, box, image.NewUniform(color.Gray{0xdd}), image.Point{}, draw.Src)
				if row.Final != "" {
					caption = fmt.Sprintf("#%d unreadable final.png", i)
				}
			}
			text(caption, left, top+s.Cell+s.CaptH-5, s.Cell)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return fmt.Errorf("contact sheet: %w", err)
	}
	return WriteAtomic(filepath.Join(output, ContactSheet), buf.Bytes())
}

// loadPNG reads a point's picture with picture.Load: a regular file, its
// size checked from the header before it is decoded.
func loadPNG(path string) (image.Image, error) { return picture.Load(path) }

// fitRect is the largest rectangle of src's aspect centred in box.
func fitRect(src, box image.Rectangle) image.Rectangle {
	sw, sh, bw, bh := src.Dx(), src.Dy(), box.Dx(), box.Dy()
	w, h := bw, sh*bw/max(sw, 1)
	if h > bh {
		w, h = sw*bh/max(sh, 1), bh
	}
	x, y := box.Min.X+(bw-w)/2, box.Min.Y+(bh-h)/2
	return image.Rect(x, y, x+max(w, 1), y+max(h, 1))
}

// fit cuts str with an ellipsis to at most maxW pixels.
func fit(d font.Drawer, str string, maxW int) string {
	limit := fixed.I(maxW)
	if d.MeasureString(str) <= limit {
		return str
	}
	r := []rune(str)
	for len(r) > 0 && d.MeasureString(string(r)+"…") > limit {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

// labelFace is the Go font (regular) at size points, 72 dpi.
func labelFace(size float64) (font.Face, error) {
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
