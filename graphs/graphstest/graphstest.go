// Package graphstest finds what the project's tests need outside Go: the
// repository root and the project-local Python that holds NumPy and TensorFlow.
package graphstest

import (
	"os"
	"path/filepath"
	"testing"
)

// Root returns the repository root (the folder holding go.mod).
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}

// Python returns the project venv's interpreter ($STYLE_PYTHON overrides it).
// A missing venv is a failure, not a skip: `make test` always creates it.
func Python(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("STYLE_PYTHON"); p != "" {
		return p
	}
	p := filepath.Join(Root(t), ".venv", "bin", "python")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no project Python at %s: run `make setup` (or set STYLE_PYTHON)", p)
	}
	return p
}

// Path returns a path under the repository root.
func Path(t testing.TB, elem ...string) string {
	return filepath.Join(append([]string{Root(t)}, elem...)...)
}

// TinyModel is the committed VGG19 export with layer widths divided by 16.
func TinyModel(t testing.TB) string { return Path(t, "testdata", "vgg19-tiny") }

// Picture returns one of the committed test pictures (testdata/images).
func Picture(t testing.TB, name string) string { return Path(t, "testdata", "images", name) }

// Gram is the reference F^T F, in float64, of one activation [h][w][c]
// (F the activation as an (h*w, c) matrix), written from the seed's formula.
func Gram(act [][][]float32) [][]float64 {
	c := len(act[0][0])
	g := make([][]float64, c)
	for i := range g {
		g[i] = make([]float64, c)
	}
	for _, row := range act {
		for _, px := range row {
			for i := range c {
				for j := range c {
					g[i][j] += float64(px[i]) * float64(px[j])
				}
			}
		}
	}
	return g
}

// EndToEnd skips t unless CI=true: the slowest end-to-end cases (many runner
// processes, signals, full sweeps) run under .ci/run, which sets it, so that
// `make test` stays under ten minutes on two busy cores. `CI=true make test` runs
// everything.
func EndToEnd(t testing.TB) {
	t.Helper()
	if os.Getenv("CI") != "true" {
		t.Skip("slow end-to-end case: runs with CI=true (.ci/run, or CI=true make test)")
	}
}
