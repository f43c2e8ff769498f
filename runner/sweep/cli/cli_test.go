package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/styletransfer/gostyle/runner/config"
	"github.com/styletransfer/gostyle/runner/sweep"
)

const sweepConfig = `model: testdata/vgg19-tiny
content: testdata/images/shipwreck.jpg
style: testdata/images/starry_night.jpg
iterations: 3
sweep:
  name: t
  grid:
    style_weight: [5, 50]
    seed: [1, 2]
slurm:
  partition: gpu
  parallel: 2
k8s:
  image: img
  pvc: claim
`

// marker is the fixture status marker the run function below writes.
func marker(dir string) (string, string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return "", "", err
	}
	f := strings.Fields(string(b))
	return f[0], f[1], nil
}

type fixture struct {
	ran  []int
	fail map[int]bool
}

// run writes what a finished run leaves: marker, metrics, a real PNG.
func (fx *fixture) run(ctx context.Context, p sweep.Point, _ []sweep.Point) (sweep.PointResult, error) {
	cfg := p.Config
	fx.ran = append(fx.ran, p.Index)
	dir := filepath.Join(cfg.Output, cfg.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return sweep.PointResult{}, err
	}
	if fx.fail[p.Index] {
		os.WriteFile(filepath.Join(dir, "status"), []byte("failed "+p.ID), 0o644)
		return sweep.PointResult{}, errors.New("boom")
	}
	metrics := fmt.Sprintf("iteration,total,content,style,tv,seconds\n0,9,1,8,0,0.5\n%d,%g,1,%g,0,1.5\n", cfg.Iterations, cfg.StyleWeight+1, cfg.StyleWeight)
	os.WriteFile(filepath.Join(dir, "metrics.csv"), []byte(metrics), 0o644)
	img := image.NewGray(image.Rect(0, 0, 8, 6))
	for i := range img.Pix {
		img.Pix[i] = uint8(cfg.Seed * 100)
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	os.WriteFile(filepath.Join(dir, "final.png"), b.Bytes(), 0o644)
	return sweep.PointResult{}, os.WriteFile(filepath.Join(dir, "status"), []byte("done "+p.ID), 0o644)
}

func env(t *testing.T, out string, fx *fixture, stdout *bytes.Buffer) Env {
	return Env{ConfigArg: "s.yaml", Source: config.Source{Name: "s.yaml", Data: []byte(sweepConfig)},
		Sets: []string{"iterations=4"}, Out: out, Stdout: stdout, Status: marker, Run: fx.run}
}

func parse(t *testing.T, args ...string) Flags {
	t.Helper()
	var f Flags
	fs := flag.NewFlagSet("runner", flag.ContinueOnError)
	f.Register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestList(t *testing.T) {
	var out bytes.Buffer
	fx := &fixture{}
	if err := parse(t, "-list").Main(context.Background(), env(t, t.TempDir(), fx, &out)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || len(fx.ran) != 0 {
		t.Fatalf("-list printed %d lines and ran %v:\n%s", len(lines), fx.ran, out.String())
	}
	for i, want := range []string{"style_weight=5 seed=1", "style_weight=5 seed=2", "style_weight=50 seed=1", "style_weight=50 seed=2"} {
		f := strings.Split(lines[i], "\t")
		if len(f) != 3 || f[0] != fmt.Sprint(i) || len(f[1]) != 12 || f[2] != want {
			t.Errorf("line %d: %q, want %d<TAB>id<TAB>%s", i, lines[i], i, want)
		}
	}
}

func TestRunAllThenResumeThenIndex(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	fx := &fixture{fail: map[int]bool{2: true}}
	err := parse(t).Main(context.Background(), env(t, dir, fx, &out))
	if err == nil || !strings.Contains(err.Error(), "1 of 4 points failed: 2 (002-style_weight=50-seed=1)") {
		t.Fatalf("err %v", err)
	}
	if fmt.Sprint(fx.ran) != "[0 1 2 3]" {
		t.Fatalf("ran %v", fx.ran)
	}
	csv, err := os.ReadFile(filepath.Join(dir, sweep.SummaryCSV))
	if err != nil || !strings.Contains(string(csv), "002-style_weight=50-seed=1,style_weight=50 seed=1,failed,") ||
		!strings.Contains(string(csv), "003-style_weight=50-seed=2,style_weight=50 seed=2,done,4,51,1,50,0,1.500,0.2500,") {
		t.Fatalf("summary.csv after a failure (err %v):\n%s", err, csv)
	}
	if _, err := os.Stat(filepath.Join(dir, sweep.ContactSheet)); err != nil {
		t.Fatal(err)
	}

	fx.ran, fx.fail = nil, nil
	if err := parse(t).Main(context.Background(), env(t, dir, fx, &out)); err != nil || fmt.Sprint(fx.ran) != "[2]" {
		t.Fatalf("second run ran %v (err %v), want only the failed point 2", fx.ran, err)
	}

	// -index on a done point: nothing runs and the summary is left alone.
	fx.ran = nil
	os.Remove(filepath.Join(dir, sweep.SummaryCSV))
	out.Reset()
	if err := parse(t, "-index", "1").Main(context.Background(), env(t, dir, fx, &out)); err != nil || len(fx.ran) != 0 {
		t.Fatalf("-index 1 ran %v (err %v)", fx.ran, err)
	}
	if _, err := os.Stat(filepath.Join(dir, sweep.SummaryCSV)); err == nil {
		t.Errorf("-index on a done point rewrote the summary")
	}
	if !strings.Contains(out.String(), "done already") {
		t.Errorf("output %q", out.String())
	}
	// -summary rebuilds it from the folders.
	out.Reset()
	if err := parse(t, "-summary").Main(context.Background(), env(t, dir, fx, &out)); err != nil || !strings.Contains(out.String(), "4 points: 4 done") {
		t.Fatalf("-summary: %v\n%s", err, out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, sweep.SummaryCSV)); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := parse(t, "-status").Main(context.Background(), env(t, dir, fx, &out)); err != nil || strings.Count(out.String(), "done") != 5 {
		t.Fatalf("-status: %v\n%s", err, out.String())
	}
	if err := parse(t, "-index", "4").Main(context.Background(), env(t, dir, fx, &out)); err == nil || !strings.Contains(err.Error(), "-index 4: out of range") {
		t.Fatalf("-index 4: %v", err)
	}
}

func TestClusterOutputs(t *testing.T) {
	var out bytes.Buffer
	e := env(t, "/scratch/o", &fixture{}, &out)
	if err := parse(t, "-slurm-dry-run", "-slurm-parallel", "3").Main(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"#SBATCH --array=0-3%3\n", "#SBATCH --partition=gpu\n", "#SBATCH --output=/scratch/o/slurm/%A_%a.out\n",
		` -config s.yaml -set iterations=4 -out /scratch/o -index "$SLURM_ARRAY_TASK_ID" &`} {
		if !strings.Contains(s, want) {
			t.Errorf("dry run lacks %q:\n%s", want, s)
		}
	}
	if _, err := os.Stat("/scratch/o"); err == nil {
		t.Errorf("dry run created the output folder")
	}
	out.Reset()
	if err := parse(t, "-k8s").Main(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"completionMode: Indexed", "completions: 4", "parallelism: 4", "claimName: claim",
		"- -config\n", "- /etc/gostyle/s.yaml\n", "- -set\n", "- iterations=4\n", "- /results/o\n", "- $(JOB_COMPLETION_INDEX)\n",
		"kind: ConfigMap", "  s.yaml: |\n    model: testdata/vgg19-tiny\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("manifest lacks %q:\n%s", want, out.String())
		}
	}
}

// Issue 26 point 7: the hints after -slurm keep the -set and -out the sweep
// was submitted with, and name the command that resubmits one point.
func TestSlurmHintsKeepSetAndOut(t *testing.T) {
	bin := t.TempDir()
	os.WriteFile(filepath.Join(bin, "sbatch"), []byte("#!/bin/bash\necho 99\n"), 0o755)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	var out bytes.Buffer
	o := t.TempDir()
	e := env(t, o, &fixture{}, &out)
	e.Sets = []string{"iterations=4", "style=[a.jpg, b.jpg]"}
	if err := parse(t, "-slurm").Main(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"follow with: runner -config s.yaml -set iterations=4 -set 'style=[a.jpg, b.jpg]' -out " + o + " -status\n",
		"resubmit point I alone: sbatch --array=I " + filepath.Join(o, "slurm", "sweep.sbatch") + "\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-slurm printed\n%s\nwant a line %q", out.String(), want)
		}
	}
}

func TestFlagMistakes(t *testing.T) {
	var out bytes.Buffer
	e := env(t, t.TempDir(), &fixture{}, &out)
	if err := parse(t, "-list", "-status").Main(context.Background(), e); err == nil || !strings.Contains(err.Error(), "one at a time") {
		t.Errorf("-list -status: %v", err)
	}
	if !parse(t, "-index", "0").Any() || parse(t).Any() {
		t.Errorf("Any")
	}
	if !IsSweep([]byte(sweepConfig)) || IsSweep([]byte("model: m\nsweeps: 1\n")) || IsSweep([]byte(":")) {
		t.Errorf("IsSweep")
	}
}
