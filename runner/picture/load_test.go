package picture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/styletransfer/gostyle/runner/regularfile"
)

// pngChunk builds one PNG chunk by the spec (length, type, data, CRC-32 of
// type and data), independently of the encoder under test.
func pngChunk(typ string, data []byte) []byte {
	body := append([]byte(typ), data...)
	out := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	out = append(out, body...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(body))
}

// bombPNG is a 65-byte PNG whose header claims width x height RGB pixels.
func bombPNG(width, height uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, width)
	ihdr = binary.BigEndian.AppendUint32(ihdr, height)
	ihdr = append(ihdr, 8, 2, 0, 0, 0) // 8-bit RGB, deflate, no filter, no interlace
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, pngChunk("IHDR", ihdr)...)
	out = append(out, pngChunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...) // zlib of nothing
	return append(out, pngChunk("IEND", nil)...)
}

func encoded(t testing.TB, format string) []byte {
	t.Helper()
	src := halves(16, 8)
	var b bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&b, src)
	case "jpeg":
		err = jpeg.Encode(&b, src, nil)
	case "gif":
		err = gif.Encode(&b, src, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// badPictures are the inputs Load must refuse, with what the message says.
func badPictures(t testing.TB) map[string]struct {
	data []byte
	want string
} {
	pngData, jpegData, gifData := encoded(t, "png"), encoded(t, "jpeg"), encoded(t, "gif")
	corrupt := bytes.Clone(pngData)
	corrupt[len(corrupt)-20] ^= 0xff // inside IDAT: its CRC no longer matches
	hugeGIF := bytes.Clone(gifData)
	binary.LittleEndian.PutUint16(hugeGIF[6:], 65535) // logical screen width, height
	binary.LittleEndian.PutUint16(hugeGIF[8:], 65535)
	hugeJPEG := bytes.Clone(jpegData)
	sof := bytes.Index(hugeJPEG, []byte{0xff, 0xc0}) // baseline SOF0: length, precision, height, width
	binary.BigEndian.PutUint16(hugeJPEG[sof+5:], 60000)
	binary.BigEndian.PutUint16(hugeJPEG[sof+7:], 60000)
	return map[string]struct {
		data []byte
		want string
	}{
		"bomb.png":       {bombPNG(60000, 60000), "PNG picture of 60000x60000 pixels (3600 megapixels) is over the limit of 100 megapixels"},
		"bomb.gif":       {hugeGIF, "GIF picture of 65535x65535 pixels (4294.836225 megapixels) is over the limit of 100 megapixels"},
		"bomb.jpg":       {hugeJPEG, "JPEG picture of 60000x60000 pixels (3600 megapixels) is over the limit"},
		"empty.png":      {nil, "empty file, not a picture"},
		"notes.txt":      {[]byte("hello, this is not a picture\n"), "not a JPEG, PNG or GIF picture"},
		"header.png":     {pngData[:40], "truncated or corrupt PNG picture (its data ends before the picture does)"},
		"half.png":       {pngData[:len(pngData)/2], "corrupt or truncated PNG picture (png: invalid format: not enough pixel data)"},
		"signature.png":  {pngData[:8], "truncated or corrupt PNG picture (its data ends before the picture does)"},
		"corrupt.png":    {corrupt, "corrupt or truncated PNG picture (png: invalid format: zlib: invalid checksum)"},
		"half.jpg":       {jpegData[:len(jpegData)/2], "truncated or corrupt JPEG picture"},
		"half.gif":       {gifData[:len(gifData)-8], "GIF picture"},
		"zero-width.png": {bombPNG(0, 10), "corrupt"},
	}
}

func TestLoadRefusesBadPicturesInOneLineNamingTheFile(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range badPictures(t) {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if err == nil {
			t.Errorf("%s: loaded", name)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, path+": ") || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
			t.Errorf("%s: %q, want one line %q... containing %q", name, msg, path+": ", tc.want)
		}
	}
	if _, err := Load(dir); err == nil || err.Error() != dir+": a folder, not a picture" {
		t.Errorf("folder: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.png")); err == nil || !strings.Contains(err.Error(), "missing.png: no such file") {
		t.Errorf("missing: %v", err)
	}
}

// The 65-byte PNG claiming 60000x60000 (10.8 GB of RGB) is refused from its
// header: fast, and with next to no memory.
func TestLoadRefusesADecompressionBombCheaply(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bomb.png")
	data := bombPNG(60000, 60000)
	if len(data) != 65 {
		t.Fatalf("bomb is %d bytes", len(data))
	}
	os.WriteFile(path, data, 0o644)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := Load(path)
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("loaded")
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("refusing it allocated %d bytes", alloc)
	}
	if elapsed > 500*time.Millisecond {
		t.Errorf("refusing it took %v", elapsed)
	}
	t.Logf("refused in %v: %v", elapsed, err)
}

func TestMaxPixelsIsTheLimit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.png")
	os.WriteFile(path, encoded(t, "png"), 0o644) // 16x8 = 128 pixels
	if _, err := (Loader{MaxPixels: 128}).Load(path); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	if _, err := (Loader{MaxPixels: 127}).Load(path); err == nil || !strings.Contains(err.Error(), "16x8 pixels (0.000128 megapixels) is over the limit of 0.000127 megapixels") {
		t.Errorf("over the limit: %v", err)
	}
}

// FuzzLoad feeds arbitrary bytes to the decoding path of Load: it must
// return a picture within the limit or a one-line error, never panic, and
// never decode more pixels than the limit allows. The seed corpus is in
// testdata/fuzz/FuzzLoad (valid, truncated, corrupt and oversized files).
func FuzzLoad(f *testing.F) {
	const limit = 1 << 16 // small, so oversized inputs cost the fuzzer nothing
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := decode(bytes.NewReader(data), limit)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error of several lines: %q", err)
			}
			return
		}
		b := img.Bounds()
		if b.Dx() < 1 || b.Dy() < 1 || b.Dx()*b.Dy() > limit {
			t.Fatalf("decoded a %dx%d picture (limit %d pixels)", b.Dx(), b.Dy(), limit)
		}
		Fit(img, 4, 3) // the runner's next step must cope with whatever decoded
	})
}

// TestFuzzCorpusCoversEveryKind keeps the seed corpus honest: it must hold
// valid pictures of every format and refused ones.
func TestFuzzCorpusCoversEveryKind(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzLoad"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, e := range entries {
		names[e.Name()] = true
	}
	for _, want := range []string{"valid-png", "valid-jpeg", "valid-gif", "bomb-png", "truncated-png", "corrupt-png", "empty", "text"} {
		if !names[want] {
			t.Errorf("seed corpus lacks %s", want)
		}
	}
}

// TestUpdateFuzzCorpus rewrites the seed corpus from the cases above when
// run with UPDATE_FUZZ_CORPUS=1 (go test -run UpdateFuzzCorpus ./runner/picture).
func TestUpdateFuzzCorpus(t *testing.T) {
	if os.Getenv("UPDATE_FUZZ_CORPUS") == "" {
		t.Skip("set UPDATE_FUZZ_CORPUS=1 to rewrite testdata/fuzz/FuzzLoad")
	}
	bad := badPictures(t)
	seeds := map[string][]byte{
		"valid-png": encoded(t, "png"), "valid-jpeg": encoded(t, "jpeg"), "valid-gif": encoded(t, "gif"),
		"bomb-png": bad["bomb.png"].data, "bomb-gif": bad["bomb.gif"].data, "bomb-jpeg": bad["bomb.jpg"].data,
		"truncated-png": bad["half.png"].data, "truncated-jpeg": bad["half.jpg"].data, "truncated-gif": bad["half.gif"].data,
		"corrupt-png": bad["corrupt.png"].data, "empty": nil, "text": bad["notes.txt"].data,
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzLoad")
	os.MkdirAll(dir, 0o755)
	for name, data := range seeds {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(data)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLoadRefusesPipesAndDevices: a named pipe is refused at once (not
// waited on for a writer) and a link to a device without reading it.
func TestLoadRefusesPipesAndDevices(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.png")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero.jpg")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, zero} {
		done := make(chan error, 1)
		go func() { _, err := Load(p); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, regularfile.ErrNotRegular) || !strings.Contains(err.Error(), p) {
				t.Errorf("Load(%s): %v, want a refusal naming it", p, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Load(%s) blocked", p)
		}
	}
}
