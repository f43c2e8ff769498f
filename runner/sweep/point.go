package sweep

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strings"

	"github.com/styletransfer/gostyle/runner/config"
)

// Point is one experiment of a sweep.
type Point struct {
	Index int    // from 0, in the order -list prints
	Vars  []Var  // the varied keys and their values, grid keys then zip keys
	Dir   string // run folder name under the sweep's output folder
	ID    string // hash of the resolved config: same id, same experiment
	// Config is the point's resolved config: the base, the -set flags and
	// Vars, with Output the sweep's folder and Name set to Dir.
	Config config.Config
}

// Var is one varied key's value, as YAML flow text.
type Var struct {
	Key, Value string
}

// Overrides are the point's "key=value" strings, for config -set parsing.
func (p Point) Overrides() []string { return overrides(p.Vars) }

func overrides(vars []Var) []string {
	out := make([]string, len(vars))
	for i, v := range vars {
		out[i] = v.Key + "=" + v.Value
	}
	return out
}

// String is the line -list prints: index, id and overrides.
func (p Point) String() string {
	return fmt.Sprintf("%d %s %s", p.Index, p.ID, strings.Join(p.Overrides(), " "))
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
