package runner

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/styletransfer/gostyle/runner/config"

	"github.com/styletransfer/gostyle/runner/picture"
)

// folder is a run folder being written: <dir>.partial until finish renames
// it, so a folder without the suffix is always complete.
type folder struct {
	dir, partial string
	caption      map[string]string
	mean         [3]float32
}

// openFolder creates the partial folder and writes the record of the run:
// the resolved config and the model's metadata.
func openFolder(ex *experiment) (*folder, error) {
	f := &folder{dir: ex.dir, partial: ex.dir + ".partial", mean: ex.mean,
		caption: map[string]string{"Software": "gostyle runner", "Comment": ex.model.Meta.Describe()}}
	if err := os.RemoveAll(f.partial); err != nil {
		return nil, fmt.Errorf("run folder: %w", err)
	}
	if err := os.MkdirAll(f.partial, 0o755); err != nil {
		return nil, fmt.Errorf("run folder: %w", err)
	}
	if err := f.writeRecord(ex); err != nil {
		f.discard()
		return nil, err
	}
	return f, nil
}

func (f *folder) path(name string) string { return filepath.Join(f.partial, name) }

// save writes a picture (mean added back, clipped) as a PNG.
func (f *folder) save(name string, t *picture.Tensor) error {
	return picture.SavePNG(f.path(name), t.Image(f.mean), f.caption)
}

// writeRecord saves the resolved config and the model's metadata.
func (f *folder) writeRecord(ex *experiment) error {
	resolved := ex.cfg.Resolved()
	last := ex.scales[len(ex.scales)-1]
	resolved["width"], resolved["height"] = last.width, last.height
	resolved["max_size"] = 0 // width and height say it now
	y, err := config.YAML(resolved)
	if err != nil {
		return err
	}
	header := fmt.Sprintf("# resolved config of this run\n# model: %s\n", ex.model.Meta.Describe())
	if err := os.WriteFile(f.path("config.yaml"), append([]byte(header), y...), 0o644); err != nil {
		return fmt.Errorf("write config.yaml: %w", err)
	}
	js, err := json.MarshalIndent(ex.model.Meta, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(f.path("model.json"), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("write model.json: %w", err)
	}
	return nil
}

// finish replaces any previous run folder of that name with this one.
func (f *folder) finish() error {
	if err := os.RemoveAll(f.dir); err != nil {
		return fmt.Errorf("replace %s: %w", f.dir, err)
	}
	if err := os.Rename(f.partial, f.dir); err != nil {
		return fmt.Errorf("finish run folder: %w", err)
	}
	return nil
}

// discard removes a run folder that failed.
func (f *folder) discard() { os.RemoveAll(f.partial) }
