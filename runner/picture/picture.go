// Package picture turns picture files into the network's input layout and back:
// decoding, centre-cropping to the target aspect, resizing, mean subtraction,
// and PNG checkpoints that say which weights made them.
package picture

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/draw"
	_ "image/gif" // registered decoders: the formats users hand us
	_ "image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/styletransfer/gostyle/runner/regularfile"
	xdraw "golang.org/x/image/draw"
)

// DefaultMaxPixels is the largest picture (width x height) Load decodes
// (Loader.MaxPixels sets another). The dimensions are read from the header
// first, so a small file claiming a huge picture costs nothing. 100
// megapixels suits a 24 GiB host:
// the decoded picture takes at most 8 bytes a pixel (16-bit RGBA PNG), 0.8 GB,
// and cropping and resizing it to the output size about as much again;
// cameras make 12 to 50 megapixels, so no real photograph is refused.
const DefaultMaxPixels = 100_000_000

// exifPrefix is how much of a JPEG is searched for its EXIF orientation:
// the EXIF segment comes first, before the image data, and is at most 64 KiB.
const exifPrefix = 1 << 20

// Load decodes a JPEG, PNG or GIF file; a JPEG's EXIF orientation is
// applied, so the picture is upright as viewers show it. Every error is one
// line naming the file: missing, a folder, not a regular file (a named pipe
// or a device is refused without reading it), empty, not a picture,
// truncated, corrupt, or over DefaultMaxPixels.
func Load(path string) (image.Image, error) { return Loader{}.Load(path) }

// Loader loads pictures within its own bound; the zero value's bound is
// DefaultMaxPixels.
type Loader struct {
	MaxPixels int // the largest picture (width x height) decoded; 0: DefaultMaxPixels
}

// Load is the package's Load with l's bound.
func (l Loader) Load(path string) (image.Image, error) {
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		return nil, fmt.Errorf("%s: a folder, not a picture", path)
	}
	f, err := regularfile.Open(path) // never a named pipe or a device
	if err != nil {
		return nil, err // "open PATH: no such file or directory", "PATH is a named pipe: ..."
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	switch {
	case info.Size() == 0:
		return nil, fmt.Errorf("%s: empty file, not a picture", path)
	}
	limit := l.MaxPixels
	if limit <= 0 {
		limit = DefaultMaxPixels
	}
	img, err := decode(f, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

// decode checks r's dimensions against maxPixels before decoding it.
func decode(r io.ReadSeeker, maxPixels int) (image.Image, error) {
	cfg, format, err := image.DecodeConfig(bufio.NewReader(r))
	if err != nil {
		return nil, decodeError(format, err)
	}
	if cfg.Width < 1 || cfg.Height < 1 {
		return nil, fmt.Errorf("empty %s picture (%dx%d pixels)", upper(format), cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > int64(maxPixels) {
		return nil, fmt.Errorf("%s picture of %dx%d pixels (%s megapixels) is over the limit of %s megapixels",
			upper(format), cfg.Width, cfg.Height, megapixels(px), megapixels(int64(maxPixels)))
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(bufio.NewReader(r))
	if err != nil {
		return nil, decodeError(format, err)
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, fmt.Errorf("corrupt %s picture: header says %dx%d pixels, data %dx%d", upper(format), cfg.Width, cfg.Height, b.Dx(), b.Dy())
	}
	if format == "jpeg" {
		head := make([]byte, exifPrefix)
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		n, _ := io.ReadFull(r, head)
		img = orient(img, exifOrientation(head[:n]))
	}
	return img, nil
}

// decodeError says in words what went wrong; format is "" when not yet known.
func decodeError(format string, err error) error {
	what := "picture"
	if format != "" {
		what = upper(format) + " picture"
	}
	switch {
	case errors.Is(err, image.ErrFormat):
		return errors.New("not a JPEG, PNG or GIF picture")
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		// A cut file ends early, and so does one whose bytes were damaged
		// where they give a length: the decoder cannot tell the two apart.
		return fmt.Errorf("truncated or corrupt %s (its data ends before the picture does)", what)
	default:
		return fmt.Errorf("corrupt or truncated %s (%v)", what, strings.ReplaceAll(err.Error(), "\n", " "))
	}
}

func upper(format string) string { return strings.ToUpper(format) }

// megapixels prints 3600, 100 or 0.25.
func megapixels(px int64) string {
	return strconv.FormatFloat(float64(px)/1e6, 'f', -1, 64)
}

// Size fills in a zero width or height from the picture's own aspect, so a
// config may fix one side and keep the picture's orientation.
func Size(img image.Image, width, height int) (int, int) {
	b := img.Bounds()
	switch {
	case width > 0 && height > 0:
		return width, height
	case width > 0:
		return width, max(1, (width*b.Dy()+b.Dx()/2)/b.Dx())
	case height > 0:
		return max(1, (height*b.Dx()+b.Dy()/2)/b.Dy()), height
	default:
		return b.Dx(), b.Dy()
	}
}

// Fit centre-crops img to the aspect of width x height (portrait or
// landscape alike) and resizes it with Catmull-Rom to exactly that size.
func Fit(img image.Image, width, height int) *image.RGBA {
	b := img.Bounds()
	crop := b
	// Compare aspects with integers: b.Dx/b.Dy > width/height.
	if b.Dx()*height > width*b.Dy() {
		w := (b.Dy()*width + height/2) / height
		crop.Min.X += (b.Dx() - w) / 2
		crop.Max.X = crop.Min.X + w
	} else if b.Dx()*height < width*b.Dy() {
		h := (b.Dx()*height + width/2) / width
		crop.Min.Y += (b.Dy() - h) / 2
		crop.Max.Y = crop.Min.Y + h
	}
	dst := image.NewRGBA(image.Rect(0, 0, width, height))
	// Transparent areas (GIF, PNG) land on white, not on black.
	draw.Draw(dst, dst.Bounds(), image.White, image.Point{}, draw.Src)
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), img, crop, draw.Over, nil)
	return dst
}

// Tensor is a picture in the network's input layout: NHWC float32 with
// N = 1 and the model's mean pixel subtracted.
type Tensor struct {
	Width, Height int
	Data          []float32 // len = Height*Width*3
}

// NewTensor allocates a zero tensor of the given size.
func NewTensor(width, height int) *Tensor {
	return &Tensor{Width: width, Height: height, Data: make([]float32, width*height*3)}
}

// FromImage converts an RGBA picture, subtracting mean (RGB).
func FromImage(img *image.RGBA, mean [3]float32) *Tensor {
	b := img.Bounds()
	t := NewTensor(b.Dx(), b.Dy())
	i := 0
	for y := 0; y < b.Dy(); y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+4*b.Dx()]
		for x := 0; x < len(row); x += 4 {
			t.Data[i] = float32(row[x]) - mean[0]
			t.Data[i+1] = float32(row[x+1]) - mean[1]
			t.Data[i+2] = float32(row[x+2]) - mean[2]
			i += 3
		}
	}
	return t
}

// Image adds mean back and clips to [0, 255], as the notebook's checkpoints do.
func (t *Tensor) Image(mean [3]float32) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, t.Width, t.Height))
	for p, i := 0, 0; i < len(t.Data); p, i = p+4, i+3 {
		for c := 0; c < 3; c++ {
			v := t.Data[i+c] + mean[c] + 0.5
			switch {
			case v <= 0 || v != v: // NaN shows as black rather than garbage
				img.Pix[p+c] = 0
			case v >= 255:
				img.Pix[p+c] = 255
			default:
				img.Pix[p+c] = uint8(v)
			}
		}
		img.Pix[p+3] = 255
	}
	return img
}

// SavePNG writes img atomically (temporary file, synced, then renamed) and
// records text (key -> value) as PNG tEXt chunks, so a picture carries what
// made it.
func SavePNG(path string, img image.Image, text map[string]string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*.png")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	w := bufio.NewWriter(tmp)
	werr := EncodePNG(w, img, text)
	if werr == nil {
		werr = w.Flush()
	}
	if werr == nil {
		werr = tmp.Chmod(0o644) // CreateTemp makes 0600; pictures are for sharing
	}
	if werr == nil {
		werr = tmp.Sync()
	}
	cerr := tmp.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}

// EncodePNG writes img as a PNG with text (key -> value) as tEXt chunks; a
// run folder writes checkpoints with it (rundir.Folder.WriteWith).
func EncodePNG(w io.Writer, img image.Image, text map[string]string) error {
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img); err != nil {
		return fmt.Errorf("encode PNG: %w", err)
	}
	_, err := w.Write(withText(buf.Bytes(), text))
	return err
}

// withText inserts tEXt chunks right after IHDR (8-byte signature + 25-byte IHDR).
func withText(pngData []byte, text map[string]string) []byte {
	if len(text) == 0 {
		return pngData
	}
	const afterIHDR = 8 + 4 + 4 + 13 + 4
	keys := make([]string, 0, len(text))
	for k := range text {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var chunks bytes.Buffer
	for _, k := range keys {
		body := append([]byte("tEXt"), k...)
		body = append(body, 0)
		body = append(body, latin1(text[k])...)
		chunks.Write(binary.BigEndian.AppendUint32(nil, uint32(len(body)-4)))
		chunks.Write(body)
		chunks.Write(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(body)))
	}
	out := make([]byte, 0, len(pngData)+chunks.Len())
	out = append(out, pngData[:afterIHDR]...)
	out = append(out, chunks.Bytes()...)
	return append(out, pngData[afterIHDR:]...)
}

// ReadText reads a PNG's tEXt chunks (key -> value), those EncodePNG
// writes, up to the first image data; it reads at most maxTextRead bytes.
func ReadText(r io.Reader) (map[string]string, error) {
	br := io.LimitReader(r, maxTextRead)
	head := make([]byte, 8)
	if _, err := io.ReadFull(br, head); err != nil || string(head) != "\x89PNG\r\n\x1a\n" {
		return nil, errors.New("not a PNG")
	}
	text := map[string]string{}
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return text, nil
		}
		n, kind := binary.BigEndian.Uint32(hdr[:4]), string(hdr[4:])
		if kind == "IDAT" || kind == "IEND" || n > maxTextRead {
			return text, nil
		}
		body := make([]byte, int(n)+4) // data and CRC
		if _, err := io.ReadFull(br, body); err != nil {
			return text, nil
		}
		if kind == "tEXt" {
			if k, v, ok := bytes.Cut(body[:n], []byte{0}); ok {
				r := make([]rune, len(v)) // Latin-1: one byte, one rune
				for i, b := range v {
					r[i] = rune(b)
				}
				text[string(k)] = string(r)
			}
		}
	}
}

// maxTextRead bounds ReadText: text chunks come before the image data.
const maxTextRead = 1 << 20

// latin1 keeps tEXt valid: PNG text chunks are Latin-1, so other runes become '?'.
func latin1(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 255 {
			r = '?'
		}
		out = append(out, byte(r))
	}
	return out
}
