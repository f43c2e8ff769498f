package graphs

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"time"

	tf "github.com/galeone/tensorflow/tensorflow/go"
)

// Exact tiled evaluation. Every loss term is a sum over positions, and so is
// a Gram matrix; given the whole picture's Grams, the gradient at a position
// is local. So a picture too large for one pass is evaluated in tiles with
// no approximation, in two passes:
//
//  1. Grams: each tile runs the network on its owned pixels plus a halo and
//     adds F^T F over the positions it owns (tile_features_<L>).
//  2. Gradient: each tile runs again, given D = G - A of the whole picture,
//     injects its terms' gradient at the positions it owns, back-propagates
//     to its input (tile_loss_<L>) and adds that into the picture's
//     gradient (overlap-add).
//
// Every position is owned by one tile. Its features, and their gradient,
// are the untiled ones when the halo covers the deepest used layer's
// receptive field and tile edges sit on the pooling grid: zero padding then
// meets only the picture's true border (a tile at the border is cut there).
// The total variation is a sum over neighbouring pixels: it is taken here in
// Go over the whole picture (TV.Eval).

func tileSig(kind, layer string) string { return "tile_" + kind + "_" + layer }

// tileExported says whether the export has the tile_<kind>_<L> signatures.
func (m *Model) tileExported() bool {
	for name := range m.sigs {
		if strings.HasPrefix(name, "tile_loss_") {
			return true
		}
	}
	return false
}

// Stride is how many input pixels apart layer i's positions are: 2 to the
// number of poolings up to it (VGG pools before each block's first layer,
// conv2_1 to conv5_1).
func (md Metadata) Stride(i int) int {
	s := 1
	for _, l := range md.Layers[:i+1] {
		if strings.HasSuffix(l, "_1") && !strings.HasPrefix(l, "conv1_") {
			s *= 2
		}
	}
	return s
}

// TileGrid is what exact tiles need for runs whose deepest layer is the
// model's layer deepest: tile sides and origins are multiples of Grid (that
// layer's stride, so every pooling window lies in one tile), and each tile
// carries Halo pixels of its neighbours on each inner side (the layer's
// receptive field past its owned pixels, rounded up to Grid).
func (md Metadata) TileGrid(deepest int) (halo, grid int) {
	reach := 0 // pixels from a tile's inner edge whose features the edge changes
	for i := range deepest + 1 {
		s := md.Stride(i)
		reach = ceilTo(reach, s) + s // a pooled position is wrong if any input is; a 3x3 conv reaches one position further
	}
	grid = md.Stride(deepest)
	return ceilTo(reach, grid), grid
}

func ceilTo(n, m int) int { return (n + m - 1) / m * m }

// Tile is one tile of a picture: the pixels it owns and the input it runs
// on (the owned pixels plus the halo, cut at the picture's border).
type Tile struct {
	Y0, X0, Y1, X1         int // owned pixels [Y0, Y1) x [X0, X1)
	InY0, InX0, InY1, InX1 int // input pixels
}

// Tiles cuts a width x height picture into tiles of side (a multiple of
// grid) with the given halo, row by row.
func Tiles(width, height, side, halo int) []Tile {
	var out []Tile
	for y := 0; y < height; y += side {
		for x := 0; x < width; x += side {
			t := Tile{Y0: y, X0: x, Y1: min(y+side, height), X1: min(x+side, width)}
			t.InY0, t.InX0 = max(0, y-halo), max(0, x-halo)
			t.InY1, t.InX1 = min(height, t.Y1+halo), min(width, t.X1+halo)
			out = append(out, t)
		}
	}
	return out
}

func (t Tile) inW() int { return t.InX1 - t.InX0 }
func (t Tile) inH() int { return t.InY1 - t.InY0 }

// owned is the tile signatures' owned input: [top, left, bottom, right]
// in the tile's input pixels.
func (t Tile) owned() (*tf.Tensor, error) {
	return tf.NewTensor([]int32{int32(t.Y0 - t.InY0), int32(t.X0 - t.InX0), int32(t.Y1 - t.InY0), int32(t.X1 - t.InX0)})
}

// cut copies the tile's input pixels out of a width-wide NHWC picture.
func (t Tile) cut(img []float32, width int, dst []float32) []float32 {
	w := 3 * t.inW()
	dst = dst[:0]
	for y := t.InY0; y < t.InY1; y++ {
		row := (y*width + t.InX0) * 3
		dst = append(dst, img[row:row+w]...)
	}
	return dst
}

// addTo adds a tile-input-sized NHWC gradient into the picture's.
func (t Tile) addTo(grad []float32, width int, g []float32) {
	w := 3 * t.inW()
	for y := t.InY0; y < t.InY1; y++ {
		dst := grad[(y*width+t.InX0)*3:][:w]
		src := g[(y-t.InY0)*w:][:w]
		for i, v := range src {
			dst[i] += v
		}
	}
}

// layerBox is the positions of a layer with the given stride that the tile
// owns, in the whole picture's layer coordinates.
func (t Tile) layerBox(stride int) (y0, x0, y1, x1 int) {
	return t.Y0 / stride, t.X0 / stride, ceilDiv(t.Y1, stride), ceilDiv(t.X1, stride)
}

func ceilDiv(n, d int) int { return (n + d - 1) / d }

// featureMap is a layer's activation held in Go: h x w positions of c channels.
type featureMap struct {
	h, w, c int
	data    []float32
}

// box copies positions [y0, y1) x [x0, x1) into a [1, y1-y0, x1-x0, c] tensor.
func (f *featureMap) box(y0, x0, y1, x1 int, buf []float32) (*tf.Tensor, []float32, error) {
	buf = buf[:0]
	for y := y0; y < y1; y++ {
		buf = append(buf, f.data[(y*f.w+x0)*f.c:(y*f.w+x1)*f.c]...)
	}
	t, err := tf.ReadTensor(tf.Float, []int64{1, int64(y1 - y0), int64(x1 - x0), int64(f.c)}, byteReader(floatBytes(buf)))
	return t, buf, err
}

// TiledFeatures is Features for a picture evaluated in tiles of side (see
// TileGrid): activations assembled from the tiles' owned positions (held in
// Go: they feed TiledEvaluator, not SetTargets), Grams summed over the
// tiles, and sizes, under the same keys.
func (m *Model) TiledFeatures(img []float32, width, height, side int, keys ...string) (map[string]Tensor, error) {
	deepest := 0
	for _, k := range keys {
		i := m.keyLayer(k)
		if i < 0 {
			return nil, fmt.Errorf("tiled features: model has no output %q", k)
		}
		deepest = max(deepest, i)
	}
	depth, err := m.depthFor(func(l string) string { return tileSig("features", l) }, deepest)
	if err != nil {
		return nil, fmt.Errorf("tiled features: %w", err)
	}
	halo, grid := m.Meta.TileGrid(depth)
	if side%grid != 0 {
		return nil, fmt.Errorf("tiled features: tile %d is not a multiple of %d", side, grid)
	}
	out := make(map[string]Tensor, len(keys))
	maps := map[string]*featureMap{}
	grams := map[string][]float64{}
	var fetch []string
	for _, k := range keys {
		i := m.keyLayer(k)
		s := m.Meta.Stride(i)
		h, w, c := ceilDiv(height, s), ceilDiv(width, s), m.Meta.Channels[i]
		switch l := m.Meta.Layers[i]; k {
		case SizeKey(l):
			t, err := tf.NewTensor([]int32{int32(h), int32(w)})
			if err != nil {
				return nil, err
			}
			out[k] = Tensor{t: t}
			continue
		case GramKey(l):
			grams[l] = make([]float64, c*c)
		default:
			maps[l] = &featureMap{h: h, w: w, c: c, data: make([]float32, h*w*c)}
		}
		fetch = append(fetch, k)
	}
	var buf []float32
	var gbuf []float32
	for _, t := range Tiles(width, height, side, halo) {
		buf = t.cut(img, width, buf)
		in, err := imageTensor(buf, t.inW(), t.inH())
		if err != nil {
			return nil, err
		}
		owned, err := t.owned()
		if err != nil {
			return nil, err
		}
		res, err := m.run(tileSig("features", m.Meta.Layers[depth]), map[string]*tf.Tensor{"image": in, "owned": owned}, fetch...)
		if err != nil {
			return nil, err
		}
		for j, k := range fetch {
			i := m.keyLayer(k)
			l := m.Meta.Layers[i]
			if g, ok := grams[l]; ok && k == GramKey(l) {
				gbuf = readFloats(res[j], gbuf, len(g))
				if len(gbuf) != len(g) {
					return nil, fmt.Errorf("tiled features %s: Gram of %d values, want %d", k, len(gbuf), len(g))
				}
				for n, v := range gbuf {
					g[n] += float64(v)
				}
				continue
			}
			f := maps[l]
			y0, x0, y1, x1 := t.layerBox(m.Meta.Stride(i))
			w := (x1 - x0) * f.c
			gbuf = readFloats(res[j], gbuf, (y1-y0)*w)
			if len(gbuf) != (y1-y0)*w {
				return nil, fmt.Errorf("tiled features %s: tile %v gave %d values, want %d", k, t, len(gbuf), (y1-y0)*w)
			}
			for y := y0; y < y1; y++ {
				copy(f.data[(y*f.w+x0)*f.c:], gbuf[(y-y0)*w:(y-y0+1)*w])
			}
		}
		releaseTensors()
	}
	for l, f := range maps {
		out[ActivationKey(l)] = Tensor{goMap: f}
	}
	for l, g := range grams {
		c := m.Meta.Channels[m.Meta.LayerIndex(l)]
		rows := make([][]float32, c)
		for i := range rows {
			rows[i] = make([]float32, c)
			for j := range rows[i] {
				rows[i][j] = float32(g[i*c+j])
			}
		}
		t, err := tf.NewTensor(rows)
		if err != nil {
			return nil, err
		}
		out[GramKey(l)] = Tensor{t: t}
	}
	return out, nil
}

// readFloats reads a float32 tensor of n values into buf (grown as needed).
func readFloats(t *tf.Tensor, buf []float32, n int) []float32 {
	if cap(buf) < n {
		buf = make([]float32, n)
	}
	buf = buf[:n]
	if err := copyTensor(t, floatBytes(buf)); err != nil {
		return buf[:0]
	}
	return buf
}

// TiledEvaluator is Evaluator for a picture evaluated in exact tiles.
type TiledEvaluator struct {
	m              *Model
	width, height  int
	tiles          []Tile
	depth          int
	cw, sw         []float32
	tv             TV
	content        []*featureMap // per layer: content target held in Go, or nil
	gramTargets    [][]float64   // per layer: symmetric target Gram, or nil
	zeroContent    *tf.Tensor
	buf, gbuf, tmp []float32
	gram           [][]float64
	// Progress, when set, is told each tile done: pass 1 (Grams) or 2
	// (gradient), the tile's index and the number of tiles.
	Progress func(pass, tile, tiles int)
	// PassSeconds is the last evaluation's time in pass 1 (the Grams) and
	// pass 2 (content sums and the gradient), set before pass 2 reports its
	// last tile.
	PassSeconds [2]float64
}

// NewTiledEvaluator stores t's coefficients in the graph (SetTargets
// without its content targets and Grams, which stay in Go and are fed
// tile by tile) and prepares evaluations of width x height pictures in
// tiles of side: t.Content comes from TiledFeatures (or Features).
func (m *Model) NewTiledEvaluator(width, height, side int, t Targets) (*TiledEvaluator, error) {
	if !m.tileExported() {
		return nil, fmt.Errorf("tile: this export has no tile_loss_<layer> signatures (re-export the model)")
	}
	if err := m.SetTargets(Targets{ContentWeights: t.ContentWeights, StyleWeights: t.StyleWeights, TV: t.TV}); err != nil {
		return nil, err
	}
	depth, err := m.depthFor(func(l string) string { return tileSig("loss", l) }, m.deepest)
	if err != nil {
		return nil, fmt.Errorf("tile: %w", err)
	}
	halo, grid := m.Meta.TileGrid(depth)
	if side%grid != 0 {
		return nil, fmt.Errorf("tile %d is not a multiple of %d", side, grid)
	}
	n := len(m.Meta.Layers)
	e := &TiledEvaluator{m: m, width: width, height: height, tiles: Tiles(width, height, side, halo), depth: depth,
		cw: t.ContentWeights, sw: t.StyleWeights, tv: t.TV,
		content: make([]*featureMap, n), gramTargets: make([][]float64, n), gram: make([][]float64, n), zeroContent: m.zeroContent}
	for l, v := range t.Content {
		i := m.Meta.LayerIndex(l)
		if i < 0 {
			return nil, fmt.Errorf("tile: model has no layer %q", l)
		}
		if e.content[i], err = v.featureMap(m.Meta.Channels[i]); err != nil {
			return nil, fmt.Errorf("tile: content target %s: %w", l, err)
		}
	}
	for l, v := range t.Grams {
		i := m.Meta.LayerIndex(l)
		a, ok := v.t.Value().([][]float32)
		c := m.Meta.Channels[i]
		if i < 0 || !ok || len(a) != c {
			return nil, fmt.Errorf("tile: target Gram %s is not %dx%d", l, c, c)
		}
		g := make([]float64, c*c)
		for r := range c {
			for s := range c {
				g[r*c+s] = 0.5 * (float64(a[r][s]) + float64(a[s][r]))
			}
		}
		e.gramTargets[i] = g
	}
	return e, nil
}

// Tiles is how many tiles each pass runs.
func (e *TiledEvaluator) Tiles() int { return len(e.tiles) }

// Evaluate is Evaluator.Evaluate, in two passes over the tiles.
func (e *TiledEvaluator) Evaluate(img, grad []float32, out *Losses) error {
	start := time.Now()
	n := e.width * e.height * 3
	if len(img) != n || len(grad) != n {
		return fmt.Errorf("evaluate: image has %d values, gradient %d, want %d", len(img), len(grad), n)
	}
	layers := len(e.m.Meta.Layers)
	if len(out.ContentLayers) != layers {
		out.ContentLayers = make([]float32, layers)
		out.StyleLayers = make([]float32, layers)
	}
	sig := e.m.Meta.Layers[e.depth]
	// Pass 1: the picture's Grams of the style layers.
	var fetch []string
	var styled []int
	for i := range e.depth + 1 {
		if e.sw[i] != 0 {
			fetch = append(fetch, GramKey(e.m.Meta.Layers[i]))
			styled = append(styled, i)
			c := e.m.Meta.Channels[i]
			if e.gram[i] == nil {
				e.gram[i] = make([]float64, c*c)
			}
			clear(e.gram[i])
		}
	}
	if len(fetch) > 0 {
		for ti, t := range e.tiles {
			feeds, err := e.tileFeeds(t, img)
			if err != nil {
				return err
			}
			res, err := e.m.run(tileSig("features", sig), feeds, fetch...)
			if err != nil {
				return fmt.Errorf("tile %d Grams: %w", ti, err)
			}
			for j, i := range styled {
				g := e.gram[i]
				e.tmp = readFloats(res[j], e.tmp, len(g))
				if len(e.tmp) != len(g) {
					return fmt.Errorf("tile %d: Gram %s has the wrong size", ti, fetch[j])
				}
				for k, v := range e.tmp {
					g[k] += float64(v)
				}
			}
			releaseTensors()
			if e.Progress != nil {
				e.Progress(1, ti+1, len(e.tiles))
			}
		}
	}
	// The style sums and D = G - A, fed to every tile of pass 2.
	diffs := make([]*tf.Tensor, e.depth+1)
	var style float64
	for i := range e.depth + 1 {
		out.StyleLayers[i] = 0
		if e.sw[i] == 0 {
			diffs[i] = e.m.zeroGram
			continue
		}
		c := e.m.Meta.Channels[i]
		d := make([]float32, c*c)
		var sum float64
		for k, g := range e.gram[i] {
			var a float64
			if e.gramTargets[i] != nil {
				a = e.gramTargets[i][k]
			}
			v := g - a
			d[k] = float32(v)
			sum += v * v
		}
		out.StyleLayers[i] = float32(sum)
		style += float64(e.sw[i]) * sum
		t, err := tf.ReadTensor(tf.Float, []int64{int64(c), int64(c)}, byteReader(floatBytes(d)))
		if err != nil {
			return err
		}
		diffs[i] = t
	}
	for i := e.depth + 1; i < layers; i++ {
		out.StyleLayers[i], out.ContentLayers[i] = 0, 0
	}
	e.PassSeconds = [2]float64{time.Since(start).Seconds(), 0}
	pass2 := time.Now()
	// Pass 2: content sums and the gradient, tile by tile.
	clear(grad)
	craw := make([]float64, e.depth+1)
	for ti, t := range e.tiles {
		feeds, err := e.tileFeeds(t, img)
		if err != nil {
			return err
		}
		for i := range e.depth + 1 {
			l := e.m.Meta.Layers[i]
			feeds["diff_"+l] = diffs[i]
			feeds["content_"+l] = e.zeroContent
			if f := e.content[i]; f != nil && e.cw[i] != 0 {
				y0, x0, y1, x1 := t.layerBox(e.m.Meta.Stride(i))
				var ct *tf.Tensor
				if ct, e.gbuf, err = f.box(y0, x0, y1, x1, e.gbuf); err != nil {
					return err
				}
				feeds["content_"+l] = ct
			}
		}
		res, err := e.m.run(tileSig("loss", sig), feeds, "content_layers", "grad")
		if err != nil {
			return fmt.Errorf("tile %d loss: %w", ti, err)
		}
		e.tmp = readFloats(res[0], e.tmp, layers)
		if len(e.tmp) != layers {
			return fmt.Errorf("tile %d: content sums have the wrong size", ti)
		}
		for i := range craw {
			craw[i] += float64(e.tmp[i])
		}
		e.tmp = readFloats(res[1], e.tmp, t.inW()*t.inH()*3)
		if len(e.tmp) != t.inW()*t.inH()*3 {
			return fmt.Errorf("tile %d: gradient has the wrong size", ti)
		}
		t.addTo(grad, e.width, e.tmp)
		releaseTensors()
		e.PassSeconds[1] = time.Since(pass2).Seconds()
		if e.Progress != nil {
			e.Progress(2, ti+1, len(e.tiles))
		}
	}
	var content float64
	for i, c := range craw {
		out.ContentLayers[i] = float32(c)
		content += float64(e.cw[i]) * c
	}
	tv := e.tv.Eval(img, grad, e.width, e.height)
	out.Content, out.Style, out.TV = float32(content), float32(style), float32(tv)
	out.Total = float32(content + style + tv)
	out.RunSeconds = time.Since(start).Seconds()
	return nil
}

// releaseTensors frees the TensorFlow tensors of the tiles done so far. A
// tensor's C memory is freed by its finalizer, after a garbage collection,
// and a tiled pass allocates tens of MB of them per tile (input, content
// box, outputs) but almost nothing on Go's heap, which alone paces the
// collector: left to it, an iteration's tensors pile up into GB. A
// collection of the run's heap (large pointer-free slices) takes
// milliseconds against seconds per tile.
func releaseTensors() { runtime.GC() }

// tileFeeds are the feeds every tile signature takes: its input and owned box.
func (e *TiledEvaluator) tileFeeds(t Tile, img []float32) (map[string]*tf.Tensor, error) {
	e.buf = t.cut(img, e.width, e.buf)
	in, err := imageTensor(e.buf, t.inW(), t.inH())
	if err != nil {
		return nil, err
	}
	owned, err := t.owned()
	if err != nil {
		return nil, err
	}
	return map[string]*tf.Tensor{"image": in, "owned": owned}, nil
}

// Eval adds the gradient of the weighted total variation of a width x
// height NHWC picture into grad and returns it (the formulas of TV, summed
// in float64).
func (tv TV) Eval(img, grad []float32, width, height int) float64 {
	if tv.Vertical == 0 && tv.Horizontal == 0 && tv.Grid == 0 {
		return 0
	}
	at := func(y, x, c int) int { return (y*width+x)*3 + c }
	var v, h, g float64
	wv, wh, wg := float64(tv.Vertical), float64(tv.Horizontal), float64(tv.Grid)
	p := float64(tv.GridPower)
	for y := range height {
		for x := range width {
			for c := range 3 {
				i := at(y, x, c)
				var dy, dx float64
				if y+1 < height {
					dy = float64(img[at(y+1, x, c)] - img[i])
					v += dy * dy
					if wv != 0 {
						grad[at(y+1, x, c)] += float32(2 * wv * dy)
						grad[i] -= float32(2 * wv * dy)
					}
				}
				if x+1 < width {
					dx = float64(img[at(y, x+1, c)] - img[i])
					h += dx * dx
					if wh != 0 {
						grad[at(y, x+1, c)] += float32(2 * wh * dx)
						grad[i] -= float32(2 * wh * dx)
					}
				}
				if wg != 0 && y+1 < height && x+1 < width {
					s := dx*dx + dy*dy
					g += math.Pow(s, p)
					k := 2 * wg * p * math.Pow(s, p-1)
					grad[at(y, x+1, c)] += float32(k * dx)
					grad[at(y+1, x, c)] += float32(k * dy)
					grad[i] -= float32(k * (dx + dy))
				}
			}
		}
	}
	return wv*v + wh*h + wg*g
}

// featureMap is the tensor as a Go-held activation of c channels: the one
// TiledFeatures made, or a copy of an activation TensorFlow holds.
func (t Tensor) featureMap(c int) (*featureMap, error) {
	if t.goMap != nil {
		return t.goMap, nil
	}
	s := t.t.Shape()
	if len(s) != 4 || s[0] != 1 || s[3] != int64(c) {
		return nil, fmt.Errorf("want a [1, h, w, %d] activation, got %v", c, s)
	}
	f := &featureMap{h: int(s[1]), w: int(s[2]), c: c, data: make([]float32, s[1]*s[2]*s[3])}
	if err := copyTensor(t.t, floatBytes(f.data)); err != nil {
		return nil, err
	}
	return f, nil
}
