package sweep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/styletransfer/gostyle/runner/config"
)

// Plan is a sweep ready to run. It holds no list of points: point i is
// computed from i alone (a mixed-radix number over the grid's axes, the zip
// fastest) and resolved when asked for, so a sweep of a million points costs
// what one of four does until its points are walked.
type Plan struct {
	Spec   Spec
	Output string // the sweep folder: summary, contact sheet, run folders

	base  config.Source // the config without its sweep, slurm and k8s blocks
	sets  []string      // the user's -set flags for unswept keys
	out   string        // the -out flag
	width int           // digits of the run folder numbers
}

// Load parses src's sweep block and checks it: the base config with the
// user's -set flags, then every varied value on its own (point 0 with that
// one value swapped in), so a bad value is reported against the sweep key
// that holds it and a bad base key as the base key. out (the -out flag),
// when not empty, replaces the output key. Nothing is written.
//
// A -set for a swept key replaces that axis: the key takes the -set value
// in every point and no longer varies (as a Hydra command-line override
// does). A -set of sweep.grid.KEY, sweep.zip.KEY, sweep.max_points or
// sweep.name changes the sweep block itself. A -set of one entry of a swept
// map key is refused: set the whole key.
func Load(src config.Source, sets []string, out string) (Plan, error) {
	spec, err := Parse(src.Name, src.Data, sets...)
	if err != nil {
		return Plan{}, err
	}
	var cfgSets []string
	for _, s := range sets {
		if !isSweepSet(s) {
			cfgSets = append(cfgSets, s)
		}
	}
	p := Plan{Spec: spec, base: config.Source{Name: src.Name, Data: spec.Base}, sets: cfgSets, out: out}
	p.width = max(3, len(fmt.Sprint(spec.Len()-1)))
	if err := p.check(); err != nil {
		return Plan{}, err
	}
	return p, nil
}

// check resolves point 0, or on failure blames the base config, one varied
// value or the combination, in that order; then every varied value on its
// own against point 0.
func (p *Plan) check() error {
	s := p.Spec
	first := s.vars(0)
	cfg, err := p.resolve(first)
	if err != nil {
		if _, berr := p.resolve(nil); berr != nil {
			return berr // the base config or a -set is wrong, whatever the sweep varies
		}
		for k, v := range first {
			if _, verr := p.resolve([]Var{v}); verr != nil {
				return p.blame(k, 0, verr)
			}
		}
		return fmt.Errorf("config %s: sweep point 0 (%s): %w", s.Source, strings.Join(overrides(first), " "), err)
	}
	p.Output = cfg.Output
	for k, a := range s.Grid {
		for j, v := range a.Values[1:] {
			vars := append([]Var{}, first...)
			vars[k].Value = v
			if _, err := p.resolve(vars); err != nil {
				return p.blame(k, j+1, err)
			}
		}
	}
	if len(s.Zip) > 0 {
		for j := range s.Zip[0].Values[1:] {
			if _, err := p.resolve(s.zipRow(first, j+1)); err != nil {
				return p.blame(len(s.Grid), j+1, err)
			}
		}
	}
	return nil
}

// blame names varied key k's value j (a zip key: the zip's row j) in err.
func (p *Plan) blame(k, j int, err error) error {
	s := p.Spec
	if k >= len(s.Grid) {
		var row []string
		origin := s.origin("sweep.zip")
		for _, a := range s.Zip {
			row = append(row, a.Key+"="+a.Values[j])
			if s.sets["sweep.zip."+a.Key] {
				origin = s.origin("sweep.zip." + a.Key)
			}
		}
		return fmt.Errorf("%s: key sweep.zip, row %d (%s): %w", origin, j, strings.Join(row, " "), err)
	}
	a := s.Grid[k]
	at := "sweep.grid." + a.Key
	return fmt.Errorf("%s: key %s, value %d (%s): %w", s.origin(at), at, j, a.Values[j], err)
}

// resolve is the config of the base, the -set flags and vars, with -out.
func (p *Plan) resolve(vars []Var) (config.Config, error) {
	cfg, err := config.Load(p.base, append(append([]string{}, p.sets...), overrides(vars)...))
	if err != nil {
		return config.Config{}, err
	}
	if p.out != "" {
		cfg.Output = p.out
	}
	return cfg, nil
}

// Len is the number of points.
func (p Plan) Len() int { return p.Spec.Len() }

// Point resolves point i: its values, run folder, id and config. An index
// outside the sweep is an error naming the range; this is where -index is
// checked.
func (p Plan) Point(i int) (Point, error) {
	n := p.Len()
	if i < 0 || i >= n {
		return Point{}, fmt.Errorf("-index %d: out of range: the sweep has %d points (0..%d)", i, n, n-1)
	}
	pt := Point{Index: i, Vars: p.Spec.vars(i)}
	cfg, err := p.resolve(pt.Vars)
	if err != nil {
		return Point{}, fmt.Errorf("config %s: sweep point %d (%s): %w", p.Spec.Source, i, strings.Join(pt.Overrides(), " "), err)
	}
	resolved, err := cfg.Canonical()
	if err != nil {
		return Point{}, fmt.Errorf("config %s: sweep point %d: %w", p.Spec.Source, i, err)
	}
	sum := sha256.Sum256(resolved)
	pt.ID = hex.EncodeToString(sum[:6])
	pt.Dir = dirName(i, p.width, pt.Vars)
	cfg.Name = pt.Dir
	pt.Config = cfg
	return pt, nil
}

// Each calls fn with every point in order, computing each as it goes; it
// stops at fn's first error, or when ctx is done (returning ctx's error).
func (p Plan) Each(ctx context.Context, fn func(Point) error) error {
	for i := range p.Len() {
		if err := ctx.Err(); err != nil {
			return err
		}
		pt, err := p.Point(i)
		if err != nil {
			return err
		}
		if err := fn(pt); err != nil {
			return err
		}
	}
	return nil
}

// All is every point, for what needs them at once (a local run, the
// summary); Each streams them.
func (p Plan) All(ctx context.Context) ([]Point, error) {
	out := make([]Point, 0, p.Len())
	err := p.Each(ctx, func(pt Point) error { out = append(out, pt); return nil })
	return out, err
}
