package sweep

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strings"
)

// Point is one experiment of a sweep.
type Point struct {
	Index int    // from 0, in the order -list prints
	Vars  []Var  // the varied keys and their values, grid keys then zip keys
	Dir   string // run folder name under the sweep's output folder
	ID    string // hash of the resolved config: same id, same experiment
}

// Var is one varied key's value, as YAML flow text.
type Var struct {
	Key, Value string
}

// Overrides are the point's "key=value" strings, for config -set parsing.
func (p Point) Overrides() []string {
	out := make([]string, len(p.Vars))
	for i, v := range p.Vars {
		out[i] = v.Key + "=" + v.Value
	}
	return out
}

// String is the line -list prints: index, id and overrides.
func (p Point) String() string {
	return fmt.Sprintf("%d %s %s", p.Index, p.ID, strings.Join(p.Overrides(), " "))
}

// Resolver turns a point's overrides (after the user's -set flags) into the
// canonical bytes of its resolved config; an error names the bad key. The
// bytes must not depend on map order or on the run folder's name.
type Resolver func(overrides []string) ([]byte, error)

// Points expands the spec. Each varied value is first checked on its own
// (point 0 with that one value swapped in) so a bad key or value is reported
// against the sweep key that holds it; then every point is resolved for its id.
func (s Spec) Points(resolve Resolver) ([]Point, error) {
	n := s.Len()
	if n > s.MaxPoints {
		return nil, fmt.Errorf("config %s: key sweep.max_points: the sweep has %d points, more than max_points %d", s.Source, n, s.MaxPoints)
	}
	first := s.vars(0)
	try := func(vars []Var) error {
		_, err := resolve(Point{Vars: vars}.Overrides())
		return err
	}
	for k, a := range s.Grid {
		for j, v := range a.Values {
			vars := append([]Var{}, first...)
			vars[k].Value = v
			if err := try(vars); err != nil {
				return nil, fmt.Errorf("config %s: key sweep.grid.%s, value %d (%s): %w", s.Source, a.Key, j, v, err)
			}
		}
	}
	if len(s.Zip) > 0 {
		for j := range s.Zip[0].Values {
			vars := append([]Var{}, first...)
			var row []string
			for k, a := range s.Zip {
				vars[len(s.Grid)+k].Value = a.Values[j]
				row = append(row, a.Key+"="+a.Values[j])
			}
			if err := try(vars); err != nil {
				return nil, fmt.Errorf("config %s: key sweep.zip, row %d (%s): %w", s.Source, j, strings.Join(row, " "), err)
			}
		}
	}
	width := max(3, len(fmt.Sprint(n-1)))
	points := make([]Point, n)
	for i := range points {
		p := Point{Index: i, Vars: s.vars(i)}
		resolved, err := resolve(p.Overrides())
		if err != nil {
			return nil, fmt.Errorf("config %s: sweep point %d (%s): %w", s.Source, i, strings.Join(p.Overrides(), " "), err)
		}
		sum := sha256.Sum256(resolved)
		p.ID = hex.EncodeToString(sum[:6])
		p.Dir = dirName(i, width, p.Vars)
		points[i] = p
	}
	return points, nil
}

// Select returns point index of points, or an error naming the range.
func Select(points []Point, index int) (Point, error) {
	if index < 0 || index >= len(points) {
		return Point{}, fmt.Errorf("-index %d: out of range: the sweep has %d points (0..%d)", index, len(points), len(points)-1)
	}
	return points[index], nil
}

// maxDir keeps run folder names readable in a terminal and far below the
// 255-byte limit of file systems.
const maxDir = 80

// dirName is "003-style_weight=50-pooling=max": the index, then each
// override with paths shortened to their base name and characters outside
// a portable set replaced; a name too long is cut and ends in a hash of the
// full one, so two points never share a folder.
func dirName(index, width int, vars []Var) string {
	parts := []string{fmt.Sprintf("%0*d", width, index)}
	for _, v := range vars {
		parts = append(parts, sanitize(v.Key)+"="+sanitize(shortValue(v.Value)))
	}
	name := strings.Join(parts, "-")
	if len(name) <= maxDir {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return strings.TrimRight(name[:maxDir-9], "-_=.") + "-" + hex.EncodeToString(sum[:4])
}

// shortValue names a path by its file's base name without extension.
func shortValue(v string) string {
	v = strings.Trim(v, `"'`)
	if strings.Contains(v, "/") && !strings.ContainsAny(v, "[]{}, ") {
		b := path.Base(strings.TrimRight(v, "/"))
		if ext := path.Ext(b); ext != "" && len(ext) < len(b) {
			b = strings.TrimSuffix(b, ext)
		}
		return b
	}
	return v
}

func sanitize(s string) string {
	var b strings.Builder
	last := rune(0)
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '+', r == '-', r == ',':
		case r == ':':
			r = '='
		case r == ' ' || r == '[' || r == ']' || r == '{' || r == '}' || r == '"' || r == '\'':
			continue
		default:
			r = '_'
		}
		if r == '_' && last == '_' {
			continue
		}
		b.WriteRune(r)
		last = r
	}
	return strings.Trim(b.String(), "_")
}
