// Package graphs is the typed view of an exported style-transfer SavedModel:
// it loads the model with tfgo, finds every signature tensor by name from the
// model's own SignatureDefs, checks the exporter's metadata, and turns tfgo's
// panics into ordinary errors. Nothing outside this package touches TensorFlow.
package graphs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	corepb "github.com/galeone/tensorflow/tensorflow/go/core/protobuf/for_core_protos_go_proto"
	tg "github.com/galeone/tfgo"
	"google.golang.org/protobuf/proto"
)

// Signature names written by export/graph.py. Loss and features come one
// per layer: loss_<L> and features_<L> compute layer L and those before it
// only, so a run pays for no layer deeper than the deepest it uses.
const (
	sigSetTargets = "set_targets"
	sigMetadata   = "metadata"
)

func lossSig(layer string) string     { return "loss_" + layer }
func featuresSig(layer string) string { return "features_" + layer }

// Model is a loaded SavedModel with its signatures resolved. It holds one
// run's targets at a time (SetTargets), so runs sharing a Model take turns.
type Model struct {
	Dir  string
	Meta Metadata

	tfm  *tg.Model
	sigs map[string]signature

	// zero targets fed for layers a run does not use (broadcast in the graph)
	zeroContent, zeroGram *tf.Tensor
	// deepest is the index of the deepest layer the targets use (SetTargets):
	// NewEvaluator runs that layer's loss signature.
	deepest int
}

// Options are TensorFlow session settings applied when a model is loaded.
// Zero values leave TensorFlow's defaults (one thread per core).
type Options struct {
	IntraOpThreads int // threads inside one op (a convolution)
	InterOpThreads int // ops run at the same time
}

// sessionOptions serialises opts as the ConfigProto TensorFlow reads.
func (opts Options) sessionOptions() (*tf.SessionOptions, error) {
	if opts.IntraOpThreads < 0 || opts.InterOpThreads < 0 {
		return nil, fmt.Errorf("thread counts %d and %d: want 0 (TensorFlow's default) or more", opts.IntraOpThreads, opts.InterOpThreads)
	}
	if opts == (Options{}) {
		return nil, nil
	}
	config, err := proto.Marshal(&corepb.ConfigProto{
		IntraOpParallelismThreads: int32(opts.IntraOpThreads),
		InterOpParallelismThreads: int32(opts.InterOpThreads),
	})
	if err != nil {
		return nil, err
	}
	return &tf.SessionOptions{Config: config}, nil
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

func load(dir string, opts Options) (*Model, error) {
	sessionOpts, err := opts.sessionOptions()
	if err != nil {
		return nil, err
	}
	pbPath := filepath.Join(dir, "saved_model.pb")
	data, err := os.ReadFile(pbPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if _, serr := os.Stat(dir); serr != nil {
				return nil, errors.New("no such folder (export one with `make export`)")
			}
			return nil, errors.New("not a SavedModel folder (no saved_model.pb)")
		}
		return nil, err
	}
	var saved corepb.SavedModel
	if err := proto.Unmarshal(data, &saved); err != nil {
		return nil, fmt.Errorf("saved_model.pb is not a SavedModel: %w", err)
	}
	var defs map[string]*corepb.SignatureDef
	for _, mg := range saved.GetMetaGraphs() {
		for _, tag := range mg.GetMetaInfoDef().GetTags() {
			if tag == "serve" {
				defs = mg.GetSignatureDef()
			}
		}
	}
	if defs == nil {
		return nil, errors.New(`no meta graph tagged "serve"`)
	}
	for _, name := range []string{sigMetadata, sigSetTargets} {
		if defs[name] == nil {
			return nil, fmt.Errorf("no %q signature: not exported by this project's export/", name)
		}
	}

	m := &Model{Dir: dir, sigs: map[string]signature{}}
	if err := catch(func() { m.tfm = tg.LoadModel(dir, []string{"serve"}, sessionOpts) }); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	for name, def := range defs {
		if strings.HasPrefix(name, "__") { // e.g. __saved_model_init_op
			continue
		}
		s := signature{inputs: map[string]tf.Output{}, outputs: map[string]tf.Output{}}
		for key, info := range def.GetInputs() {
			if s.inputs[key], err = m.output(info.GetName()); err != nil {
				return nil, fmt.Errorf("signature %s input %s: %w", name, key, err)
			}
		}
		for key, info := range def.GetOutputs() {
			if s.outputs[key], err = m.output(info.GetName()); err != nil {
				return nil, fmt.Errorf("signature %s output %s: %w", name, key, err)
			}
		}
		m.sigs[name] = s
	}

	res, err := m.run(sigMetadata, nil, "json")
	if err != nil {
		return nil, err
	}
	js, ok := res[0].Value().(string)
	if !ok {
		return nil, errors.New("metadata signature did not return a string")
	}
	if m.Meta, err = parseMetadata([]byte(js)); err != nil {
		return nil, err
	}
	if err := m.checkSignatures(); err != nil {
		return nil, err
	}
	m.deepest = len(m.Meta.Layers) - 1
	if m.zeroContent, err = tf.NewTensor([][][][]float32{{{{0}}}}); err != nil {
		return nil, err
	}
	if m.zeroGram, err = tf.NewTensor([][]float32{{0}}); err != nil {
		return nil, err
	}
	return m, nil
}

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
	for _, l := range m.Meta.Layers {
		need[sigSetTargets] = append(need[sigSetTargets], "content_"+l, "gram_"+l)
		need[lossSig(l)] = []string{"image"}
		outs[lossSig(l)] = lossOutputs[:]
		need[featuresSig(l)] = []string{"image"}
		outs[featuresSig(l)] = []string{ActivationKey(l), GramKey(l), SizeKey(l)}
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
	s, ok := m.sigs[sig]
	if !ok {
		return nil, fmt.Errorf("no signature %q", sig)
	}
	fd := make(map[tf.Output]*tf.Tensor, len(feeds))
	for k, t := range feeds {
		in, ok := s.inputs[k]
		if !ok {
			return nil, fmt.Errorf("signature %s has no input %q", sig, k)
		}
		fd[in] = t
	}
	fo := make([]tf.Output, len(fetch))
	for i, k := range fetch {
		out, ok := s.outputs[k]
		if !ok {
			return nil, fmt.Errorf("signature %s has no output %q", sig, k)
		}
		fo[i] = out
	}
	var res []*tf.Tensor
	if err := catch(func() { res = m.tfm.Exec(fo, fd) }); err != nil {
		return nil, fmt.Errorf("run %s: %w", sig, err)
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
