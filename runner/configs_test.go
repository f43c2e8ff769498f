package runner

import (
	"context"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/styletransfer/gostyle/graphs"
	"github.com/styletransfer/gostyle/graphs/graphstest"
	"github.com/styletransfer/gostyle/runner/config"
	"github.com/styletransfer/gostyle/runner/sweep"
	"github.com/styletransfer/gostyle/runner/sweep/cli"
)

// tinyFor is the tiny test model standing in for a config's model.
func tinyFor(cfg config.Config) string {
	switch {
	case strings.Contains(cfg.Model, "vgg16"):
		return "testdata/vgg16-tiny"
	case cfg.Pooling == "max":
		return "testdata/vgg19-tiny-max"
	}
	return "testdata/vgg19-tiny"
}

// Every config under configs/experiments/ runs, as written, on the tiny
// model of its architecture and pooling, small and short.
func TestEveryExperimentConfigRuns(t *testing.T) {
	graphstest.EndToEnd(t)
	root := graphstest.Root(t)
	t.Chdir(root) // configs name their pictures from the repository root
	files, err := filepath.Glob(filepath.Join("configs", "experiments", "*.yaml"))
	if err != nil || len(files) < 10 {
		t.Fatalf("configs: %v %v", files, err)
	}
	models := map[string]*graphs.Model{}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := config.Find(file, "configs", nil)
			if err != nil {
				t.Fatal(err)
			}
			// A sweep runs its first and last points; a config, itself.
			var points [][]string
			base := src
			if cli.IsSweep(src.Data) {
				spec, err := sweep.Parse(src.Name, src.Data)
				if err != nil {
					t.Fatal(err)
				}
				plan, err := sweep.Load(src, nil, "")
				if err != nil {
					t.Fatal(err)
				}
				base = config.Source{Name: src.Name, Data: spec.Base}
				for _, i := range []int{0, plan.Len() - 1} {
					p, err := plan.Point(i)
					if err != nil {
						t.Fatal(err)
					}
					points = append(points, p.Overrides())
				}
			} else {
				points = [][]string{nil}
			}
			for _, overrides := range points {
				cfg, err := config.Load(base, overrides)
				if err != nil {
					t.Fatal(err)
				}
				tiny := tinyFor(cfg)
				if _, err := os.Stat(tiny); err != nil {
					t.Fatalf("%s needs the tiny model %s: %v", file, tiny, err)
				}
				cfg, err = config.Load(base, append(overrides, "model="+tiny, "output="+t.TempDir(), "width=24", "height=18",
					"max_size=0", "scales=[]", "scale_iterations=[]", "iterations=2", "checkpoint_every=1", "max_evaluations=3", "log_every=0"))
				if err != nil {
					t.Fatal(err)
				}
				m := models[tiny]
				if m == nil {
					if m, err = graphs.Load(tiny); err != nil {
						t.Fatal(err)
					}
					models[tiny] = m
				}
				res, err := Run(context.Background(), cfg, m, io.Discard)
				if err != nil {
					t.Fatalf("%v: %v", overrides, err)
				}
				// Two steps prove it runs; a large learning rate (neural-style's 10)
				// may raise the loss at first, so only finiteness is asserted.
				if l := float64(res.Last.Total); res.Iterations != 2 || math.IsNaN(l) || math.IsInf(l, 0) || l <= 0 {
					t.Errorf("%v: %d iterations, loss %g -> %g", overrides, res.Iterations, res.Initial.Total, res.Last.Total)
				}
			}
		})
	}
}
