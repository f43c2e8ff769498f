package runner

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// A run whose width and height crop away more than a fifth of the content picture
// (shipwreck.jpg is 384x265) says so in one log line naming the keys that keep it whole;
// a crop of less than a fifth, or none, says nothing.
func TestCropWarning(t *testing.T) {
	m := loadTiny(t)
	for _, c := range []struct {
		sets []string
		want string // "" for no warning
	}{
		// 8/24 against 384/265 keeps 0.333/1.449 = 23%: 77% cropped away.
		{[]string{"width=8", "height=24"}, "the 8x24 output crops away 77% of content picture"},
		// 24/18 keeps 1.333/1.449 = 92%.
		{[]string{"width=24", "height=18"}, ""},
		{[]string{"max_size=24"}, ""},
	} {
		var log bytes.Buffer
		cfg := tinyConfig(t, t.TempDir(), append(c.sets, "iterations=1", "checkpoint_every=0", "log_every=0")...)
		if _, err := Run(context.Background(), cfg, m, &log); err != nil {
			t.Fatalf("%v: %v", c.sets, err)
		}
		var lines []string
		for _, l := range strings.Split(log.String(), "\n") {
			if strings.Contains(l, "crops away") {
				lines = append(lines, l)
			}
		}
		if c.want == "" {
			if len(lines) != 0 {
				t.Errorf("%v: unexpected crop warning %q", c.sets, lines)
			}
			continue
		}
		if len(lines) != 1 || !strings.Contains(lines[0], c.want) || !strings.Contains(lines[0], "height: 0") ||
			!strings.Contains(lines[0], "max_size") || !strings.Contains(lines[0], "WARN") {
			t.Errorf("%v: crop warning lines %q, want one WARN line with %q, height: 0 and max_size", c.sets, lines, c.want)
		}
	}
}
