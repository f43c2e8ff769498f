package sweep

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// markerReader reads the fixture status marker "<state> <id>" in a file
// named status; the runner wires the run-folder package's reader instead.
func markerReader(dir string) (string, string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return "", "", err
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return "", "", fmt.Errorf("bad marker %q", b)
	}
	return f[0], f[1], nil
}

// fixtureRun writes a run folder as a finished run leaves it: marker,
// metrics (with an extra column, columns in another order), model.json and
// a real final.png of one colour.
func fixtureRun(t *testing.T, dir, state, id string, iters int, col color.Color) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var m strings.Builder
	m.WriteString("iteration,seconds,total,content,style,tv,lr\n")
	for it := 0; it <= iters; it++ {
		// seconds: 2 s for the first iteration, then 0.25 s each
		fmt.Fprintf(&m, "%d,%.4f,%g,%g,%g,%g,0.1\n", it, 2+0.25*float64(it), 100/float64(it+1), 10/float64(it+1), 80/float64(it+1), 10/float64(it+1))
	}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("metrics.csv", m.String())
	write("status", state+" "+id)
	write("model.json", `{"arch": "vgg19", "weights": "random", "weights_source": "he-normal seed 0", "pooling": "avg"}`)
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := 0; y < 48; y++ {
		for x := 0; x < 64; x++ {
			img.Set(x, y, col)
		}
	}
	f, err := os.Create(filepath.Join(dir, "final.png"))
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

type runLog struct {
	ran  []int
	fail map[int]bool
	out  string
}

func (l *runLog) run(t *testing.T) RunFunc {
	return func(ctx context.Context, p Point) (PointResult, error) {
		l.ran = append(l.ran, p.Index)
		dir := filepath.Join(l.out, p.Dir)
		if l.fail[p.Index] {
			os.MkdirAll(dir, 0o755)
			os.WriteFile(filepath.Join(dir, "status"), []byte("failed "+p.ID), 0o644)
			return PointResult{}, errors.New("model exploded")
		}
		fixtureRun(t, dir, Done, p.ID, 4, color.RGBA{uint8(40 * p.Index), 200, 100, 255})
		return PointResult{}, nil
	}
}

func TestRunResumesAndReportsFailures(t *testing.T) {
	p := mustLoad(t, base+"sweep:\n  grid:\n    seed: [1, 2, 3, 4]\n")
	out := t.TempDir()
	l := &runLog{out: out, fail: map[int]bool{1: true, 3: true}}
	opts := Options{Output: out, Status: markerReader}
	outcomes, err := Run(context.Background(), all(t, p), l.run(t), opts)
	if err == nil || !strings.Contains(err.Error(), "2 of 4 points failed") ||
		!strings.Contains(err.Error(), "1 ("+all(t, p)[1].Dir+")") || !strings.Contains(err.Error(), "3 ("+all(t, p)[3].Dir+")") {
		t.Fatalf("error %v: want one naming points 1 and 3", err)
	}
	if fmt.Sprint(l.ran) != "[0 1 2 3]" || len(outcomes) != 4 || outcomes[1].State != Failed || outcomes[2].State != Done {
		t.Fatalf("ran %v, outcomes %+v: a failing point must not stop the others", l.ran, outcomes)
	}

	// Again: done points are skipped, failed ones rerun.
	l.ran, l.fail = nil, nil
	outcomes, err = Run(context.Background(), all(t, p), l.run(t), opts)
	if err != nil || fmt.Sprint(l.ran) != "[1 3]" || outcomes[0].State != Skipped || outcomes[1].State != Done {
		t.Fatalf("second run: ran %v, err %v, outcomes %+v; want only 1 and 3 rerun", l.ran, err, outcomes)
	}
	// Once more: nothing to do.
	l.ran = nil
	if _, err := Run(context.Background(), all(t, p), l.run(t), opts); err != nil || len(l.ran) != 0 {
		t.Fatalf("third run ran %v (err %v), want nothing", l.ran, err)
	}

	// A folder done with another config (the sweep changed) runs again,
	// and so do running or interrupted ones.
	os.WriteFile(filepath.Join(out, all(t, p)[2].Dir, "status"), []byte("done 000000000000"), 0o644)
	os.WriteFile(filepath.Join(out, all(t, p)[0].Dir, "status"), []byte("interrupted "+all(t, p)[0].ID), 0o644)
	if _, err := Run(context.Background(), all(t, p), l.run(t), opts); err != nil || fmt.Sprint(l.ran) != "[0 2]" {
		t.Fatalf("ran %v (err %v), want the interrupted point 0 and the stale point 2", l.ran, err)
	}
}

func TestRunIndex(t *testing.T) {
	p := mustLoad(t, base+"sweep:\n  grid:\n    seed: [1, 2, 3]\n")
	out := t.TempDir()
	l := &runLog{out: out}
	opts := Options{Output: out, Status: markerReader, Total: p.Len()}
	pt, err := p.Point(2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), []Point{pt}, l.run(t), opts); err != nil || fmt.Sprint(l.ran) != "[2]" {
		t.Fatalf("-index 2 ran %v, err %v", l.ran, err)
	}
	l.ran = nil
	o, err := Run(context.Background(), []Point{pt}, l.run(t), opts)
	if err != nil || len(l.ran) != 0 || o[0].State != Skipped {
		t.Fatalf("-index 2 again ran %v (err %v, %+v): a done point is a no-op", l.ran, err, o)
	}
}

func TestRunStopsWhenCancelled(t *testing.T) {
	p := mustLoad(t, base+"sweep:\n  grid:\n    seed: [1, 2, 3]\n")
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var ran []int
	run := func(ctx context.Context, pt Point) (PointResult, error) {
		ran = append(ran, pt.Index)
		cancel() // SIGTERM arrives during point 0
		return PointResult{Interrupted: true}, nil
	}
	_, err := Run(ctx, all(t, p), run, Options{Output: out, Status: markerReader})
	if !errors.Is(err, context.Canceled) || fmt.Sprint(ran) != "[0]" {
		t.Fatalf("ran %v, err %v: want a stop after point 0", ran, err)
	}
}

// Issue 26 point 6: a point another runner holds (two sweeps on one
// output) is left to it, not counted failed.
func TestRunLeavesBusyPointsToTheirRunner(t *testing.T) {
	p := mustLoad(t, base+"sweep:\n  grid:\n    seed: [1, 2, 3]\n")
	out := t.TempDir()
	l := &runLog{out: out}
	run := func(ctx context.Context, pt Point) (PointResult, error) {
		if pt.Index == 1 {
			return PointResult{Busy: true}, nil
		}
		return l.run(t)(ctx, pt)
	}
	o, err := Run(context.Background(), all(t, p), run, Options{Output: out, Status: markerReader})
	if err != nil || fmt.Sprint(l.ran) != "[0 2]" || o[1].State != Busy {
		t.Fatalf("ran %v, err %v, outcomes %+v: want points 0 and 2 run, 1 busy, no error", l.ran, err, o)
	}
}

func TestRunUnreadableMarkerFailsThatPoint(t *testing.T) {
	p := mustLoad(t, base+"sweep:\n  grid:\n    seed: [1, 2]\n")
	out := t.TempDir()
	os.MkdirAll(filepath.Join(out, all(t, p)[0].Dir), 0o755)
	os.WriteFile(filepath.Join(out, all(t, p)[0].Dir, "status"), []byte("garbage"), 0o644)
	l := &runLog{out: out}
	_, err := Run(context.Background(), all(t, p), l.run(t), Options{Output: out, Status: markerReader})
	if err == nil || !strings.Contains(err.Error(), "1 of 2 points failed: 0 (") || fmt.Sprint(l.ran) != "[1]" {
		t.Fatalf("ran %v, err %v", l.ran, err)
	}
	if _, _, err := markerReader(filepath.Join(out, "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("fixture reader: %v", err)
	}
}
