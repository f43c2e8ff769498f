package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRewriteReplacesOnlyTheBlock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "README.md")
	doc := "# t\n\nbefore\n" + begin + "| stale |\n" + end + "\nafter\n"
	if err := os.WriteFile(path, []byte(doc), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := rewrite(path); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(got), "# t\n\nbefore\n"+begin+"| key | type |") || !strings.HasSuffix(string(got), "|\n"+end+"\nafter\n") ||
		strings.Contains(string(got), "stale") || !strings.Contains(string(got), "| `divergence_factor` |") {
		t.Errorf("rewritten:\n%s", got)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", info.Mode())
	}
	for _, bad := range []string{"no markers\n", begin + "x\n", end + begin, begin + end + begin + end} {
		if _, err := splice([]byte(bad), "x"); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
