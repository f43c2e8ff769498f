package graphs

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"runtime"
	"time"
	"unsafe"

	tf "github.com/galeone/tensorflow/tensorflow/go"
)

// Targets are a run's constants: they are stored in the graph once (the
// set_targets signature) so each iteration feeds only the image.
type Targets struct {
	Content map[string]Tensor // layer -> target activation
	Grams   map[string]Tensor // layer -> raw target Gram matrix F^T F
	// Final per-layer coefficients in Meta.Layers order: user weights,
	// strengths and the loss normalisation are all folded in by the caller.
	ContentWeights, StyleWeights []float32
	TV                           TV
}

// TV holds the coefficients of the total-variation forms the graph computes
// on the image x (H x W pixels, summed over channels):
//
//	Vertical   * sum (x[i+1,j] - x[i,j])^2   over the (H-1) x W pairs
//	Horizontal * sum (x[i,j+1] - x[i,j])^2   over the H x (W-1) pairs
//	Grid       * sum (dx^2 + dy^2)^GridPower over the (H-1) x (W-1) pixels
//	             with both neighbours, dx and dy taken at the same pixel
//
// The two pair sums are anishathalye/neural-style's (each divided by its pair
// count, folded in by the caller); the grid form is the Keras example's
// (GridPower 1.25) and jcjohnson/neural-style's TVLoss (GridPower 1).
type TV struct{ Vertical, Horizontal, Grid, GridPower float32 }

// gridPower is the power fed to the graph: 1 when the grid term is unused,
// since 0^0 powers would make its (zero-weighted) gradient NaN.
func (tv TV) gridPower() (float32, error) {
	if tv.Grid == 0 {
		return 1, nil
	}
	if !(tv.GridPower >= 1) || math.IsInf(float64(tv.GridPower), 0) {
		return 0, fmt.Errorf("set targets: TV grid power %g: want a finite power >= 1 (below 1 the gradient is infinite where the picture is flat)", tv.GridPower)
	}
	return tv.GridPower, nil
}

// SetTargets stores targets and coefficients in the model's graph. Layers
// without a target get a broadcast zero (their coefficient should be zero).
// It records the deepest layer with a non-zero coefficient: evaluators made
// afterwards compute no layer past it.
func (m *Model) SetTargets(t Targets) error {
	n := len(m.Meta.Layers)
	if len(t.ContentWeights) != n || len(t.StyleWeights) != n {
		return fmt.Errorf("set targets: want %d content and style weights, got %d and %d", n, len(t.ContentWeights), len(t.StyleWeights))
	}
	power, err := t.TV.gridPower()
	if err != nil {
		return err
	}
	deepest := 0
	for i := range n {
		if t.ContentWeights[i] != 0 || t.StyleWeights[i] != 0 {
			deepest = i
		}
	}
	if deepest, err = m.depthFor(m.lossSigOf, deepest); err != nil {
		return fmt.Errorf("set targets: %w", err)
	}
	feeds := make(map[string]*tf.Tensor, 2*n+4)
	for _, l := range m.Meta.Layers {
		feeds["content_"+l], feeds["gram_"+l] = m.zeroContent, m.zeroGram
	}
	for l, v := range t.Content {
		if m.Meta.LayerIndex(l) < 0 {
			return fmt.Errorf("set targets: model has no layer %q", l)
		}
		if v.goMap != nil { // from TiledFeatures
			t, err := tf.ReadTensor(tf.Float, []int64{1, int64(v.goMap.h), int64(v.goMap.w), int64(v.goMap.c)}, byteReader(floatBytes(v.goMap.data)))
			if err != nil {
				return err
			}
			feeds["content_"+l] = t
			continue
		}
		feeds["content_"+l] = v.t
	}
	for l, v := range t.Grams {
		if m.Meta.LayerIndex(l) < 0 {
			return fmt.Errorf("set targets: model has no layer %q", l)
		}
		feeds["gram_"+l] = v.t
	}
	if feeds["content_weights"], err = tf.NewTensor(t.ContentWeights); err != nil {
		return err
	}
	if feeds["style_weights"], err = tf.NewTensor(t.StyleWeights); err != nil {
		return err
	}
	if feeds["tv_weights"], err = tf.NewTensor([]float32{t.TV.Vertical, t.TV.Horizontal, t.TV.Grid}); err != nil {
		return err
	}
	if feeds["tv_grid_power"], err = tf.NewTensor(power); err != nil {
		return err
	}
	returnGoHeap()
	calls := []call{{sigSetTargets, feeds, []string{"ok"}}}
	forward := m.convGradient == "forward" && m.forwardDepth <= deepest
	if forward {
		// Flipped kernels for the layers this run reaches: once per model,
		// again only when a later run (a sweep's point) reaches deeper. In
		// the same session run as the targets: one graph optimization less.
		depth, err := tf.NewTensor(int32(deepest + 1))
		if err != nil {
			return err
		}
		calls = append(calls, call{sigSetForward, map[string]*tf.Tensor{"depth": depth}, []string{"ok"}})
	}
	if _, err = m.runAll(calls...); err != nil {
		return err
	}
	if forward {
		m.forwardDepth = deepest + 1
	}
	m.deepest = deepest
	return nil
}

// lossOutputs are the loss signatures' outputs in the order Evaluate reads them.
var lossOutputs = [...]string{"total", "content", "style", "tv", "content_layers", "style_layers", "grad"}

// Losses are the values of one loss evaluation. The per-layer slices hold
// raw sums (before coefficients), in Meta.Layers order.
type Losses struct {
	Total, Content, Style, TV  float32
	ContentLayers, StyleLayers []float32
	// RunSeconds is the time this evaluation spent inside TensorFlow's run
	// call: the rest of a step is the Go side's overhead.
	RunSeconds float64
}

// Evaluator evaluates the loss and its gradient for images of one size. It
// keeps its feeds, fetches and result buffers, so the per-iteration call
// allocates only the two image-sized tensors TensorFlow needs.
type Evaluator struct {
	m        *Model
	shape    []int64
	feeds    map[tf.Output]*tf.Tensor
	in       tf.Output
	fetches  []tf.Output
	garbage  int // bytes of C tensors handed to finalizers since the last GC
	scratch4 [4]byte
}

// gcEvery bounds the C memory held by dead tensors: TensorFlow tensors are
// freed by Go finalizers, and the small Go heap alone would rarely trigger a
// GC. A GC of the runner's small heap is cheap next to a step, so collecting
// after every few MiB of dead tensors costs no time and keeps them off the
// peak memory (README, Performance).
const gcEvery = 8 << 20

// NewEvaluator prepares loss evaluations for width x height images, with the
// loss signature of the deepest layer the last SetTargets used (every layer
// before SetTargets is called).
func (m *Model) NewEvaluator(width, height int) *Evaluator {
	s := m.sigs[m.lossSigOf(m.Meta.Layers[m.deepest])]
	e := &Evaluator{
		m:     m,
		shape: []int64{1, int64(height), int64(width), 3},
		feeds: make(map[tf.Output]*tf.Tensor, 1),
		in:    s.inputs["image"],
	}
	for _, k := range lossOutputs {
		e.fetches = append(e.fetches, s.outputs[k])
	}
	return e
}

// Evaluate computes the losses at img (NHWC, mean subtracted) and writes
// d(total)/d(image) into grad (same length as img).
func (e *Evaluator) Evaluate(img, grad []float32, out *Losses) error {
	n := int(e.shape[1] * e.shape[2] * 3)
	if len(img) != n || len(grad) != n {
		return fmt.Errorf("evaluate: image has %d values, gradient %d, want %d", len(img), len(grad), n)
	}
	in, err := tf.ReadTensor(tf.Float, e.shape, byteReader(floatBytes(img)))
	if err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	e.feeds[e.in] = in
	var res []*tf.Tensor
	start := time.Now()
	err = catch(func() { res = e.m.tfm.Exec(e.fetches, e.feeds) })
	out.RunSeconds = time.Since(start).Seconds()
	e.feeds[e.in] = nil
	if err != nil {
		return fmt.Errorf("run loss: %w", err)
	}
	layers := len(e.m.Meta.Layers)
	if len(out.ContentLayers) != layers {
		out.ContentLayers = make([]float32, layers)
		out.StyleLayers = make([]float32, layers)
	}
	for i, dst := range [4]*float32{&out.Total, &out.Content, &out.Style, &out.TV} {
		if err := copyTensor(res[i], e.scratch4[:]); err != nil {
			return fmt.Errorf("loss output %d: %w", i, err)
		}
		*dst = math.Float32frombits(binary.NativeEndian.Uint32(e.scratch4[:]))
	}
	for i, dst := range [3][]float32{out.ContentLayers, out.StyleLayers, grad} {
		if err := copyTensor(res[4+i], floatBytes(dst)); err != nil {
			return fmt.Errorf("loss output %d: %w", 4+i, err)
		}
	}
	e.garbage += 2 * 4 * n
	if e.garbage >= gcEvery {
		e.garbage = 0
		runtime.GC()
	}
	return nil
}

// copyTensor copies a numeric tensor's bytes into dst, which must fit exactly.
func copyTensor(t *tf.Tensor, dst []byte) error {
	w := fixedWriter{buf: dst}
	n, err := t.WriteContentsTo(&w)
	if err != nil {
		return err
	}
	if int(n) != len(dst) {
		return fmt.Errorf("got %d bytes, want %d", n, len(dst))
	}
	return nil
}

// floatBytes views a float32 slice as bytes (no copy).
func floatBytes(f []float32) []byte {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), 4*len(f))
}

type sliceReader struct{ b []byte }

func byteReader(b []byte) *sliceReader { return &sliceReader{b: b} }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// fixedWriter writes into a preallocated buffer and refuses to grow.
type fixedWriter struct {
	buf []byte
	n   int
}

func (w *fixedWriter) Write(p []byte) (int, error) {
	if w.n+len(p) > len(w.buf) {
		return 0, fmt.Errorf("tensor larger than its buffer (%d bytes)", len(w.buf))
	}
	copy(w.buf[w.n:], p)
	w.n += len(p)
	return len(p), nil
}

// imageTensor makes a [1, height, width, 3] tensor from NHWC data.
func imageTensor(img []float32, width, height int) (*tf.Tensor, error) {
	if len(img) != width*height*3 {
		return nil, fmt.Errorf("image has %d values, want %dx%dx3", len(img), height, width)
	}
	return tf.ReadTensor(tf.Float, []int64{1, int64(height), int64(width), 3}, byteReader(floatBytes(img)))
}
