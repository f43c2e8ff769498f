package report

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/styletransfer/gostyle/runner/picture"
)

// Size of loss.png: 8x4.5 inches, 768x432 pixels at gonum/plot's 96 dpi.
const (
	plotWidth  = 8 * vg.Inch
	plotHeight = 4.5 * vg.Inch
)

// lossStyle gives each loss one colour and dash pattern, so the legend still
// reads in grey print.
// The total is a wide pale band under the others, so a term that makes up
// most of it (style, often) stays visible on top of it.
var lossStyle = map[string]lineStyle{
	"total":   {color.RGBA{160, 160, 160, 255}, nil, vg.Points(5)},
	"content": {color.RGBA{31, 119, 180, 255}, []vg.Length{vg.Points(6), vg.Points(3)}, 0},
	"style":   {color.RGBA{214, 39, 40, 255}, []vg.Length{vg.Points(2), vg.Points(2)}, 0},
	"tv":      {color.RGBA{44, 160, 44, 255}, []vg.Length{vg.Points(8), vg.Points(3), vg.Points(2), vg.Points(3)}, 0},
}

// Caption is what a report picture says of its run: a title drawn on it
// (one line each: the run, its settings and iterations, the model's
// weights) and text chunks stored in the PNG (picture.EncodePNG; the
// runner's Software and the Comment naming the weights, as every other
// PNG of the run carries).
type Caption struct {
	Title string
	Text  map[string]string
}

// LossPlot reads a metrics.csv and writes loss.png: total, content, style and
// TV loss against iteration on a log scale. Values that a log scale cannot
// show (zero, negative, NaN, infinite) are left out; a loss that is zero all
// along (tv_weight 0) has no line and its legend entry says so.
func LossPlot(metricsCSV io.Reader, w io.Writer, c Caption) error {
	m, err := ReadMetrics(metricsCSV)
	if err != nil {
		return err
	}
	return m.write(w, c, "loss (log scale)", func(name string, _ int) lineStyle { return lossStyle[name] })
}

// LayersPlot reads a layers.csv and writes layers.png: each used layer's
// weighted content or style term against iteration, log scale.
func LayersPlot(layersCSV io.Reader, w io.Writer, c Caption) error {
	m, err := ReadLayers(layersCSV)
	if err != nil {
		return err
	}
	return m.write(w, c, "weighted term (log scale)", layerStyle)
}

// lineStyle is a line's colour and dash pattern.
type lineStyle struct {
	color  color.RGBA
	dashes []vg.Length
	width  vg.Length // 0: 1.5 points
}

// layerStyle gives content terms dashed lines and style terms solid ones,
// in ten distinct colours.
func layerStyle(name string, i int) lineStyle {
	palette := []color.RGBA{{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255}, {148, 103, 189, 255},
		{140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255}, {188, 189, 34, 255}, {23, 190, 207, 255}}
	st := lineStyle{color: palette[i%len(palette)]}
	if strings.HasPrefix(name, "content_") {
		st.dashes = []vg.Length{vg.Points(6), vg.Points(3)}
	}
	return st
}

func (m *Metrics) write(w io.Writer, c Caption, ylabel string, style func(string, int) lineStyle) error {
	p, err := m.plot(ylabel, style)
	if err != nil {
		return err
	}
	p.Title.Text = wrap(c.Title, 100)
	p.Title.Padding = vg.Points(4)
	p.Title.TextStyle.Font.Size = vg.Points(11)
	img, err := render(p)
	if err != nil {
		return err
	}
	return picture.EncodePNG(w, img, c.Text)
}

// plot builds the figure; an error says why there is nothing to draw.
func (m *Metrics) plot(ylabel string, style func(string, int) lineStyle) (*plot.Plot, error) {
	if len(m.Iteration) == 0 {
		return nil, errors.New("metrics: no rows to plot")
	}
	p := plot.New()
	p.X.Label.Text = "iteration"
	p.Y.Label.Text = ylabel
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks{}
	p.Legend.Top = true
	p.Legend.XOffs, p.Legend.YOffs = -vg.Points(6), -vg.Points(4)
	p.Add(plotter.NewGrid())
	lo, hi := math.Inf(1), math.Inf(-1)
	for k, s := range m.Series {
		xy := make(plotter.XYs, 0, len(s.Values))
		for i, v := range s.Values {
			if positive(v) {
				xy = append(xy, plotter.XY{X: m.Iteration[i], Y: v})
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
		if len(xy) == 0 {
			p.Legend.Add(s.Name + " (no positive values)")
			continue
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return nil, fmt.Errorf("plot %s: %w", s.Name, err)
		}
		st := style(s.Name, k)
		l.Color, l.Dashes, l.Width = st.color, st.dashes, st.width
		if l.Width == 0 {
			l.Width = vg.Points(1.5)
		}
		p.Add(l)
		p.Legend.Add(s.Name, l)
	}
	if math.IsInf(lo, 1) {
		return nil, errors.New("metrics: no positive loss values to plot on a log scale")
	}
	// A log axis needs a range with room on both sides of a flat line.
	p.Y.Min, p.Y.Max = lo, hi
	if lo == hi {
		p.Y.Min, p.Y.Max = lo/2, hi*2
	}
	p.X.Min, p.X.Max = m.Iteration[0], m.Iteration[0]
	for _, it := range m.Iteration {
		p.X.Min, p.X.Max = math.Min(p.X.Min, it), math.Max(p.X.Max, it)
	}
	if p.X.Min == p.X.Max {
		p.X.Max++
	}
	return p, nil
}

// render draws p, turning the panics of gonum/plot's drawing code into
// errors at this one boundary.
func render(p *plot.Plot) (img image.Image, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("draw plot: %v", r)
		}
	}()
	c := vgimg.New(plotWidth, plotHeight)
	p.Draw(draw.New(c))
	return c.Image(), nil
}

// wrap breaks each line of s at spaces so that no line is longer than n
// characters (a word longer than n stands on its own line).
func wrap(s string, n int) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		cur := ""
		for _, w := range strings.Fields(line) {
			if cur != "" && len(cur)+1+len(w) > n {
				out = append(out, cur)
				cur = ""
			}
			if cur != "" {
				cur += " "
			}
			cur += w
		}
		out = append(out, cur)
	}
	return strings.Join(out, "\n")
}
