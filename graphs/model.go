// Package graphs is the typed view of an exported style-transfer SavedModel:
// it loads the model with tfgo, finds every signature tensor by name from the
// model's own SignatureDefs, checks the exporter's metadata, and turns tfgo's
// panics into ordinary errors. Nothing outside this package touches TensorFlow.
package graphs

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	corepb "github.com/galeone/tensorflow/tensorflow/go/core/protobuf/for_core_protos_go_proto"
	tg "github.com/galeone/tfgo"
)

// Signature names written by export/graph.py. Loss and features come one
// per layer: loss_<L> and features_<L> compute layer L and those before it
// only, so a run pays for no layer deeper than the deepest it uses.
const (
	sigSetTargets = "set_targets"
	// sigSetForward stores the flipped kernels the loss_forward_<L>
	// signatures use, for the first depth layers.
	sigSetForward = "set_forward_gradient"
	sigMetadata   = "metadata"
)

// ConvGradients are the forms Options.ConvGradient names (auto aside).
var ConvGradients = []string{"backprop", "forward"}

func lossSig(layer, convGradient string) string {
	if convGradient == "forward" {
		return "loss_forward_" + layer
	}
	return "loss_" + layer
}
func featuresSig(layer string) string { return "features_" + layer }

// Model is a loaded SavedModel with its signatures resolved. It holds one
// run's targets at a time (SetTargets), so runs sharing a Model take turns.
type Model struct {
	Dir  string
	Meta Metadata
	// Device is the TensorFlow device the graph runs on ("/device:CPU:0",
	// "/device:GPU:0"), as chosen by Options.Device.
	Device string

	tfm  *tg.Model
	sigs map[string]signature

	// zero targets fed for layers a run does not use (broadcast in the graph)
	zeroContent, zeroGram *tf.Tensor
	features              featureCache // features computed, reused across runs (sweeps)
	// convGradient is the loss signatures' form in use (ConvGradients).
	convGradient string
	// forwardDepth is how many layers' flipped kernels set_forward_gradient
	// stored (0: none yet).
	forwardDepth int
	// deepest is the index of the layer whose loss signature NewEvaluator
	// runs: the deepest the targets use (SetTargets), or the next loaded.
	deepest int
	// forwardExported says the export has the loss_forward_<L> signatures.
	forwardExported bool
	// pruned says the graph was loaded with some depths' signatures only
	// (Options.Runs).
	pruned bool
}

type signature struct {
	inputs, outputs map[string]tf.Output
}

// Load reads the SavedModel in dir (tag "serve") with TensorFlow's default
// session settings and checks it is one the exporter wrote for this runner.
func Load(dir string) (*Model, error) { return LoadWith(dir, Options{}) }

// LoadWith is Load with session settings.
func LoadWith(dir string, opts Options) (*Model, error) {
	m, err := load(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", dir, err)
	}
	return m, nil
}

// load reads, checks and prunes the SavedModel as protobuf, then hands
// TensorFlow the graph it checked and resolves the signatures.
func load(dir string, opts Options) (*Model, error) {
	sessionOpts, device, err := opts.session()
	if err != nil {
		return nil, err
	}
	saved, err := readModel(dir)
	if err != nil {
		return nil, err
	}
	if err := checkSafe(dir, saved, opts.Trust); err != nil {
		return nil, err
	}
	defs, md, err := readContract(dir, saved)
	if err != nil {
		return nil, err
	}
	m := &Model{Dir: dir, Device: device, Meta: md, sigs: map[string]signature{}}
	m.forwardExported = defs[lossSig(md.Layers[0], "forward")] != nil
	if m.convGradient, err = m.chooseConvGradient(opts.ConvGradient, opts.BFloat16); err != nil {
		return nil, err
	}
	if opts.Runs != nil {
		for _, mg := range saved.GetMetaGraphs() {
			prune(mg, keptSignatures(md, defs, opts.Runs, m.convGradient)) // defs (serve's) pruned too
		}
		m.pruned = true
	}
	loadDir, err := loadFrom(dir, saved, opts)
	if err != nil {
		return nil, err
	}
	if loadDir != dir {
		defer os.RemoveAll(loadDir)
	}
	if err := m.open(loadDir, sessionOpts, defs); err != nil {
		return nil, err
	}
	// Until SetTargets: the deepest loaded loss signature (every layer's).
	m.deepest = len(m.Meta.Layers) - 1
	for m.pruned && m.deepest > 0 && !m.loaded(m.lossSigOf(m.Meta.Layers[m.deepest])) {
		m.deepest--
	}
	if m.zeroContent, err = tf.NewTensor([][][][]float32{{{{0}}}}); err != nil {
		return nil, err
	}
	if m.zeroGram, err = tf.NewTensor([][]float32{{0}}); err != nil {
		return nil, err
	}
	returnGoHeap()
	return m, nil
}

// loadFrom is the folder TensorFlow loads: a temporary copy holding saved
// as graphs checked (and pruned) it, so that a saved_model.pb swapped in dir
// after the check is never run; dir itself for a trusted model loaded whole.
// Where no temporary folder can be written, a trusted model loads whole from
// dir (slower to start, the same results), and another is refused.
func loadFrom(dir string, saved *corepb.SavedModel, opts Options) (string, error) {
	if opts.Trust && opts.Runs == nil {
		return dir, nil
	}
	tmp, err := writeCopy(dir, saved)
	switch {
	case err == nil:
		return tmp, nil
	case opts.Trust:
		return dir, nil
	}
	return "", fmt.Errorf("cannot write the checked copy of saved_model.pb that TensorFlow loads (%w): set TMPDIR to a writable folder", err)
}

// readContract finds the serve meta graph's signatures and the export's
// metadata in saved, without TensorFlow, and checks they are this project's.
func readContract(dir string, saved *corepb.SavedModel) (map[string]*corepb.SignatureDef, Metadata, error) {
	var defs map[string]*corepb.SignatureDef
	for _, mg := range saved.GetMetaGraphs() {
		if slices.Contains(mg.GetMetaInfoDef().GetTags(), "serve") {
			defs = mg.GetSignatureDef()
		}
	}
	if defs == nil {
		return nil, Metadata{}, errors.New(`no meta graph tagged "serve"`)
	}
	for _, name := range []string{sigMetadata, sigSetTargets} {
		if defs[name] == nil {
			return nil, Metadata{}, fmt.Errorf("no %q signature: not exported by this project's export/", name)
		}
	}
	js, err := metadataJSON(dir, saved)
	if err != nil {
		return nil, Metadata{}, err
	}
	md, err := parseMetadata([]byte(js))
	return defs, md, err
}

// open loads the SavedModel in dir (the graph checked, or its pruned copy)
// into a TensorFlow session and resolves each signature of defs to graph
// outputs, checking the runner finds every tensor it needs.
func (m *Model) open(dir string, sessionOpts *tf.SessionOptions, defs map[string]*corepb.SignatureDef) error {
	if err := catch(func() { m.tfm = tg.LoadModel(dir, []string{"serve"}, sessionOpts) }); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	var err error
	for name, def := range defs {
		if strings.HasPrefix(name, "__") { // e.g. __saved_model_init_op
			continue
		}
		s := signature{inputs: map[string]tf.Output{}, outputs: map[string]tf.Output{}}
		for key, info := range def.GetInputs() {
			if s.inputs[key], err = m.output(info.GetName()); err != nil {
				return fmt.Errorf("signature %s input %s: %w", name, key, err)
			}
		}
		for key, info := range def.GetOutputs() {
			if s.outputs[key], err = m.output(info.GetName()); err != nil {
				return fmt.Errorf("signature %s output %s: %w", name, key, err)
			}
		}
		m.sigs[name] = s
	}
	return m.checkSignatures()
}

// returnGoHeap collects the Go heap and hands its free pages back to the
// system. Called where the Go side has just dropped tens of MiB (the parsed
// saved_model.pb, decoded pictures) and TensorFlow is about to allocate the
// run's buffers: the Go runtime would otherwise keep those pages resident
// through the process's peak (50-60 MB of it at 256x256). A collection
// of the runner's few-MiB live heap takes milliseconds.
func returnGoHeap() { debug.FreeOSMemory() }

// VersionNote says when the model was exported by another TensorFlow than
// the one running it (usually harmless; the cause if an op is missing).
func (m *Model) VersionNote() string {
	if v := tf.Version(); m.Meta.TensorFlow != "" && m.Meta.TensorFlow != v {
		return fmt.Sprintf("model exported with TensorFlow %s, running on %s", m.Meta.TensorFlow, v)
	}
	return ""
}

// checkSignatures makes sure every tensor the runner will ask for exists, so
// a mismatched export fails at load time, not in the middle of a run.
func (m *Model) checkSignatures() error {
	need := map[string][]string{
		sigSetTargets: {"content_weights", "style_weights", "tv_weights", "tv_grid_power"},
	}
	outs := map[string][]string{
		sigSetTargets: {"ok"},
	}
	// A pruned model (Options.Runs) holds some depths' signatures only.
	depth := func(sig string, inputs, outputs []string) {
		if m.loaded(sig) || !m.pruned {
			need[sig], outs[sig] = inputs, outputs
		}
	}
	for _, l := range m.Meta.Layers {
		need[sigSetTargets] = append(need[sigSetTargets], "content_"+l, "gram_"+l)
		for _, form := range ConvGradients {
			if form == "backprop" || m.hasForwardGradient() {
				depth(lossSig(l, form), []string{"image"}, lossOutputs[:])
			}
		}
		depth(featuresSig(l), []string{"image"}, []string{ActivationKey(l), GramKey(l), SizeKey(l)})
	}
	if m.hasForwardGradient() {
		need[sigSetForward], outs[sigSetForward] = []string{"depth"}, []string{"ok"}
	}
	for sig, keys := range need {
		s, ok := m.sigs[sig]
		if !ok {
			return fmt.Errorf("no %q signature: exported for another runner (re-export the model)", sig)
		}
		for _, k := range keys {
			if _, ok := s.inputs[k]; !ok {
				return fmt.Errorf("signature %s has no input %q", sig, k)
			}
		}
	}
	for sig, keys := range outs {
		for _, k := range keys {
			if _, ok := m.sigs[sig].outputs[k]; !ok {
				return fmt.Errorf("signature %s has no output %q", sig, k)
			}
		}
	}
	return nil
}

// hasForwardGradient says whether the export has the loss_forward_<L>
// signatures (exports before them have only loss_<L>).
func (m *Model) hasForwardGradient() bool { return m.forwardExported }

// depthFor is the depth (a layer index) whose signature, named by sig from
// the layer, computes the layers up to deepest: deepest itself, or where
// the model was loaded for other runs (Options.Runs), the shallowest loaded
// one deeper than it, whose extra layers then weigh 0.
func (m *Model) depthFor(sig func(layer string) string, deepest int) (int, error) {
	for i := deepest; i < len(m.Meta.Layers); i++ {
		if m.loaded(sig(m.Meta.Layers[i])) {
			return i, nil
		}
	}
	l := m.Meta.Layers[deepest]
	return 0, fmt.Errorf("the model was loaded for runs that stop above %s (no %s signature loaded; see graphs.Options.Runs)", l, sig(l))
}

// loaded says whether the signature was loaded (see Options.Runs).
func (m *Model) loaded(sig string) bool {
	_, ok := m.sigs[sig]
	return ok
}

// lossSigOf names the loss signature of a layer in the form in use.
func (m *Model) lossSigOf(layer string) string { return lossSig(layer, m.convGradient) }

// chooseConvGradient resolves Options.ConvGradient for this model and host:
// auto is the forward form (Winograd's F(4x4, 3x3) from conv3_2 on) on a CPU
// in float32, where it was the faster with oneDNN on and off, and backprop on
// a GPU, whose cuDNN kernels choose their own algorithms, and in bfloat16,
// whose 8-bit mantissa the Winograd transforms would amplify.
func (m *Model) chooseConvGradient(want string, bfloat16 bool) (string, error) {
	switch want {
	case "", "auto":
		if m.hasForwardGradient() && !bfloat16 && !strings.Contains(m.Device, "GPU") {
			return "forward", nil
		}
		return "backprop", nil
	case "backprop":
		return want, nil
	case "forward":
		if !m.hasForwardGradient() {
			return "", errors.New("conv_gradient forward: this export has no loss_forward_<layer> signatures (re-export the model)")
		}
		return want, nil
	}
	return "", fmt.Errorf("conv_gradient %q: want auto, backprop or forward", want)
}

// ConvGradient is the form of the convolutions' input gradient the loss
// uses: "backprop" or "forward" (see Options.ConvGradient).
func (m *Model) ConvGradient() string { return m.convGradient }

// output turns a TensorInfo name ("op:0") into a graph output.
func (m *Model) output(name string) (tf.Output, error) {
	op, idx := name, 0
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		n, err := strconv.Atoi(name[i+1:])
		if err != nil {
			return tf.Output{}, fmt.Errorf("bad tensor name %q", name)
		}
		op, idx = name[:i], n
	}
	var out tf.Output
	err := catch(func() { out = m.tfm.Op(op, idx) })
	return out, err
}

// run executes a signature: feeds by input key, fetches by output key.
func (m *Model) run(sig string, feeds map[string]*tf.Tensor, fetch ...string) ([]*tf.Tensor, error) {
	return m.runAll(call{sig, feeds, fetch})
}

// call is one signature's part of a run: feeds by input key, fetches by
// output key.
type call struct {
	sig   string
	feeds map[string]*tf.Tensor
	fetch []string
}

// runAll executes several signatures in one session run, their fetches in
// order. Each new combination of feeds and fetches costs a graph
// optimization (tenths of a second), so independent set-up steps share one.
func (m *Model) runAll(calls ...call) ([]*tf.Tensor, error) {
	var fd map[tf.Output]*tf.Tensor
	var fo []tf.Output
	var names []string
	for _, c := range calls {
		s, ok := m.sigs[c.sig]
		if !ok {
			return nil, fmt.Errorf("no signature %q", c.sig)
		}
		if fd == nil {
			fd = make(map[tf.Output]*tf.Tensor, len(c.feeds))
		}
		for k, t := range c.feeds {
			in, ok := s.inputs[k]
			if !ok {
				return nil, fmt.Errorf("signature %s has no input %q", c.sig, k)
			}
			fd[in] = t
		}
		for _, k := range c.fetch {
			out, ok := s.outputs[k]
			if !ok {
				return nil, fmt.Errorf("signature %s has no output %q", c.sig, k)
			}
			fo = append(fo, out)
		}
		names = append(names, c.sig)
	}
	var res []*tf.Tensor
	if err := catch(func() { res = m.tfm.Exec(fo, fd) }); err != nil {
		return nil, fmt.Errorf("run %s: %w", strings.Join(names, " and "), err)
	}
	return res, nil
}

// catch runs f and returns a panic (tfgo's way of failing) as an error.
func catch(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if _, isRuntime := r.(runtime.Error); isRuntime {
				panic(r) // a bug in this program, not a TensorFlow failure
			}
			err = fmt.Errorf("%s", firstLine(fmt.Sprint(r)))
		}
	}()
	f()
	return nil
}

// firstLine keeps TensorFlow's multi-line messages to one line for the user.
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
