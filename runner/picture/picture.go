// Package picture turns picture files into the network's input layout and back:
// decoding, centre-cropping to the target aspect, resizing, mean subtraction,
// and PNG checkpoints that say which weights made them.
package picture

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/draw"
	_ "image/gif" // registered decoders: the formats users hand us
	_ "image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"sort"

	xdraw "golang.org/x/image/draw"
)

// Load decodes a JPEG, PNG or GIF file; a JPEG's EXIF orientation is
// applied, so the picture is upright as viewers show it.
func Load(path string) (image.Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	img, format, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return nil, fmt.Errorf("%s: not a JPEG, PNG or GIF picture", path)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if b := img.Bounds(); b.Dx() < 1 || b.Dy() < 1 {
		return nil, fmt.Errorf("%s: empty picture", path)
	}
	if format == "jpeg" {
		img = orient(img, exifOrientation(data))
	}
	return img, nil
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

// SavePNG writes img atomically (temporary file, then rename) and records
// text (key -> value) as PNG tEXt chunks, so a picture carries what made it.
func SavePNG(path string, img image.Image, text map[string]string) error {
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img); err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	data := withText(buf.Bytes(), text)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*.png")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Chmod(0o644) // CreateTemp makes 0600; pictures are for sharing
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
		var n [4]byte
		putUint32(n[:], uint32(len(body)-4))
		chunks.Write(n[:])
		chunks.Write(body)
		putUint32(n[:], crc32.ChecksumIEEE(body))
		chunks.Write(n[:])
	}
	out := make([]byte, 0, len(pngData)+chunks.Len())
	out = append(out, pngData[:afterIHDR]...)
	out = append(out, chunks.Bytes()...)
	return append(out, pngData[afterIHDR:]...)
}

func putUint32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

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
