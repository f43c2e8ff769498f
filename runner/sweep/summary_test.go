package sweep

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/styletransfer/gostyle/runner/picture"
)

func TestSummaryFromRunFolders(t *testing.T) {
	p := mustLoad(t, base+"sweep:\n  grid:\n    style_weight: [5, 50]\n    seed: [1, 2]\n")
	out := t.TempDir()
	fixtureRun(t, filepath.Join(out, all(t, p)[0].Dir), Done, all(t, p)[0].ID, 4, color.RGBA{255, 0, 0, 255})
	fixtureRun(t, filepath.Join(out, all(t, p)[1].Dir), Done, "0123456789ab", 8, color.RGBA{0, 0, 255, 255})
	fixtureRun(t, filepath.Join(out, all(t, p)[2].Dir), Running, all(t, p)[2].ID, 2, color.RGBA{0, 255, 0, 255})
	// A running point's metrics end in half a line: it is ignored.
	f, _ := os.OpenFile(filepath.Join(out, all(t, p)[2].Dir, "metrics.csv"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("3,2.7")
	f.Close()
	os.Remove(filepath.Join(out, all(t, p)[2].Dir, "final.png"))

	rows, err := Summarize(out, all(t, p), markerReader)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus := []string{Done, Stale, Running, Missing}
	for i, r := range rows {
		if r.Status != wantStatus[i] || r.Index != i || r.ID != all(t, p)[i].ID || r.Dir != all(t, p)[i].Dir {
			t.Errorf("row %d: %+v, want status %s", i, r, wantStatus[i])
		}
	}
	// Point 0 ran iterations 0..4: last row total 100/5, content 10/5,
	// style 80/5, tv 10/5; seconds 2 + 4*0.25 = 3; pace (3-2)/4 = 0.25 s/it.
	r := rows[0]
	near := func(got *float64, want float64) bool { return got != nil && math.Abs(*got-want) < 1e-9 }
	if r.Iterations != 4 || !near(r.Total, 20) || !near(r.Content, 2) || !near(r.Style, 16) || !near(r.TV, 2) ||
		math.Abs(r.Seconds-3) > 1e-9 || math.Abs(r.SecondsPerIteration-0.25) > 1e-9 {
		t.Errorf("row 0 numbers: %+v", r)
	}
	if r.Weights != "random (he-normal seed 0), avg pooling" || r.Final != all(t, p)[0].Dir+"/final.png" {
		t.Errorf("row 0 weights %q final %q", r.Weights, r.Final)
	}
	if rows[2].Iterations != 2 || rows[2].Final != "" || rows[3].Total != nil {
		t.Errorf("rows 2, 3: %+v %+v", rows[2], rows[3])
	}

	if err := WriteSummary(out, rows); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(out, SummaryCSV))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil || len(recs) != 5 {
		t.Fatalf("summary.csv: %d records, %v", len(recs), err)
	}
	if strings.Join(recs[0], ",") != "index,id,dir,overrides,status,iterations,total,content,style,tv,seconds,seconds_per_iteration,weights" {
		t.Errorf("header %q", recs[0])
	}
	if got := strings.Join(recs[1], "|"); got != "0|"+all(t, p)[0].ID+"|"+all(t, p)[0].Dir+"|style_weight=5 seed=1|done|4|20|2|16|2|3.000|0.2500|random (he-normal seed 0), avg pooling" {
		t.Errorf("row 0: %s", got)
	}
	if recs[4][4] != Missing || recs[4][6] != "" {
		t.Errorf("missing row: %q", recs[4])
	}
	var back []Row
	js, _ := os.ReadFile(filepath.Join(out, SummaryJSON))
	if err := json.Unmarshal(js, &back); err != nil || len(back) != 4 || *back[0].Total != 20 || back[3].Total != nil || back[1].Status != Stale {
		t.Fatalf("summary.json: %v %+v", err, back)
	}
	left, _ := filepath.Glob(filepath.Join(out, ".*tmp"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}

	var table strings.Builder
	if err := Table(&table, rows); err != nil {
		t.Fatal(err)
	}
	// A header, four rows, the counts and, with a stale point, what a rerun does with it.
	if s := table.String(); !strings.Contains(s, "4 points: 1 done, 1 running, 1 stale, 1 missing\n"+StaleNote+"\n") || strings.Count(s, "\n") != 7 {
		t.Errorf("table:\n%s", s)
	}
}

func TestSummaryRejectsMetricsWithoutAColumn(t *testing.T) {
	p := mustLoad(t, base+"sweep:\n  grid:\n    seed: [1]\n")
	out := t.TempDir()
	dir := filepath.Join(out, all(t, p)[0].Dir)
	fixtureRun(t, dir, Done, all(t, p)[0].ID, 2, color.White)
	os.WriteFile(filepath.Join(dir, "metrics.csv"), []byte("iteration,total\n0,1\n"), 0o644)
	_, err := Summarize(out, all(t, p), markerReader)
	if err == nil || !strings.Contains(err.Error(), `no "content" column`) || !strings.Contains(err.Error(), "metrics.csv") {
		t.Fatalf("err %v", err)
	}
}

func TestContactSheet(t *testing.T) {
	p := mustLoad(t, base+"sweep:\n  grid:\n    style_weight: [5, 50]\n    seed: [1, 2]\n")
	out := t.TempDir()
	colours := []color.RGBA{{255, 0, 0, 255}, {0, 0, 255, 255}, {0, 160, 0, 255}}
	for i, c := range colours {
		fixtureRun(t, filepath.Join(out, all(t, p)[i].Dir), Done, all(t, p)[i].ID, 3, c)
	}
	rows, err := Summarize(out, all(t, p), markerReader)
	if err != nil {
		t.Fatal(err)
	}
	s := DefaultSheet
	if err := s.WriteContactSheet(out, p.Spec, all(t, p), rows); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(out, ContactSheet))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("contact sheet is not a PNG: %v", err)
	}
	// 2 rows (style_weight) x 2 columns (seed), one-line column labels; the
	// 64x48 results drawn at their size in 128-pixel columns:
	// 160 + 2*(128+8) + 8 wide, 28 + (16+6) + 2*(48+18+8) + 8 high.
	if b := img.Bounds(); b.Dx() != 440 || b.Dy() != 206 {
		t.Fatalf("sheet is %dx%d, want 440x206", b.Dx(), b.Dy())
	}
	// Cell (row r, column c) is centred at x = 160 + c*136 + 64,
	// y = 50 + r*74 + 24.
	at := func(r, c int) color.RGBA {
		return color.RGBAModel.Convert(img.At(160+c*136+64, 50+r*74+24)).(color.RGBA)
	}
	for i, want := range colours {
		if got := at(i/2, i%2); got != want {
			t.Errorf("cell of point %d is %v, want %v", i, got, want)
		}
	}
	if got := at(1, 1); got != (color.RGBA{0xdd, 0xdd, 0xdd, 0xff}) {
		t.Errorf("missing point's cell is %v, want grey", got)
	}
	// Labels are drawn: dark pixels in the title, header and row-label strips.
	dark := func(r image.Rectangle) int {
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
	for name, r := range map[string]image.Rectangle{
		"title": image.Rect(0, 0, 440, 28), "column labels": image.Rect(160, 28, 440, 50),
		"row labels": image.Rect(0, 50, 160, 206), "captions": image.Rect(160, 50+48, 296, 50+66),
	} {
		if dark(r) < 20 {
			t.Errorf("no text in the %s", name)
		}
	}
}

func TestGridOfAZipIsOneRow(t *testing.T) {
	p := mustLoad(t, base+"sweep:\n  zip:\n    seed: [1, 2, 3]\n    noise_ratio: [0.1, 0.2, 0.3]\n")
	rows, cols, cells := Grid(p.Spec, all(t, p))
	if len(rows) != 1 || len(cols) != 3 || cols[2] != "seed=3\nnoise_ratio=0.3" || cells[0][1] != 1 {
		t.Fatalf("rows %q cols %q cells %v", rows, cols, cells)
	}
	p = mustLoad(t, base+"sweep:\n  grid:\n    content: [a/x.jpg, a/y.jpg]\n  zip:\n    seed: [1, 2, 3]\n    noise_ratio: [0.1, 0.2, 0.3]\n")
	rows, cols, cells = Grid(p.Spec, all(t, p))
	if len(rows) != 2 || rows[1] != "content=y" || len(cols) != 3 || cells[1][2] != 5 {
		t.Fatalf("rows %q cols %q cells %v", rows, cols, cells)
	}
}

// A zip's column labels hold one line per key, and the header grows to fit.
func TestContactSheetOfAZip(t *testing.T) {
	p := mustLoad(t, base+"sweep:\n  zip:\n    seed: [1, 2, 3]\n    noise_ratio: [0.1, 0.2, 0.3]\n")
	out := t.TempDir()
	for i := range 3 {
		fixtureRun(t, filepath.Join(out, all(t, p)[i].Dir), Done, all(t, p)[i].ID, 2, color.RGBA{uint8(80 * i), 0, 0, 255})
	}
	rows, err := Summarize(out, all(t, p), markerReader)
	if err != nil {
		t.Fatal(err)
	}
	if err := DefaultSheet.WriteContactSheet(out, p.Spec, all(t, p), rows); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(out, ContactSheet))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	// 1 row x 3 columns, 2-line labels: 160 + 3*136 + 8 wide,
	// 28 + (2*16+6) + 74 + 8 high.
	if cfg.Width != 576 || cfg.Height != 148 {
		t.Errorf("sheet %dx%d, want 576x148", cfg.Width, cfg.Height)
	}
}

// Results are drawn pixel for pixel (never enlarged), print-size ones are
// scaled down to MaxCell, the shared content and style are shown above the
// grid with their captions, and the sheet carries the results' Comment.
func TestContactSheetNativeInputsComment(t *testing.T) {
	p := mustLoad(t, base+"sweep:\n  grid:\n    seed: [1, 2]\n")
	out := t.TempDir()
	points := all(t, p)
	checker := image.NewRGBA(image.Rect(0, 0, 300, 200))
	for y := 0; y < 200; y++ {
		for x := 0; x < 300; x++ {
			if (x+y)%2 == 0 {
				checker.Set(x, y, color.White)
			} else {
				checker.Set(x, y, color.RGBA{0, 0, 255, 255})
			}
		}
	}
	writePNG := func(path string, img image.Image, text map[string]string) {
		var b bytes.Buffer
		if err := picture.EncodePNG(&b, img, text); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		dir := filepath.Join(out, points[i].Dir)
		fixtureRun(t, dir, Done, points[i].ID, 2, color.White)
		writePNG(filepath.Join(dir, "final.png"), checker, map[string]string{"Comment": "vgg19, weights random (seed 0)"})
	}
	red := image.NewRGBA(image.Rect(0, 0, 300, 200))
	draw.Draw(red, red.Bounds(), image.NewUniform(color.RGBA{200, 0, 0, 255}), image.Point{}, draw.Src)
	writePNG(filepath.Join(out, points[0].Dir, "content.png"), red, nil)
	writePNG(filepath.Join(out, points[0].Dir, "style.png"), checker, nil)
	rows, err := Summarize(out, points, markerReader)
	if err != nil {
		t.Fatal(err)
	}
	if err := DefaultSheet.WriteContactSheet(out, p.Spec, points, rows); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(out, ContactSheet))
	if err != nil {
		t.Fatal(err)
	}
	if text, _ := picture.ReadText(bytes.NewReader(data)); text["Comment"] != "vgg19, weights random (seed 0)" {
		t.Errorf("sheet's text chunks %v: want the results' Comment", text)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	// Layout: inputs strip (200+18+8) under the title, then the header
	// (16+6), then one row; columns 300 wide.
	grid := 28 + 226 + 22
	for _, cell := range []struct {
		x, y int
		what string
	}{{160, 28, "content"}, {160 + 308, 28, "style"}, {160, grid, "point 0"}, {160 + 308, grid, "point 1"}} {
		for _, d := range []image.Point{{0, 0}, {1, 0}, {57, 33}, {58, 33}} {
			got := color.RGBAModel.Convert(img.At(cell.x+d.X, cell.y+d.Y)).(color.RGBA)
			var want color.RGBA
			switch {
			case cell.what == "content":
				want = color.RGBA{200, 0, 0, 255}
			case (d.X+d.Y)%2 == 0:
				want = color.RGBA{255, 255, 255, 255}
			default:
				want = color.RGBA{0, 0, 255, 255}
			}
			if got != want {
				t.Errorf("%s at +%v: %v, want %v (drawn pixel for pixel)", cell.what, d, got, want)
			}
		}
	}
	// A print-size result is drawn at MaxCell on its longer side.
	big := image.NewRGBA(image.Rect(0, 0, 1200, 900))
	writePNG(filepath.Join(out, points[1].Dir, "final.png"), big, nil)
	if err := DefaultSheet.WriteContactSheet(out, p.Spec, points, rows); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(filepath.Join(out, ContactSheet))
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	// Cells 512x384: 160 + 2*(512+8) + 8 wide; 28 + (384+18+8) + 22 + (384+18+8) + 8 high.
	if err != nil || cfg.Width != 1208 || cfg.Height != 878 {
		t.Errorf("sheet with a 1200x900 result: %dx%d, %v; want 1208x878", cfg.Width, cfg.Height, err)
	}
}
