package config

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzLoad feeds a config file and one -set override through Load. It must
// never panic; an error is one line naming where the bad value came from;
// the same override from the environment succeeds or fails alike; and a
// config that loads has the same Canonical after a trip through the YAML
// its run folder records (what -resume reloads).
// Seeds: testdata/fuzz/FuzzLoad (shapes of the shipped configs, odd YAML).
func FuzzLoad(f *testing.F) {
	f.Add(minimal, "iterations=4")
	f.Fuzz(func(t *testing.T, file, override string) {
		src := Source{Name: "fuzz.yaml", Data: []byte(file)}
		c, err := LoadEnv(src, []string{override}, nil)
		oneLineFrom(t, err, "config fuzz.yaml: ", "-set ")

		// The override from the environment, where it is a whole key and not empty.
		if key, val, ok := strings.Cut(override, "="); ok && val != "" {
			key = strings.ToLower(strings.TrimSpace(key))
			if lookup(key) != nil {
				env := func(name string) (string, bool) { return val, name == EnvVar(key) }
				ce, errEnv := LoadEnv(src, nil, env)
				oneLineFrom(t, errEnv, "config fuzz.yaml: ", "environment "+EnvVar(key)+": ")
				if (err == nil) != (errEnv == nil) {
					t.Fatalf("-set and environment disagree: %v | %v", err, errEnv)
				}
				if err == nil && !bytes.Equal(canonical(t, c), canonical(t, ce)) {
					t.Fatalf("-set and environment give different configs")
				}
			}
		}
		if err != nil {
			return
		}
		y, err := YAML(c.Resolved())
		if err != nil {
			t.Fatalf("resolved YAML: %v", err)
		}
		back, err := LoadEnv(Source{Name: "config.yaml", Data: y}, nil, nil)
		if err != nil {
			t.Fatalf("the resolved config does not load: %v\n%s", err, y)
		}
		if a, b := canonical(t, c), canonical(t, back); !bytes.Equal(a, b) {
			t.Fatalf("canonical changes on reload:\n%s\n---\n%s", a, b)
		}
	})
}

func oneLineFrom(t *testing.T, err error, prefixes ...string) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\n\r") {
		t.Fatalf("error is not one line: %q", msg)
	}
	for _, p := range prefixes {
		if strings.HasPrefix(msg, p) {
			return
		}
	}
	t.Fatalf("error names neither of %q: %q", prefixes, msg)
}

func canonical(t *testing.T, c Config) []byte {
	t.Helper()
	b, err := c.Canonical()
	if err != nil {
		t.Fatalf("canonical: %v", err)
	}
	return b
}
