package normalize

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// The table lists each published form once, the config's default first, and
// Lookup finds each by its name and refuses any other naming the key.
func TestNamesAndLookup(t *testing.T) {
	names := Names()
	want := []string{"notebook", "paper", "neural-style", "jcjohnson", "keras"}
	if !slices.Equal(names, want) {
		t.Fatalf("Names() = %v, want %v", names, want)
	}
	for _, n := range names {
		if got, err := Lookup(n); err != nil || got.Name != n {
			t.Errorf("Lookup(%q) = %q, %v", n, got.Name, err)
		}
	}
	if _, err := Lookup("fancy"); err == nil || !strings.Contains(err.Error(), "key normalization") {
		t.Errorf("Lookup(fancy): %v", err)
	}
}

// The seed's content coefficient for a (1,3,3,2) map: N = 2, M = 9, so
// 1/(2 sqrt(2) sqrt(9)); its style coefficient 1/(4 N^2 M^2) = 1/1296.
func TestNotebookCoefficientsOfTheSeedsExample(t *testing.T) {
	n, err := Lookup("notebook")
	if err != nil {
		t.Fatal(err)
	}
	s := Shape{N: 2, H: 3, W: 3}
	if got, want := n.Content(s), 1/(2*math.Sqrt(2)*3); math.Abs(got-want) > 1e-15 {
		t.Errorf("content %g, want %g", got, want)
	}
	if got, want := n.Style(s, Shape{N: 3, H: 3, W: 3}), 1.0/1296; math.Abs(got-want) > 1e-15 {
		t.Errorf("style %g, want %g", got, want)
	}
}
