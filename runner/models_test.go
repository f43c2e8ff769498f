package runner

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/styletransfer/gostyle/graphs"
	"github.com/styletransfer/gostyle/graphs/graphstest"
	"github.com/styletransfer/gostyle/runner/config"
	"github.com/styletransfer/gostyle/runner/sweep"
	"github.com/styletransfer/gostyle/runner/sweep/cli"
)

// Every model a shipped config names (every sweep point's too) is one `make models`
// makes, `make <model>` exports exactly it, and the runner's "no such folder" error for
// it names that command.
func TestShippedModels(t *testing.T) {
	root := graphstest.Root(t)
	t.Chdir(root)
	makefile, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^MODELS := (.*)$`).FindSubmatch(makefile)
	if line == nil {
		t.Fatal("Makefile: no MODELS := line")
	}
	made := strings.Fields(string(line[1]))

	files, _ := filepath.Glob(filepath.Join("configs", "*.yaml"))
	more, _ := filepath.Glob(filepath.Join("configs", "experiments", "*.yaml"))
	files = append(files, more...)
	if len(files) < 10 {
		t.Fatalf("configs: %v", files)
	}
	named := map[string]string{} // model -> a config naming it
	for _, file := range files {
		src, err := config.Find(file, "configs", nil)
		if err != nil {
			t.Fatal(err)
		}
		if !cli.IsSweep(src.Data) {
			cfg, err := config.Load(src, nil)
			if err != nil {
				t.Fatal(err)
			}
			named[cfg.Model] = file
			continue
		}
		plan, err := sweep.Load(src, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		points, err := plan.All(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range points { // each point carries its resolved config
			named[p.Config.Model] = file
		}
	}
	if len(named) < 2 {
		t.Fatalf("models named by the configs: %v", named)
	}
	for model, file := range named {
		if !slices.Contains(made, model) {
			t.Errorf("%s names %s, which the Makefile's MODELS (make models) lacks: %v", file, model, made)
		}
	}

	// -B: what the rule runs whether or not the models exist already (-n: nothing runs).
	dry, err := exec.Command("make", "-n", "-B", "models").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n models: %v\n%s", err, dry)
	}
	empty := t.TempDir()
	for _, model := range made {
		if !strings.Contains(string(dry), "--out "+model+" ") {
			t.Errorf("make -n models does not export %s:\n%s", model, dry)
		}
		one, err := exec.Command("make", "-n", "-B", model).CombinedOutput()
		if err != nil || !strings.Contains(string(one), "--out "+model+" ") {
			t.Errorf("make -n %s: %v\n%s", model, err, one)
		}
		_, err = graphs.Load(filepath.Join(empty, model))
		if want := "no such folder (make it with `make " + model + "`"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("load a missing %s: %v, want %q", model, err, want)
		}
	}
}
