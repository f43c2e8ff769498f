package config

import (
	"strings"
	"testing"
	"time"
)

// Issue 26 point 4: a config's lists are bounded, refused in one line naming
// the key, before the list is decoded into a Config (a 1.6-million-entry
// style list ran the host out of memory).
func TestLongListsAreRefusedNamingTheKey(t *testing.T) {
	var b strings.Builder
	b.WriteString("content: c.jpg\nstyle:\n")
	for range 1_600_000 {
		b.WriteString("- s.jpg\n")
	}
	start := time.Now()
	_, err := LoadEnv(Source{Name: "big.yaml", Data: []byte(b.String())}, nil, nil)
	want := "config big.yaml: key style: want at most 256 entries, got 1600000"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	t.Logf("refused in %v", time.Since(start))

	for _, c := range []struct {
		text, sets, want string
	}{
		{"scales: [" + strings.Repeat("64, ", MaxList) + "64]\n", "", "config c.yaml: key scales: want at most 256 entries, got 257"},
		{"style_layers: {" + strings.Repeat("conv1_1: 1, ", 0) + layers(MaxList+1) + "}\n", "", "config c.yaml: key style_layers: want at most 256 entries, got 257"},
		{"", "style=[" + strings.Repeat("a.jpg, ", MaxList) + "a.jpg]", "-set style: key style: want at most 256 entries, got 257"},
	} {
		var sets []string
		if c.sets != "" {
			sets = []string{c.sets}
		}
		_, err := LoadEnv(Source{Name: "c.yaml", Data: []byte("content: c.jpg\nstyle: s.jpg\n" + c.text)}, sets, nil)
		if err == nil || err.Error() != c.want {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
	// At the bound, fine.
	if _, err := LoadEnv(Source{Name: "c.yaml", Data: []byte("content: c.jpg\nstyle: [" + strings.Repeat("s.jpg, ", MaxList-1) + "s.jpg]\n")}, nil, nil); err != nil {
		t.Errorf("%d styles: %v", MaxList, err)
	}
}

func layers(n int) string {
	var parts []string
	for i := range n {
		parts = append(parts, "l"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+strings.Repeat("y", i/26)+": 1")
	}
	return strings.Join(parts, ", ")
}
