package live

import (
	"bytes"
	"embed"
	"encoding/json"
	"image"
	"image/png"
	"io/fs"
	"math"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/image/draw"

	"github.com/styletransfer/gostyle/runner/report"
	"github.com/styletransfer/gostyle/runner/sweep"
)

//go:embed static
var staticFS embed.FS

// The JSON the run page reads, beside the points of /events.

// curves is a CSV's columns for the page's charts: non-finite values are
// null (JSON has no NaN).
type curves struct {
	Iteration []float64             `json:"iteration"`
	Series    map[string][]*float64 `json:"series"`
	Order     []string              `json:"order"` // the series in the file's order
}

func toCurves(m *report.Metrics) curves {
	c := curves{Iteration: m.Iteration, Series: map[string][]*float64{}}
	for _, s := range m.Series {
		vs := make([]*float64, len(s.Values))
		for i := range s.Values {
			if v := s.Values[i]; !math.IsNaN(v) && !math.IsInf(v, 0) {
				vs[i] = &s.Values[i]
			}
		}
		c.Series[s.Name], c.Order = vs, append(c.Order, s.Name)
	}
	return c
}

// metricsJSON serves a point's losses (metrics.csv) and per-layer terms
// (layers.csv), either absent when the file is.
func (s *Server) metricsJSON(w http.ResponseWriter, r *http.Request) {
	p, ok := s.find(r.URL.Query().Get("point"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	var out struct {
		Losses *curves `json:"losses"`
		Layers *curves `json:"layers"`
	}
	if data, err := p.readFile("metrics.csv", maxMetricsBytes); err == nil {
		if m, err := report.ReadMetrics(bytes.NewReader(data)); err == nil {
			c := toCurves(m)
			out.Losses = &c
		}
	}
	if data, err := p.readFile("layers.csv", maxMetricsBytes); err == nil {
		if m, err := report.ReadLayers(bytes.NewReader(data)); err == nil {
			c := toCurves(m)
			out.Layers = &c
		}
	}
	writeJSON(w, out)
}

// picture is one picture a run folder holds, as the run page lists it.
type picture struct {
	File      string `json:"file"`
	Iteration int    `json:"iteration"` // -1 for initial.png; the run's last for final.png
	V         string `json:"v"`
}

// runInfo is what the run page shows besides the point and its curves.
type runInfo struct {
	Point       Point     `json:"point"`
	Checkpoints []picture `json:"checkpoints"` // initial, styled_* by iteration, final
	Inputs      []picture `json:"inputs"`      // content.png, style*.png
	Config      string    `json:"config"`      // config.yaml as the run wrote it
	Weights     string    `json:"weights"`     // its "# model:" line: the model and its weights
}

// runJSON serves a run folder's pictures, config and weights.
func (s *Server) runJSON(w http.ResponseWriter, r *http.Request) {
	p, ok := s.find(r.URL.Query().Get("point"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	info := runInfo{Point: p, Checkpoints: []picture{}, Inputs: []picture{}}
	if root, err := p.tree.open(); err == nil && p.dir != "" {
		entries, _ := fs.ReadDir(root.FS(), p.dir)
		for _, e := range entries {
			if !e.Type().IsRegular() {
				continue
			}
			name := e.Name()
			pic := picture{File: name, V: version(e)}
			switch it, ok := checkpoint(name); {
			case ok:
				pic.Iteration = it
				info.Checkpoints = append(info.Checkpoints, pic)
			case name == "initial.png":
				pic.Iteration = -1
				info.Checkpoints = append(info.Checkpoints, pic)
			case name == "final.png":
				pic.Iteration = math.MaxInt
				info.Checkpoints = append(info.Checkpoints, pic)
			case name == "content.png" || strings.HasPrefix(name, "style") && strings.HasSuffix(name, ".png") && !strings.HasPrefix(name, "styled_"):
				info.Inputs = append(info.Inputs, pic)
			}
		}
		slices.SortStableFunc(info.Checkpoints, func(a, b picture) int { return a.Iteration - b.Iteration })
		for i := range info.Checkpoints {
			if info.Checkpoints[i].File == "final.png" {
				info.Checkpoints[i].Iteration = max(p.Iteration, p.Of)
			}
		}
		if cfg, err := p.readFile("config.yaml", maxTextBytes); err == nil {
			info.Config = string(cfg)
			for _, line := range strings.Split(info.Config, "\n") {
				if m, ok := strings.CutPrefix(line, "# model: "); ok {
					info.Weights = m
				}
			}
		}
	}
	writeJSON(w, info)
}

// pictureName reports whether name is a picture the viewer serves from a
// run folder: a checkpoint, the inputs, the reports.
func pictureName(name string) bool {
	if name != path.Base(name) || !strings.HasSuffix(name, ".png") || strings.HasPrefix(name, ".") {
		return false
	}
	if _, ok := checkpoint(name); ok {
		return true
	}
	switch name {
	case "initial.png", "final.png", "content.png", "compare.png", "loss.png", sweep.ContactSheet:
		return true
	}
	return strings.HasPrefix(name, "style")
}

// previewPixels bounds what the preview scaler decodes: a 24 MP print is
// 24e6; far beyond is a picture bomb, served as it is or not at all.
const previewPixels = 120_000_000

// preview serves name from p's folder scaled to at most maxSide pixels on
// its longer side, if it is larger: a print-size picture goes to the page
// as a small PNG, not 100 MB. Previews are cached by file version.
func (s *Server) preview(w http.ResponseWriter, r *http.Request, p Point, name string, maxSide int) {
	f, fi, ok := s.openServed(w, r, p, name)
	if !ok {
		return
	}
	defer f.Close()
	key := p.tree.path + "\x00" + p.dir + "\x00" + name + "@" + strconv.Itoa(maxSide) + "@" + fi.ModTime().String() + strconv.FormatInt(fi.Size(), 10)
	s.mu.Lock()
	data, ok := s.previews[key]
	s.mu.Unlock()
	if !ok {
		cfg, err := png.DecodeConfig(f)
		if err != nil || cfg.Width*cfg.Height > previewPixels {
			http.Error(w, "not found: "+name+" is not a PNG the viewer scales", http.StatusNotFound)
			return
		}
		if max(cfg.Width, cfg.Height) <= maxSide {
			f.Seek(0, 0)
			w.Header().Set("Cache-Control", "max-age=3600")
			http.ServeContent(w, r, name, fi.ModTime(), f)
			return
		}
		f.Seek(0, 0)
		scaling <- struct{}{} // a 24 MP picture decodes to about 100 MB: two at a time
		defer func() { <-scaling }()
		img, err := png.Decode(f)
		if err != nil {
			http.Error(w, "not found: "+name+" is not a whole PNG", http.StatusNotFound)
			return
		}
		b := img.Bounds()
		scale := float64(maxSide) / float64(max(b.Dx(), b.Dy()))
		dst := image.NewNRGBA(image.Rect(0, 0, max(1, int(float64(b.Dx())*scale+0.5)), max(1, int(float64(b.Dy())*scale+0.5))))
		draw.CatmullRom.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
		var buf bytes.Buffer
		if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, dst); err != nil {
			http.Error(w, "preview: "+err.Error(), http.StatusInternalServerError)
			return
		}
		data = buf.Bytes()
		s.mu.Lock()
		if len(s.previews) >= maxPreviews {
			clear(s.previews) // a simple bound: previews are cheap to make again
		}
		s.previews[key] = data
		s.mu.Unlock()
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "max-age=3600")
	w.Write(data)
}

// maxPreviews bounds the cache of scaled pictures.
const maxPreviews = 256

// scaling bounds the pictures decoded for previews at once.
var scaling = make(chan struct{}, 2)

// sheet serves a sweep's contact sheet (scaled to max, default 2048 px).
func (s *Server) sheet(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("sweep")
	points, _ := s.snapshot()
	for _, p := range points {
		if p.Sweep == name && p.dir != "" {
			dir := path.Dir(p.dir)
			if p.dir == "." { // a lone run as root cannot be a sweep's point
				continue
			}
			s.preview(w, r, Point{Name: name, tree: p.tree, dir: dir}, sweep.ContactSheet, sideParam(r, 2048))
			return
		}
	}
	http.NotFound(w, r)
}

// sideParam is the request's max (longest side in pixels), else def; 0
// asks for the file as it is.
func sideParam(r *http.Request, def int) int {
	v := r.URL.Query().Get("max")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return def
	}
	return n
}

func writeJSON(w http.ResponseWriter, v any) {
	js, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "json: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(append(js, '\n'))
}
