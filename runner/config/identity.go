package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
)

// Resolved is the config as it ran, in the config file's own key names, for
// the run folder: paths made absolute so it reruns from anywhere.
func (c Config) Resolved() map[string]any {
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return p
	}
	out := make(map[string]any, len(keys))
	for _, k := range keys {
		v := reflectValue(k.field(&c))
		if k.flags&absPath != 0 {
			switch x := v.(type) {
			case string:
				v = abs(x)
			case []string:
				ps := make([]string, len(x))
				for i, p := range x {
					ps[i] = abs(p)
				}
				v = ps
			}
		}
		out[k.name] = v
	}
	if !slices.Contains([]string{"noise", "content", "style"}, c.Init) {
		out["init"] = abs(c.Init) // a picture file
	}
	return out
}

// reflectValue dereferences a field pointer of the key table.
func reflectValue(p any) any {
	switch x := p.(type) {
	case *string:
		return *x
	case *[]string:
		return *x
	case *int:
		return *x
	case *int64:
		return *x
	case *float64:
		return *x
	case *bool:
		return *x
	case *[]float64:
		return *x
	case *[]int:
		return *x
	case *map[string]float64:
		return *x
	}
	panic(fmt.Sprintf("config: no value for %T", p))
}

// Canonical is the config's identity as bytes: the YAML of Resolved without
// the keys that do not change what a run computes (output, name, overwrite,
// log_every, thread counts, max_pixels: the table's notInID keys). A single
// run and a sweep point with the same settings have the same Canonical, and
// so does the config reloaded from its own resolved YAML.
func (c Config) Canonical() ([]byte, error) {
	resolved := c.Resolved()
	for _, k := range keys {
		if k.flags&notInID != 0 {
			delete(resolved, k.name)
		}
	}
	return YAML(resolved)
}

// ID is the first 12 hex digits of the SHA-256 of Canonical: a short name
// for "these settings", recorded in run folders and sweep summaries.
func (c Config) ID() (string, error) {
	y, err := c.Canonical()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(y)
	return hex.EncodeToString(sum[:])[:12], nil
}
