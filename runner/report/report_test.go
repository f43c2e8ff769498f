package report

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// metricsCSV makes a metrics.csv in the runner's layout: losses falling
// geometrically from start by factor per row.
func metricsCSV(rows int, start, factor float64) string {
	var b strings.Builder
	b.WriteString("iteration,total,content,style,tv,seconds\n")
	v := start
	for i := 0; i < rows; i++ {
		fmt.Fprintf(&b, "%d,%g,%g,%g,%g,%.4f\n", i, v, v/10, v*0.9, v/1000, float64(i)*0.1)
		v *= factor
	}
	return b.String()
}

func TestReadMetricsByName(t *testing.T) {
	in := "seconds,tv,extra,iteration,total\n0.1,2,x,0,10\n0.2,0,y,5,4.5\n"
	m, err := ReadMetrics(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(m.Iteration); got != "[0 5]" {
		t.Errorf("iterations %s, want [0 5]", got)
	}
	if len(m.Series) != 2 || m.Series[0].Name != "total" || m.Series[1].Name != "tv" {
		t.Fatalf("series %+v, want total then tv", m.Series)
	}
	if got := fmt.Sprint(m.Series[0].Values, m.Series[1].Values); got != "[10 4.5] [2 0]" {
		t.Errorf("values %s", got)
	}
}

// A row the loop is still writing (no newline yet) is left out.
func TestReadMetricsDropsUnfinishedLine(t *testing.T) {
	m, err := ReadMetrics(strings.NewReader("iteration,total\n0,5\n1,4\n2,3."))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Iteration) != 2 {
		t.Errorf("%d rows, want 2", len(m.Iteration))
	}
}

// Errors name the line and column, never a field: a metrics.csv may be a
// link to a file that must not be quoted (issue 26.2).
func TestReadMetricsErrorsQuoteNothing(t *testing.T) {
	for _, in := range []string{"root:SECRET:1\n", "iteration,total\n0,SECRET\n", "iteration,total\n\"SECRET\n"} {
		if _, err := ReadMetrics(strings.NewReader(in)); err == nil || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%q: error %v, want one quoting nothing", in, err)
		}
	}
}

// ReadLayers takes every column but iteration; ReadMetrics keeps the seconds.
func TestReadLayersAndSeconds(t *testing.T) {
	l, err := ReadLayers(strings.NewReader("iteration,content_conv4_2,style_conv1_1\n0,1.5,2\n5,0.5,1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Series) != 2 || l.Series[0].Name != "content_conv4_2" || l.Series[1].Values[1] != 1 || l.Iteration[1] != 5 || l.Seconds != nil {
		t.Errorf("layers %+v", l)
	}
	m, err := ReadMetrics(strings.NewReader("iteration,total,seconds\n0,9,0.25\n1,8,0.5\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Seconds) != 2 || m.Seconds[1] != 0.5 {
		t.Errorf("seconds %v, want [0.25 0.5]", m.Seconds)
	}
}

func TestReadMetricsErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "no header"},
		{"it,total\n0,1\n", `no "iteration" column`},
		{"iteration,seconds\n0,1\n", "no loss columns"},
		{"iteration,total\n0,1\n1,abc\n", "line 3, column total"},
		{"iteration,total\n0,1\n1\n", "wrong number of fields"},
	} {
		_, err := ReadMetrics(strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one containing %q", c.in, err, c.want)
		}
	}
}

func decodePNG(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	return img
}

func TestLossPlot(t *testing.T) {
	var a, b bytes.Buffer
	if err := LossPlot(strings.NewReader(metricsCSV(100, 1e6, 0.95)), &a, Caption{}); err != nil {
		t.Fatal(err)
	}
	if err := LossPlot(strings.NewReader(metricsCSV(100, 1e6, 0.90)), &b, Caption{}); err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, a.Bytes())
	if s := img.Bounds().Size(); s != image.Pt(768, 432) {
		t.Errorf("size %v, want 768x432", s)
	}
	decodePNG(t, b.Bytes())
	if bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("different losses drew the same picture")
	}
	// Every loss has its colour somewhere on the picture.
	for name, st := range lossStyle {
		if !hasColor(img, st.color) {
			t.Errorf("no %s line (colour %v) in loss.png", name, st.color)
		}
	}
}

// Zero and negative values cannot go on a log scale: they are skipped, and a
// loss that is zero throughout (tv_weight 0) just has no line.
func TestLossPlotSkipsNonPositive(t *testing.T) {
	in := "iteration,total,content,style,tv\n0,100,10,90,0\n1,50,-1,45,0\n2,0,4,20,0\n3,20,3,17,0\n"
	var out bytes.Buffer
	if err := LossPlot(strings.NewReader(in), &out, Caption{}); err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, out.Bytes())
	if hasColor(img, lossStyle["tv"].color) {
		t.Error("tv is zero throughout but has a line")
	}
	if err := LossPlot(strings.NewReader("iteration,total\n0,0\n1,-2\n"), &out, Caption{}); err == nil || !strings.Contains(err.Error(), "no positive") {
		t.Errorf("all non-positive: error %v", err)
	}
	if err := LossPlot(strings.NewReader("iteration,total\n"), &out, Caption{}); err == nil || !strings.Contains(err.Error(), "no rows") {
		t.Errorf("no rows: error %v", err)
	}
	// One row (a run that just began) still draws.
	out.Reset()
	if err := LossPlot(strings.NewReader("iteration,total\n0,7\n"), &out, Caption{}); err != nil {
		t.Fatal(err)
	}
	decodePNG(t, out.Bytes())
}

// Titles, text chunks and the per-layer plot: the title is drawn (the
// picture differs from one without), and the Comment naming the weights is
// in the PNG, as in every checkpoint.
func TestCaptions(t *testing.T) {
	c := Caption{Title: "shipwreck_starry_night: 10 iterations\nmodel: random weights", Text: map[string]string{"Software": "gostyle runner", "Comment": "vgg19, weights random (seed 0)"}}
	var plain, titled bytes.Buffer
	if err := LossPlot(strings.NewReader(metricsCSV(10, 100, 0.5)), &plain, Caption{}); err != nil {
		t.Fatal(err)
	}
	if err := LossPlot(strings.NewReader(metricsCSV(10, 100, 0.5)), &titled, c); err != nil {
		t.Fatal(err)
	}
	var layers bytes.Buffer
	if err := LayersPlot(strings.NewReader("iteration,content_conv4_2,style_conv1_1\n0,5,900\n1,4,500\n"), &layers, c); err != nil {
		t.Fatal(err)
	}
	if !hasColor(decodePNG(t, layers.Bytes()), layerStyle("style_conv1_1", 1).color) {
		t.Error("layers.png lacks the second layer's line")
	}
	var cmp bytes.Buffer
	if err := Compare([]Panel{{"content", solid(400, 30, red)}, {"result", solid(400, 30, green)}}, &cmp, c); err != nil {
		t.Fatal(err)
	}
	if img := decodePNG(t, cmp.Bytes()); img.Bounds().Dy() != 30+2*Margin+LabelHeight+2*LabelHeight {
		t.Errorf("compare.png %v: want two title lines over the panels", img.Bounds())
	}
	if got := wrap("one two three four\nfive", 9); got != "one two\nthree\nfour\nfive" {
		t.Errorf("wrap: %q", got)
	}
	for name, b := range map[string][]byte{"loss": titled.Bytes(), "layers": layers.Bytes(), "compare": cmp.Bytes()} {
		if !bytes.Contains(b, []byte("tEXtComment\x00vgg19, weights random (seed 0)")) {
			t.Errorf("%s.png has no Comment chunk naming the weights", name)
		}
	}
	if countDiff(decodePNG(t, plain.Bytes()), decodePNG(t, titled.Bytes())) < 200 {
		t.Error("the title is not drawn on loss.png")
	}
}

func countDiff(a, b image.Image) int {
	n := 0
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				n++
			}
		}
	}
	return n
}

// Log-axis labels share one format: plain below 1e5, m·e otherwise, with
// 2 and 5 labelled on short axes.
func TestLogTicks(t *testing.T) {
	labels := func(lo, hi float64) string {
		var ls []string
		for _, tk := range (logTicks{}).Ticks(lo, hi) {
			if tk.Label != "" {
				ls = append(ls, tk.Label)
			}
		}
		return strings.Join(ls, " ")
	}
	for _, c := range []struct {
		lo, hi float64
		want   string
	}{
		{3, 700, "5 10 20 50 100 200 500"},
		{2e4, 3e7, "1e5 1e6 1e7"}, // never 10000 beside 1e+05
		{1.5e5, 9e5, "2e5 5e5"},
		{1, 1e4, "1 10 100 1000 10000"},
	} {
		if got := labels(c.lo, c.hi); got != c.want {
			t.Errorf("ticks %g..%g: %q, want %q", c.lo, c.hi, got, c.want)
		}
	}
}

func hasColor(img image.Image, c color.RGBA) bool {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if uint8(r>>8) == c.R && uint8(g>>8) == c.G && uint8(bl>>8) == c.B {
				return true
			}
		}
	}
	return false
}

func solid(w, h int, c color.RGBA) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return img
}

var (
	red   = color.RGBA{200, 0, 0, 255}
	blue  = color.RGBA{0, 0, 200, 255}
	green = color.RGBA{0, 160, 0, 255}
)

// Pictures of different sizes share the smallest height and keep their
// aspect: 100x50 at height 40 is 80 wide, 60x60 is 40, 40x40 is 40.
func TestCompareGeometry(t *testing.T) {
	panels := []Panel{{"content", solid(100, 50, red)}, {"style", solid(60, 60, blue)}, {"result", solid(40, 40, green)}}
	var out bytes.Buffer
	if err := Compare(panels, &out, Caption{}); err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, out.Bytes())
	top := Margin + LabelHeight
	want := []image.Rectangle{
		image.Rect(8, top, 88, top+40),
		image.Rect(96, top, 136, top+40),
		image.Rect(144, top, 184, top+40),
	}
	if s := img.Bounds().Size(); s != image.Pt(192, top+40+Margin) {
		t.Errorf("size %v, want %v", s, image.Pt(192, top+48))
	}
	for i, r := range want {
		c := panels[i].Image.At(0, 0).(color.RGBA)
		for _, p := range []image.Point{r.Min, r.Max.Sub(image.Pt(1, 1)), r.Min.Add(r.Size().Div(2))} {
			if got := color.RGBAModel.Convert(img.At(p.X, p.Y)).(color.RGBA); got != c {
				t.Errorf("panel %d at %v: %v, want %v", i, p, got, c)
			}
		}
		for _, p := range []image.Point{r.Min.Sub(image.Pt(1, 0)), r.Max} {
			if got := color.RGBAModel.Convert(img.At(p.X, p.Y)).(color.RGBA); got != background {
				t.Errorf("outside panel %d at %v: %v, want the background", i, p, got)
			}
		}
		// The label band above the picture holds dark text pixels.
		if dark := darkPixels(img, image.Rect(r.Min.X, Margin, r.Max.X, top)); dark < 20 {
			t.Errorf("label of panel %d: %d dark pixels, want text", i, dark)
		}
	}
}

func TestCompareLargePicturesCapped(t *testing.T) {
	var out bytes.Buffer
	if err := Compare([]Panel{{"content", solid(1600, 1200, red)}, {"result", solid(1200, 900, green)}}, &out, Caption{}); err != nil {
		t.Fatal(err)
	}
	s := decodePNG(t, out.Bytes()).Bounds().Size()
	if s.Y != MaxPanelHeight+LabelHeight+2*Margin || s.X != 3*Margin+2*683 {
		t.Errorf("size %v", s)
	}
}

func TestCompareErrors(t *testing.T) {
	var out bytes.Buffer
	if err := Compare(nil, &out, Caption{}); err == nil {
		t.Error("no panels: no error")
	}
	if err := Compare([]Panel{{"style", nil}}, &out, Caption{}); err == nil || !strings.Contains(err.Error(), `"style"`) {
		t.Errorf("nil picture: %v", err)
	}
}

func darkPixels(img image.Image, r image.Rectangle) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if c := color.GrayModel.Convert(img.At(x, y)).(color.Gray); c.Y < 100 {
				n++
			}
		}
	}
	return n
}

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRunPanels(t *testing.T) {
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "content.png"), solid(40, 30, red))
	writePNG(t, filepath.Join(dir, "style_1.png"), solid(20, 20, blue))
	writePNG(t, filepath.Join(dir, "style_2.png"), solid(20, 20, blue))
	if _, err := RunPanels(dir); err == nil || !strings.Contains(err.Error(), "final.png") {
		t.Errorf("no final.png: error %v, want one naming it", err)
	}
	writePNG(t, filepath.Join(dir, "final.png"), solid(40, 30, green))
	panels, err := RunPanels(dir)
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, p := range panels {
		labels = append(labels, p.Label)
	}
	if got := strings.Join(labels, ","); got != "content,style 1,style 2,result" {
		t.Errorf("labels %s", got)
	}
	os.WriteFile(filepath.Join(dir, "style.png"), []byte("not a png"), 0o644)
	if _, err := RunPanels(dir); err == nil || !strings.Contains(err.Error(), "style.png") {
		t.Errorf("broken style.png: error %v, want one naming it", err)
	}
}
