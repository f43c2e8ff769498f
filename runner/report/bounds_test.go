package report

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pngClaiming is a PNG of a header claiming width x height pixels and no
// data, built by the spec (signature, IHDR, IEND, each chunk's CRC-32).
func pngClaiming(width, height uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		td := append([]byte(typ), data...)
		b.Write(td)
		binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(td))
	}
	ihdr := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, width), height)
	chunk("IHDR", append(ihdr, 8, 6, 0, 0, 0)) // 8-bit RGBA
	chunk("IEND", nil)
	return b.Bytes()
}

// TestRunPanelsBoundsWhatItReads: a run folder's final.png claiming
// 60000x60000 pixels, or a named pipe in its place, is refused at once
// naming the file, not decoded or waited on.
func TestRunPanelsBoundsWhatItReads(t *testing.T) {
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "content.png"), solid(40, 30, red))
	writePNG(t, filepath.Join(dir, "style.png"), solid(20, 20, blue))
	final := filepath.Join(dir, "final.png")
	for name, plant := range map[string]func() error{
		"bomb": func() error { return os.WriteFile(final, pngClaiming(60000, 60000), 0o644) },
		"fifo": func() error { return syscall.Mkfifo(final, 0o644) },
	} {
		os.Remove(final)
		if err := plant(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		start := time.Now()
		go func() { _, err := RunPanels(dir); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), final) {
				t.Errorf("%s: %v, want a refusal naming %s", name, err, final)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("%s: took %v", name, d)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: RunPanels blocked", name)
		}
	}
}
