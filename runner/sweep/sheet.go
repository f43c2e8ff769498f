package sweep

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/math/fixed"

	"github.com/styletransfer/gostyle/runner/picture"
	"github.com/styletransfer/gostyle/runner/regularfile"
	"github.com/styletransfer/gostyle/runner/report"
)

// Sheet lays out a contact sheet: one cell per point, rows by the sweep's
// first dimension and columns by the others (a grid key is a dimension; the
// zip, whose keys move together, is one). A one-dimension sweep is one row.
// Results are drawn at their own resolution (never enlarged); results
// whose longer side exceeds MaxCell (print sizes) are scaled down to it. A
// strip above the grid shows the content and style pictures the points
// share (not those the sweep varies).
type Sheet struct {
	MaxCell int // longest side a result is drawn at, pixels
	MinColW int // least column width, for the labels
	Pad     int // space around cells
	LabelW  int // width of the row-label column
	TitleH  int // height of the title line
	LineH   int // height of one line of a label (a label holds one line per key)
	CaptH   int // height of the caption under each picture
}

// DefaultSheet draws results up to 512 pixels on their longer side.
var DefaultSheet = Sheet{MaxCell: 512, MinColW: 128, Pad: 8, LabelW: 160, TitleH: 28, LineH: 16, CaptH: 18}

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

// sheetPicture is a picture of a run folder the sheet draws.
type sheetPicture struct {
	label string
	path  string
	size  image.Point // as stored
}

// WriteContactSheet draws each point's final.png (from its row in rows)
// into a labelled grid and writes it atomically to output/contact-sheet.png,
// with the Comment chunk naming the weights that the results carry.
func (s Sheet) WriteContactSheet(output string, spec Spec, points []Point, rows []Row) error {
	rowLabels, colLabels, cells := Grid(spec, points)
	lines := 1
	for _, l := range colLabels {
		lines = max(lines, strings.Count(l, "\n")+1)
	}
	byIndex := map[int]Row{}
	finals := map[int]sheetPicture{}
	var biggest image.Point
	var first string // the first result's folder, for the inputs
	for _, r := range rows {
		byIndex[r.Index] = r
		if r.Final == "" {
			continue
		}
		path := filepath.Join(output, filepath.FromSlash(r.Final))
		if size, err := pngSize(path); err == nil {
			finals[r.Index] = sheetPicture{path: path, size: size}
			biggest = image.Pt(max(biggest.X, size.X), max(biggest.Y, size.Y))
			if first == "" {
				first = filepath.Dir(path)
			}
		}
	}
	cell := image.Pt(128, 96)
	if biggest.X > 0 {
		scale := min(1, float64(s.MaxCell)/float64(max(biggest.X, biggest.Y)))
		cell = image.Pt(max(1, int(math.Ceil(float64(biggest.X)*scale))), max(1, int(math.Ceil(float64(biggest.Y)*scale))))
	}
	colW := max(cell.X, s.MinColW)
	inputs := s.inputs(first, spec)
	stripH := 0
	if len(inputs) > 0 {
		stripH = cell.Y + s.CaptH + s.Pad
	}
	headerH := s.headerH(lines)
	cols := max(len(colLabels), len(inputs))
	w := s.LabelW + cols*(colW+s.Pad) + s.Pad
	h := s.TitleH + stripH + headerH + len(rowLabels)*(cell.Y+s.CaptH+s.Pad) + s.Pad
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)

	face, err := report.LabelFace(13)
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
	// place draws pic at the top of the cell at (left, top), centred in
	// the column, and its caption right under it.
	place := func(pic sheetPicture, left, top int, caption string) string {
		src, err := loadPNG(pic.path)
		var r image.Rectangle
		if err == nil {
			// Scaled down only, centred in the column, top-aligned: the
			// caption sits right under the picture.
			b := src.Bounds()
			scale := min(1, float64(colW)/float64(b.Dx()), float64(cell.Y)/float64(b.Dy()))
			pw, ph := max(1, int(float64(b.Dx())*scale+0.5)), max(1, int(float64(b.Dy())*scale+0.5))
			r = image.Rect(left+(colW-pw)/2, top, left+(colW-pw)/2+pw, top+ph)
			if r.Dx() == src.Bounds().Dx() && r.Dy() == src.Bounds().Dy() {
				draw.Draw(img, r, src, src.Bounds().Min, draw.Src) // native: pixel for pixel
			} else {
				draw.CatmullRom.Scale(img, r, src, src.Bounds(), draw.Src, nil)
			}
		} else {
			r = image.Rect(left+(colW-cell.X)/2, top, left+(colW+cell.X)/2, top+cell.Y)
			draw.Draw(img, r, image.NewUniform(color.Gray{0xdd}), image.Point{}, draw.Src)
		}
		text(caption, left+max(0, (colW-r.Dx())/2), r.Max.Y+s.CaptH-5, colW)
		if err != nil {
			return ""
		}
		return pngComment(pic.path)
	}

	title := fmt.Sprintf("%s: %d points", spec.Name, len(points))
	if ks := spec.Keys(); len(ks) > 0 {
		title += "  (" + strings.Join(ks, ", ") + ")"
	}
	if len(rows) > 0 && rows[0].Weights != "" {
		title += "  model: " + rows[0].Weights
	}
	text(title, s.Pad, s.TitleH-9, w-2*s.Pad)
	if len(inputs) > 0 {
		text("inputs", s.Pad, s.TitleH+cell.Y/2, s.LabelW-2*s.Pad)
		for i, in := range inputs {
			place(in, s.LabelW+i*(colW+s.Pad), s.TitleH, in.label)
		}
	}
	top0 := s.TitleH + stripH
	for c, l := range colLabels {
		for i, line := range strings.Split(l, "\n") {
			text(line, s.LabelW+c*(colW+s.Pad), top0+(i+1)*s.LineH-3, colW)
		}
	}
	comment := ""
	for r, l := range rowLabels {
		top := top0 + headerH + r*(cell.Y+s.CaptH+s.Pad)
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
			text(line, s.Pad, top+cell.Y/2-len(ls)*s.LineH/2+(i+1)*s.LineH-3, s.LabelW-2*s.Pad)
		}
		for c, i := range cells[r] {
			if i < 0 {
				continue
			}
			left := s.LabelW + c*(colW+s.Pad)
			row := byIndex[i]
			caption := fmt.Sprintf("#%d %s", i, row.Status)
			if row.Total != nil {
				caption += "  loss " + strings.NewReplacer("e+0", "e", "e+", "e", "e-0", "e-").Replace(fmt.Sprintf("%.3g", *row.Total))
			}
			pic, ok := finals[i]
			if !ok && row.Final != "" {
				caption = fmt.Sprintf("#%d unreadable final.png", i)
			}
			if !ok {
				pic.path = "" // a grey cell
			}
			if c := place(pic, left, top, caption); comment == "" {
				comment = c
			}
		}
	}
	chunks := map[string]string{"Software": "gostyle runner"}
	if comment != "" {
		chunks["Comment"] = comment
	}
	var buf bytes.Buffer
	if err := picture.EncodePNG(&buf, img, chunks); err != nil {
		return fmt.Errorf("contact sheet: %w", err)
	}
	return WriteAtomic(filepath.Join(output, ContactSheet), buf.Bytes())
}

// inputs are the content and style pictures in the run folder dir that the
// points share: not those whose key the sweep varies.
func (s Sheet) inputs(dir string, spec Spec) []sheetPicture {
	if dir == "" {
		return nil
	}
	varied := map[string]bool{}
	for _, k := range spec.Keys() {
		varied[k] = true
	}
	var names [][2]string
	if !varied["content"] {
		names = append(names, [2]string{"content", "content.png"})
	}
	if !varied["style"] {
		names = append(names, [2]string{"style", "style.png"})
		for i := 1; i <= 16; i++ {
			names = append(names, [2]string{"style " + strconv.Itoa(i), "style_" + strconv.Itoa(i) + ".png"})
		}
	}
	var out []sheetPicture
	for _, n := range names {
		path := filepath.Join(dir, n[1])
		if size, err := pngSize(path); err == nil {
			out = append(out, sheetPicture{label: n[0], path: path, size: size})
		}
	}
	return out
}

// pngSize reads a PNG's size from its header.
func pngSize(path string) (image.Point, error) {
	f, err := regularfile.Open(path)
	if err != nil {
		return image.Point{}, err
	}
	defer f.Close()
	c, err := png.DecodeConfig(f)
	return image.Pt(c.Width, c.Height), err
}

// pngComment is a PNG's Comment text chunk, "" if none.
func pngComment(path string) string {
	f, err := regularfile.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	text, _ := picture.ReadText(f)
	return text["Comment"]
}

// loadPNG reads a point's picture with picture.Load: a regular file, its
// size checked from the header before it is decoded.
func loadPNG(path string) (image.Image, error) {
	if path == "" {
		return nil, os.ErrNotExist
	}
	return picture.Load(path)
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
