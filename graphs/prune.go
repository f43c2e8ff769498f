package graphs

import (
	"os"
	"path/filepath"
	"strings"

	fnpb "github.com/galeone/tensorflow/tensorflow/go/core/framework/function_go_proto"
	nodepb "github.com/galeone/tensorflow/tensorflow/go/core/framework/node_def_go_proto"
	corepb "github.com/galeone/tensorflow/tensorflow/go/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// Why prune: the export holds a features and a loss signature per depth,
// the loss in both conv-gradient forms (48 of its 167 functions, three
// quarters of the function library's nodes), so that one model serves every
// config. TensorFlow pays for the whole library wherever it touches the
// graph: the C API infers shapes into every function body at load, and each
// new list of feeds and fetches (features, set_targets, the loss) copies and
// optimises it again. A run calls one depth of each: loading only those cut
// the start-up by about 2 s and the peak memory by about 150 MB at 256x256
// (see README, Performance). The SavedModel on disk is not changed.

// keptSignatures are the signatures a process with the given runs calls:
// each run's deepest layer's features and loss (in form), and the
// model-wide ones. runs holds each run's used layer names; names the model
// lacks are left for the runner to report.
func keptSignatures(md Metadata, defs map[string]*corepb.SignatureDef, runs [][]string, form string) map[string]bool {
	keep := map[string]bool{sigMetadata: true, sigSetTargets: true, sigSetForward: true}
	for name := range defs {
		if strings.HasPrefix(name, "__") { // TensorFlow's own (__saved_model_init_op)
			keep[name] = true
		}
	}
	for _, layers := range runs {
		deepest := 0
		for _, l := range layers {
			deepest = max(deepest, md.LayerIndex(l))
		}
		l := md.Layers[deepest]
		keep[featuresSig(l)], keep[lossSig(l, form)] = true, true
	}
	return keep
}

// prune keeps in mg only the signatures in keep and what they reach: the
// graph's nodes their tensors depend on (with the saver's restore op and
// filename, which loading runs) and the functions those nodes call,
// directly or from function bodies.
func prune(mg *corepb.MetaGraphDef, keep map[string]bool) {
	op := func(ref string) string {
		name, _, _ := strings.Cut(strings.TrimPrefix(ref, "^"), ":")
		return name
	}
	roots := []string{op(mg.GetSaverDef().GetRestoreOpName()), op(mg.GetSaverDef().GetFilenameTensorName())}
	for name, def := range mg.GetSignatureDef() {
		if !keep[name] {
			delete(mg.SignatureDef, name)
			continue
		}
		for _, t := range def.GetInputs() {
			roots = append(roots, op(t.GetName()))
		}
		for _, t := range def.GetOutputs() {
			roots = append(roots, op(t.GetName()))
		}
	}
	g := mg.GetGraphDef()
	nodes := make(map[string]*nodepb.NodeDef, len(g.GetNode()))
	for _, n := range g.GetNode() {
		nodes[n.GetName()] = n
	}
	kept := reach(roots, func(name string) ([]string, bool) {
		n, ok := nodes[name]
		if !ok {
			return nil, false
		}
		ins := make([]string, len(n.GetInput()))
		for i, in := range n.GetInput() {
			ins[i] = op(in)
		}
		return ins, true
	})
	var keptNodes []*nodepb.NodeDef
	for _, n := range g.GetNode() {
		if kept[n.GetName()] {
			keptNodes = append(keptNodes, n)
		}
	}
	lib := map[string]*fnpb.FunctionDef{}
	for _, f := range g.GetLibrary().GetFunction() {
		lib[f.GetSignature().GetName()] = f
	}
	grads := map[string]string{}
	for _, gd := range g.GetLibrary().GetGradient() {
		grads[gd.GetFunctionName()] = gd.GetGradientFunc()
	}
	keptFns := reach(calledFuncs(keptNodes), func(name string) ([]string, bool) {
		f, ok := lib[name]
		if !ok {
			return nil, false
		}
		calls := calledFuncs(f.GetNodeDef())
		if gf, ok := grads[name]; ok {
			calls = append(calls, gf)
		}
		return calls, true
	})
	g.Node = keptNodes
	if g.Library != nil {
		var fns []*fnpb.FunctionDef
		for _, f := range g.Library.Function {
			if keptFns[f.GetSignature().GetName()] {
				fns = append(fns, f)
			}
		}
		var gs []*fnpb.GradientDef
		for _, gd := range g.Library.Gradient {
			if keptFns[gd.GetFunctionName()] {
				gs = append(gs, gd)
			}
		}
		g.Library.Function, g.Library.Gradient = fns, gs
	}
}

// reach walks from roots to everything next leads to, and returns the names
// reached; next says a name's successors, or false for a name not in the
// graph (an input from outside it), which is left out.
func reach(roots []string, next func(name string) ([]string, bool)) map[string]bool {
	seen := map[string]bool{}
	for len(roots) > 0 {
		name := roots[len(roots)-1]
		roots = roots[:len(roots)-1]
		if seen[name] {
			continue
		}
		succ, ok := next(name)
		if !ok {
			continue
		}
		seen[name] = true
		roots = append(roots, succ...)
	}
	return seen
}

// calledFuncs are the functions the nodes' attributes name (a call's f, or a
// list of them).
func calledFuncs(ns []*nodepb.NodeDef) []string {
	var fns []string
	for _, n := range ns {
		for _, a := range n.GetAttr() {
			if f := a.GetFunc(); f != nil {
				fns = append(fns, f.GetName())
			}
			for _, f := range a.GetList().GetFunc() {
				fns = append(fns, f.GetName())
			}
		}
	}
	return fns
}

// writeCopy writes saved as a SavedModel folder for TensorFlow's loader to
// read: a temporary folder holding its saved_model.pb and links to dir's
// variables and assets. The caller removes it once the model is loaded.
func writeCopy(dir string, saved *corepb.SavedModel) (string, error) {
	data, err := proto.Marshal(saved)
	if err != nil {
		return "", err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp("", "gostyle-model-")
	if err != nil {
		return "", err
	}
	if err := fillCopy(tmp, abs, data); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	return tmp, nil
}

func fillCopy(tmp, abs string, data []byte) error {
	if err := os.WriteFile(filepath.Join(tmp, "saved_model.pb"), data, 0o600); err != nil {
		return err
	}
	for _, sub := range []string{"variables", "assets", "assets.extra"} {
		if _, err := os.Stat(filepath.Join(abs, sub)); err != nil {
			continue
		}
		if err := os.Symlink(filepath.Join(abs, sub), filepath.Join(tmp, sub)); err != nil {
			return err
		}
	}
	return nil
}
