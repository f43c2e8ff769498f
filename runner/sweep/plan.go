package sweep

import (
	"fmt"
	"path/filepath"

	"github.com/styletransfer/gostyle/runner/config"
)

// Plan is a sweep ready to run: its points, each point's config (Name set
// to the point's run folder) and the sweep's output folder.
type Plan struct {
	Spec    Spec
	Points  []Point
	Configs []config.Config // Configs[i] is Points[i]'s, Output and Name set
	Output  string          // the sweep folder: summary, contact sheet, run folders
}

// Load parses src's sweep block and resolves every point with config.Load:
// base config, then the user's -set flags, then the point's overrides; out
// (the -out flag), when not empty, replaces the output key. Nothing is
// written.
func Load(src config.Source, sets []string, out string) (Plan, error) {
	spec, err := Parse(src.Name, src.Data)
	if err != nil {
		return Plan{}, err
	}
	base := config.Source{Name: src.Name, Data: spec.Base}
	byOverrides := map[string]config.Config{}
	resolve := func(overrides []string) ([]byte, error) {
		cfg, err := config.Load(base, append(append([]string{}, sets...), overrides...))
		if err != nil {
			return nil, err
		}
		if out != "" {
			cfg.Output = out
		}
		byOverrides[fmt.Sprint(overrides)] = cfg
		return Canonical(cfg)
	}
	points, err := spec.Points(resolve)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{Spec: spec, Points: points}
	for _, pt := range points {
		cfg := byOverrides[fmt.Sprint(pt.Overrides())]
		if p.Output == "" {
			p.Output = cfg.Output
		} else if filepath.Clean(cfg.Output) != filepath.Clean(p.Output) {
			return Plan{}, fmt.Errorf("config %s: key output: every point of a sweep must share one output folder (point %d has %s, point 0 %s)", src.Name, pt.Index, cfg.Output, p.Output)
		}
		cfg.Name = pt.Dir
		p.Configs = append(p.Configs, cfg)
	}
	return p, nil
}

// Canonical is the id's input: config.Config.Canonical, the resolved config
// without the keys that do not change the result, so a point's id is the
// id its run folder records (config.Config.ID).
func Canonical(cfg config.Config) ([]byte, error) { return cfg.Canonical() }

// Dir is point i's run folder.
func (p Plan) Dir(i int) string { return filepath.Join(p.Output, p.Points[i].Dir) }
