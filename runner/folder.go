package runner

import (
	"encoding/json"
	"fmt"
	"image"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/styletransfer/gostyle/runner/config"
	"github.com/styletransfer/gostyle/runner/picture"
	"github.com/styletransfer/gostyle/runner/plan"
	"github.com/styletransfer/gostyle/runner/regularfile"
	"github.com/styletransfer/gostyle/runner/report"
	"github.com/styletransfer/gostyle/runner/rundir"
)

// folder is the run folder, on rundir: locked, with a status marker, files
// replaced atomically, whole-row CSV logs and checkpoint state for resume.
type folder struct {
	*rundir.Folder
	caption map[string]string
	mean    [3]float32
}

// openFolder opens (or resumes) the run folder and writes the record of the
// run: the resolved config and the model's metadata.
func openFolder(ex *plan.Experiment, log *slog.Logger) (*folder, error) {
	cfg := ex.Config()
	id, err := cfg.ID()
	if err != nil {
		return nil, err
	}
	last := ex.Output()
	rf, err := rundir.Open(ex.Dir(), rundir.Options{ConfigID: id, Overwrite: cfg.Overwrite,
		StatePixels: last.Width * last.Height, Note: func(n string) { log.Warn(n) }})
	if err != nil {
		return nil, err
	}
	f := &folder{Folder: rf, mean: ex.Mean(),
		caption: map[string]string{"Software": "gostyle runner", "Comment": ex.Model().Meta.Describe()}}
	if err := f.writeRecord(ex, cfg.Resolved()); err != nil {
		f.Fail(err)
		f.Close()
		return nil, err
	}
	return f, nil
}

// save writes a picture (mean added back, clipped) as a PNG, atomically.
func (f *folder) save(name string, t *picture.Tensor) error {
	return f.savePicture(name, t.Image(f.mean))
}

func (f *folder) savePicture(name string, img image.Image) error {
	return f.WriteWith(name, func(w io.Writer) error { return picture.EncodePNG(w, img, f.caption) })
}

// writeRecord saves the resolved config and the model's metadata.
func (f *folder) writeRecord(ex *plan.Experiment, resolved map[string]any) error {
	y, err := config.YAML(resolved)
	if err != nil {
		return err
	}
	model, last := ex.Model(), ex.Output()
	header := fmt.Sprintf("# the resolved config (rerun it, or resume it with runner -resume %s)\n# model: %s\n# device: %s\n# picture: %dx%d\n",
		ex.Dir(), model.Meta.Describe(), model.Device, last.Width, last.Height)
	if err := f.WriteFile(rundir.ConfigName, append([]byte(header), y...)); err != nil {
		return fmt.Errorf("write %s: %w", rundir.ConfigName, err)
	}
	js, err := json.MarshalIndent(model.Meta, "", "  ")
	if err != nil {
		return err
	}
	return f.WriteFile(rundir.ModelName, append(js, '\n'))
}

// writeReport draws loss.png (the losses against iteration, log scale),
// layers.png (each layer's weighted term) and compare.png (content | style
// | result), from the files the run wrote, each titled with the run, its
// main settings, its iterations and the model's weights.
func (f *folder) writeReport(ex *plan.Experiment, iterations int) error {
	c := ex.Config()
	caption := report.Caption{Text: f.caption, Title: fmt.Sprintf("%s: %d iterations, %s, content %g, style %g, tv %g\nmodel: %s",
		filepath.Base(ex.Dir()), iterations, c.Optimizer, c.ContentWeight, c.StyleWeight, c.TVWeight, ex.Model().Meta.Describe())}
	plots := []struct {
		csv, png string
		plot     func(io.Reader, io.Writer, report.Caption) error
		optional bool // layers.png: a run whose terms are all zero has nothing to plot on a log scale
	}{{rundir.MetricsName, rundir.LossName, report.LossPlot, false}, {rundir.LayersName, rundir.LayersPlotName, report.LayersPlot, true}}
	for _, p := range plots {
		data, err := regularfile.Open(filepath.Join(f.Path(), p.csv))
		if err != nil && p.optional {
			continue
		} else if err != nil {
			return fmt.Errorf("%s: %w", p.png, err)
		}
		err = f.WriteWith(p.png, func(w io.Writer) error { return p.plot(data, w, caption) })
		data.Close()
		if err != nil && !p.optional {
			return fmt.Errorf("%s: %w", p.png, err)
		}
	}
	panels, err := report.RunPanels(f.Path())
	if err != nil {
		return fmt.Errorf("%s: %w", rundir.CompareName, err)
	}
	if err := f.WriteWith(rundir.CompareName, func(w io.Writer) error { return report.Compare(panels, w, caption) }); err != nil {
		return fmt.Errorf("%s: %w", rundir.CompareName, err)
	}
	return nil
}
