package config

import (
	"strings"
	"testing"

	"github.com/styletransfer/gostyle/runner/normalize"
)

// The normalization key accepts exactly the formulas runner/normalize
// implements: each of its names loads, and a refusal lists them all.
func TestNormalizationValuesAreTheImplementedFormulas(t *testing.T) {
	names := normalize.Names()
	if len(names) < 5 {
		t.Fatalf("normalize.Names() = %v, want the five published forms at least", names)
	}
	for _, n := range names {
		if _, err := load(t, minimal+"normalization: "+n+"\n"); err != nil {
			t.Errorf("normalization %s: %v", n, err)
		}
		if _, err := normalize.Lookup(n); err != nil {
			t.Errorf("normalize.Lookup(%q): %v", n, err)
		}
	}
	_, err := load(t, minimal+"normalization: fancy\n")
	if err == nil {
		t.Fatal("normalization fancy loaded")
	}
	for _, n := range names {
		if !strings.Contains(err.Error(), `"`+n+`"`) {
			t.Errorf("refusal %q does not list %q", err, n)
		}
	}
}
