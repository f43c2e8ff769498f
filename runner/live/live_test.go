package live

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/styletransfer/gostyle/runner/sweep"
)

// fixture is a run folder as the runner writes it, grown by the test.
type fixture struct {
	t   *testing.T
	dir string
	row int
}

func newFixture(t *testing.T, dir string) *fixture {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, dir: dir}
	f.write("metrics.csv", []byte("iteration,total,content,style,tv,seconds\n"))
	return f
}

func (f *fixture) write(name string, data []byte) {
	f.t.Helper()
	// Like the runner: write a temporary file, then rename it into place.
	tmp := filepath.Join(f.dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(f.dir, name)); err != nil {
		f.t.Fatal(err)
	}
}

// rows appends n metrics rows with falling losses.
func (f *fixture) rows(n int) {
	f.t.Helper()
	file, err := os.OpenFile(filepath.Join(f.dir, "metrics.csv"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	defer file.Close()
	for i := 0; i < n; i++ {
		total := 1e6 / float64(f.row+1)
		fmt.Fprintf(file, "%d,%g,%g,%g,0,%.4f\n", f.row, total, total/100, total*0.99, float64(f.row)*0.1)
		f.row++
	}
}

// picture writes a solid-colour PNG of w x h.
func (f *fixture) picture(name string, w, h int, c color.RGBA) {
	f.t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		copy(img.Pix[i:], []byte{c.R, c.G, c.B, 255})
	}
	var b strings.Builder
	if err := png.Encode(&b, img); err != nil {
		f.t.Fatal(err)
	}
	f.write(name, []byte(b.String()))
}

func TestListenAddr(t *testing.T) {
	for in, want := range map[string]string{
		":8080":        "127.0.0.1:8080",
		"0.0.0.0:8080": "0.0.0.0:8080",
		"localhost:0":  "localhost:0",
		"[::1]:9000":   "[::1]:9000",
	} {
		if got, err := ListenAddr(in); err != nil || got != want {
			t.Errorf("ListenAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"8080", ":http-alt", ":99999", "host"} {
		if _, err := ListenAddr(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("ListenAddr(%q): error %v, want one naming it", bad, err)
		}
	}
}

// A bare port binds the loopback interface only.
func TestNewBindsLoopback(t *testing.T) {
	s, err := New(":0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Errorf("URL %s, want the loopback interface", s.URL())
	}
	if _, err := New(strings.TrimSuffix(strings.TrimPrefix(s.URL(), "http://"), "/")); err == nil {
		t.Error("a taken port gave no error")
	}
}

func TestScan(t *testing.T) {
	root := t.TempDir()
	running := newFixture(t, filepath.Join(root, "sweep", "p0.partial"))
	running.rows(3)
	running.picture("initial.png", 8, 6, color.RGBA{1, 2, 3, 255})
	running.picture("styled_0010.png", 8, 6, color.RGBA{1, 2, 3, 255})
	running.picture("styled_0002.png", 8, 6, color.RGBA{1, 2, 3, 255})
	old := newFixture(t, filepath.Join(root, "sweep", "p0")) // the previous run, being replaced
	old.rows(9)
	old.picture("final.png", 8, 6, color.RGBA{})
	done := newFixture(t, filepath.Join(root, "single"))
	done.rows(5)
	done.picture("final.png", 8, 6, color.RGBA{})
	failed := newFixture(t, filepath.Join(root, "sweep", "p1"))
	failed.write("status.json", []byte(`{"state":"failed","error":"iteration 3: loss is NaN"}`))
	os.MkdirAll(filepath.Join(root, "notes"), 0o755) // not a run folder
	points, err := scan(&tree{path: root}, newScanCache(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range points {
		got = append(got, fmt.Sprintf("%s %s %d %g %s", p.Name, p.State, p.Iteration, p.Loss, p.Picture))
	}
	want := []string{
		"single done 4 200000 final.png",
		"sweep/p0 running 2 333333.3333333333 styled_0010.png",
		"sweep/p1 failed -1 0 ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("points:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := scan(&tree{path: filepath.Join(root, "missing")}, newScanCache(), nil); err == nil {
		t.Error("a missing root gave no error")
	}
}

// readEvent reads one server-sent event's data line.
func readEvent(t *testing.T, r *bufio.Reader) []Point {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("event stream: %v", err)
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			var points []Point
			if err := json.Unmarshal([]byte(data), &points); err != nil {
				t.Fatalf("event %q: %v", data, err)
			}
			return points
		}
	}
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestHandlers(t *testing.T) {
	root := t.TempDir()
	run := newFixture(t, filepath.Join(root, "shipwreck_starry_night.partial"))
	run.rows(5)
	run.picture("styled_0005.png", 32, 24, color.RGBA{200, 0, 0, 255})
	s := newServer()
	if err := s.Watch(root); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	defer s.Close()

	resp, body := get(t, ts.URL+"/")
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("page: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{`<script id="initial" type="application/json">[{"name":"shipwreck_starry_night",`, `"iteration":4,"of":0,"loss":200000,`, "new EventSource", `src="static/uplot/uPlot.iife.min.js"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if resp, body := get(t, ts.URL+"/static/uplot/uPlot.iife.min.js"); resp.StatusCode != 200 || !strings.Contains(string(body), "uPlot") {
		t.Errorf("uPlot: %s", resp.Status)
	}

	resp, body = get(t, ts.URL+"/picture?point=shipwreck_starry_night")
	if img, err := png.Decode(strings.NewReader(string(body))); resp.StatusCode != 200 || err != nil || img.Bounds().Dx() != 32 {
		t.Errorf("picture: %s, %v", resp.Status, err)
	}
	// Scaled to 16 px on the longer side: 32x24 becomes 16x12.
	resp, body = get(t, ts.URL+"/picture?point=shipwreck_starry_night&file=styled_0005.png&max=16")
	if img, err := png.Decode(strings.NewReader(string(body))); resp.StatusCode != 200 || err != nil || img.Bounds().Dx() != 16 || img.Bounds().Dy() != 12 {
		t.Errorf("preview: %s, %v", resp.Status, err)
	}
	var m struct {
		Losses struct {
			Iteration []float64
			Series    map[string][]*float64
			Order     []string
		}
		Layers *struct{}
	}
	_, body = get(t, ts.URL+"/metrics.json?point=shipwreck_starry_night")
	if err := json.Unmarshal(body, &m); err != nil || len(m.Losses.Iteration) != 5 || *m.Losses.Series["total"][4] != 2e5 || m.Layers != nil ||
		strings.Join(m.Losses.Order, ",") != "total,content,style,tv" {
		t.Errorf("metrics.json: %s, %v", body, err)
	}
	var info struct {
		Checkpoints []struct {
			File      string
			Iteration int
		}
	}
	_, body = get(t, ts.URL+"/run.json?point=shipwreck_starry_night")
	if err := json.Unmarshal(body, &info); err != nil || len(info.Checkpoints) != 1 || info.Checkpoints[0].File != "styled_0005.png" || info.Checkpoints[0].Iteration != 5 {
		t.Errorf("run.json: %s, %v", body, err)
	}
	for _, bad := range []string{"/picture?point=../../etc", "/metrics.json?point=nope", "/picture", "/run.json?point=nope",
		"/picture?point=shipwreck_starry_night&file=metrics.csv", "/picture?point=shipwreck_starry_night&file=../x.png",
		"/picture?point=shipwreck_starry_night&file=styled_0099.png", "/sheet?sweep=nope"} {
		if resp, _ := get(t, ts.URL+bad); resp.StatusCode != 404 {
			t.Errorf("%s: %s, want 404", bad, resp.Status)
		}
	}

	// The event stream sends the state now, then after each change.
	resp, err := http.Get(ts.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("events: content type %q", ct)
	}
	events := bufio.NewReader(resp.Body)
	first := readEvent(t, events)
	if len(first) != 1 || first[0].Iteration != 4 || first[0].Picture != "styled_0005.png" || first[0].State != "running" {
		t.Fatalf("first event %+v", first)
	}
	run.rows(5)
	run.picture("styled_0010.png", 32, 24, color.RGBA{0, 200, 0, 255})
	deadline := time.Now().Add(10 * Poll)
	for {
		p := readEvent(t, events)
		if len(p) == 1 && p[0].Iteration == 9 && p[0].Picture == "styled_0010.png" {
			if p[0].PictureV == first[0].PictureV || p[0].MetricsV == first[0].MetricsV {
				t.Errorf("versions did not change: %+v then %+v", first[0], p[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no event with the new checkpoint; last %+v", p)
		}
	}
	// The run ends: the folder loses .partial and gains final.png.
	run.picture("final.png", 32, 24, color.RGBA{0, 0, 200, 255})
	if err := os.Rename(run.dir, filepath.Join(root, "shipwreck_starry_night")); err != nil {
		t.Fatal(err)
	}
	for {
		p := readEvent(t, events)
		if len(p) == 1 && p[0].State == "done" && p[0].Picture == "final.png" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no event with the finished run; last %+v", p)
		}
	}
	_, body = get(t, ts.URL+"/points.json")
	var points []Point
	if err := json.Unmarshal(body, &points); err != nil || len(points) != 1 || points[0].State != "done" {
		t.Errorf("points.json: %s %v", body, err)
	}
}

// An empty root serves a page that says so, and an empty list.
func TestEmptyRoot(t *testing.T) {
	s := newServer()
	defer s.Close()
	if err := s.Watch(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	_, body := get(t, ts.URL+"/")
	if !strings.Contains(string(body), `<script id="initial" type="application/json">[]</script>`) || !strings.Contains(string(body), "No run folders yet") {
		t.Error("empty page does not say there are no runs")
	}
	if _, body := get(t, ts.URL+"/points.json"); strings.TrimSpace(string(body)) != "[]" {
		t.Errorf("points.json %q, want []", body)
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	if err := s.Watch(file); err == nil || !strings.Contains(err.Error(), "not a folder") {
		t.Errorf("watching a file: error %v", err)
	}
	// A root that does not exist yet shows its runs once it does.
	later := filepath.Join(t.TempDir(), "later")
	if err := s.Watch(later); err != nil {
		t.Fatal(err)
	}
	newFixture(t, filepath.Join(later, "run")).rows(1)
	for deadline := time.Now().Add(10 * Poll); ; time.Sleep(Poll / 5) {
		if points, _ := s.snapshot(); len(points) == 1 && points[0].Name == "run" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a root created after Watch never showed its run")
		}
	}
}

// The view reads only regular files inside its root: links out of it (or
// in it), FIFOs and ../ names are refused, requests do not hang, and no
// error quotes a file.
func TestConfined(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "shadow")
	os.WriteFile(secret, []byte("root:SECRET-HASH:19000:0:99999:7:::\n"), 0o600)
	secretPNG := newFixture(t, filepath.Join(outside, "run"))
	secretPNG.rows(2)
	secretPNG.picture("final.png", 16, 16, color.RGBA{1, 1, 1, 255})

	root := t.TempDir()
	evil := filepath.Join(root, "evil")
	os.MkdirAll(evil, 0o755)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(secret, filepath.Join(evil, "metrics.csv")))
	must(os.Symlink(filepath.Join(outside, "run", "final.png"), filepath.Join(evil, "final.png")))
	must(os.Symlink(secret, filepath.Join(evil, "config.yaml")))
	must(os.Symlink(secret, filepath.Join(evil, "status.json")))
	// A link to a whole run outside the root is not followed.
	must(os.Symlink(filepath.Join(outside, "run"), filepath.Join(root, "linked")))
	// FIFOs where files are expected: opening one for reading would block.
	fifo := newFixture(t, filepath.Join(root, "fifo"))
	fifo.rows(3)
	for _, name := range []string{"final.png", "status.json", "config.yaml", "styled_0002.png"} {
		must(unix.Mkfifo(filepath.Join(fifo.dir, name), 0o644))
	}
	// A good run beside them, whose picture is a link inside the root.
	good := newFixture(t, filepath.Join(root, "good"))
	good.rows(2)
	good.picture("styled_0001.png", 8, 8, color.RGBA{9, 9, 9, 255})
	must(os.Symlink("styled_0001.png", filepath.Join(good.dir, "styled_0002.png")))

	s := newServer()
	must(s.Watch(root))
	ts := httptest.NewServer(s)
	defer ts.Close()
	defer s.Close()

	points, _ := s.snapshot()
	var got []string
	for _, p := range points {
		got = append(got, fmt.Sprintf("%s %s %d %q", p.Name, p.State, p.Iteration, p.Picture))
	}
	want := []string{ // evil holds no regular file: no run folder
		`fifo running 2 ""`,
		`good running 1 "styled_0001.png"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("points:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	client := &http.Client{Timeout: 5 * time.Second} // a FIFO opened for reading would hang
	for _, u := range []string{"/picture?point=evil", "/metrics.json?point=evil", "/run.json?point=evil", "/picture?point=linked",
		"/metrics.json?point=linked", "/picture?point=fifo", "/picture?point=fifo&file=final.png&max=10", "/run.json?point=fifo", "/metrics.json?point=fifo", "/picture?point=../../etc", "/picture?point=..%2Fevil",
		"/points.json", "/"} {
		resp, err := client.Get(ts.URL + u)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), "SECRET") || strings.Contains(string(body), "root:") {
			t.Errorf("%s: the answer quotes a file outside the root: %.200s", u, body)
		}
		if strings.HasPrefix(u, "/picture") {
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s: %s, want 404", u, resp.Status)
			}
		}
	}

	// A file swapped for a link or a FIFO after the scan is refused when served.
	os.Remove(filepath.Join(good.dir, "styled_0001.png"))
	must(os.Symlink(filepath.Join(outside, "run", "final.png"), filepath.Join(good.dir, "styled_0001.png")))
	if resp, err := client.Get(ts.URL + "/picture?point=good"); err != nil || resp.StatusCode != 404 {
		t.Errorf("a picture swapped for a link out of the root: %v %v", resp.Status, err)
	}
	os.Remove(filepath.Join(good.dir, "styled_0001.png"))
	must(unix.Mkfifo(filepath.Join(good.dir, "styled_0001.png"), 0o644))
	if resp, err := client.Get(ts.URL + "/picture?point=good"); err != nil || resp.StatusCode != 404 {
		t.Errorf("a picture swapped for a FIFO: %v %v", resp, err)
	}
}

// A sweep being run shows every point from the start (Expect), pending
// ones with their planned iterations; a finished sweep's summary.json tells
// the same to a viewer started later.
func TestSweepPoints(t *testing.T) {
	root := t.TempDir()
	sweepDir := filepath.Join(root, "grid")
	newFixture(t, filepath.Join(sweepDir, "000-a.partial")).rows(3)
	s := newServer()
	defer s.Close()
	if err := s.Watch(sweepDir); err != nil {
		t.Fatal(err)
	}
	s.Expect(sweepDir, []sweep.Row{
		{Index: 0, Dir: "000-a", Overrides: []string{"seed=1"}, Iterations: 10},
		{Index: 1, Dir: "001-b", Overrides: []string{"seed=2"}, Iterations: 10},
		{Index: 2, Dir: "../escape", Iterations: 10}, // not a plain folder name: left out
	})
	points, _ := s.snapshot()
	var got []string
	for _, p := range points {
		got = append(got, fmt.Sprintf("%s %s %d %d %s %d %v", p.Name, p.Sweep, p.Index, p.Iteration, p.State, p.Of, p.Overrides))
	}
	want := "000-a grid 0 2 running 0 [seed=1]|001-b grid 1 -1 pending 10 [seed=2]"
	if strings.Join(got, "|") != want {
		t.Errorf("points:\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
	// No file is read for a pending point, whatever its name.
	ts := httptest.NewServer(s)
	defer ts.Close()
	for _, u := range []string{"/picture?point=../escape", "/picture?point=001-b"} {
		if resp, _ := get(t, ts.URL+u); resp.StatusCode != 404 {
			t.Errorf("%s: %s, want 404", u, resp.Status)
		}
	}

	// A viewer started later over the output root reads summary.json.
	os.WriteFile(filepath.Join(sweepDir, "summary.json"), []byte(`[{"index":0,"dir":"000-a","overrides":["seed=1"]},{"index":1,"dir":"001-b","overrides":["seed=2"]},{"index":2,"dir":"../../etc"}]`), 0o644)
	later, err := scan(&tree{path: root}, newScanCache(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, p := range later {
		got = append(got, fmt.Sprintf("%s %s %d %s", p.Name, p.Sweep, p.Index, p.State))
	}
	if want := "grid/000-a grid 0 running|grid/001-b grid 1 pending"; strings.Join(got, "|") != want {
		t.Errorf("from summary.json:\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
}

// A picture whose header claims more pixels than a preview decodes (a
// picture bomb) is refused from its header, before any decoding.
func TestPreviewRefusesBombs(t *testing.T) {
	root := t.TempDir()
	run := newFixture(t, filepath.Join(root, "run"))
	run.rows(1)
	var b strings.Builder
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1)))
	data := []byte(b.String())
	// IHDR: 8-byte signature, length, "IHDR", width, height, ...; then its CRC.
	binary.BigEndian.PutUint32(data[16:], 60000)
	binary.BigEndian.PutUint32(data[20:], 60000)
	binary.BigEndian.PutUint32(data[29:], crc32.ChecksumIEEE(data[12:29]))
	run.write("styled_0001.png", data)
	s := newServer()
	defer s.Close()
	if err := s.Watch(root); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	start := time.Now()
	if resp, _ := get(t, ts.URL+"/picture?point=run&max=200"); resp.StatusCode != 404 {
		t.Errorf("a 3.6 GP picture: %s, want 404", resp.Status)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusing it took %v", d)
	}
}
