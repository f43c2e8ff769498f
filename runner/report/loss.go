package report

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Size of loss.png: 8x4.5 inches, 768x432 pixels at gonum/plot's 96 dpi.
const (
	plotWidth  = 8 * vg.Inch
	plotHeight = 4.5 * vg.Inch
)

// lossStyle gives each loss one colour and dash pattern, so the legend still
// reads in grey print.
var lossStyle = map[string]struct {
	color  color.RGBA
	dashes []vg.Length
}{
	"total":   {color.RGBA{0, 0, 0, 255}, nil},
	"content": {color.RGBA{31, 119, 180, 255}, []vg.Length{vg.Points(6), vg.Points(3)}},
	"style":   {color.RGBA{214, 39, 40, 255}, []vg.Length{vg.Points(2), vg.Points(2)}},
	"tv":      {color.RGBA{44, 160, 44, 255}, []vg.Length{vg.Points(8), vg.Points(3), vg.Points(2), vg.Points(3)}},
}

// LossPlot reads a metrics.csv and writes loss.png: total, content, style and
// TV loss against iteration on a log scale. Values that a log scale cannot
// show (zero, negative, NaN, infinite) are left out; a loss that is zero all
// along (tv_weight 0) has no line and its legend entry says so.
func LossPlot(metricsCSV io.Reader, w io.Writer) error {
	return lossPlot(metricsCSV, w, "png")
}

// LossPlotSVG is LossPlot drawn as SVG, for pages that show the curve inline.
func LossPlotSVG(metricsCSV io.Reader, w io.Writer) error {
	return lossPlot(metricsCSV, w, "svg")
}

func lossPlot(r io.Reader, w io.Writer, format string) error {
	m, err := ReadMetrics(r)
	if err != nil {
		return err
	}
	p, err := m.plot()
	if err != nil {
		return err
	}
	return render(p, w, format)
}

// plot builds the figure; an error says why there is nothing to draw.
func (m *Metrics) plot() (*plot.Plot, error) {
	if len(m.Iteration) == 0 {
		return nil, errors.New("metrics: no rows to plot")
	}
	p := plot.New()
	p.X.Label.Text = "iteration"
	p.Y.Label.Text = "loss (log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	p.Legend.XOffs, p.Legend.YOffs = -vg.Points(6), -vg.Points(4)
	p.Add(plotter.NewGrid())
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range m.Series {
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
		st := lossStyle[s.Name]
		l.Color, l.Dashes, l.Width = st.color, st.dashes, vg.Points(1.5)
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

// render writes p through gonum/plot's back-end for format, turning the
// panics of its drawing code into errors at this one boundary.
func render(p *plot.Plot, w io.Writer, format string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("draw loss plot: %v", r)
		}
	}()
	wt, err := p.WriterTo(plotWidth, plotHeight, format)
	if err != nil {
		return fmt.Errorf("draw loss plot: %w", err)
	}
	if _, err := wt.WriteTo(w); err != nil {
		return fmt.Errorf("write loss plot: %w", err)
	}
	return nil
}
