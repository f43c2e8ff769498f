package graphs

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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
// (see README, Performance), and restoring only the weights they read
// another 35 MB. The SavedModel on disk is not changed.

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
		keep[tileSig("features", l)], keep[tileSig("loss", l)] = true, true
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
	restore := op(mg.GetSaverDef().GetRestoreOpName())
	var roots []string
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
	inputs := func(name string) ([]string, bool) {
		n, ok := nodes[name]
		if !ok {
			return nil, false
		}
		ins := make([]string, len(n.GetInput()))
		for i, in := range n.GetInput() {
			ins[i] = op(in)
		}
		return ins, true
	}
	used := reach(slices.Clone(roots), inputs)
	kept := reach(append(roots, restore, op(mg.GetSaverDef().GetFilenameTensorName())), inputs)
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
	if call := nodes[restore]; call != nil {
		restoreUsedOnly(call, lib[call.GetAttr()["f"].GetFunc().GetName()], nodes, used)
	}
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

// restoreUsedOnly makes the restore function call skip the weights no kept
// signature reads: with the paper's layers (conv5_1 the deepest), conv5_2 to
// conv5_4 of VGG19 are 28 MB that loading would otherwise read into memory
// and hold for the process's life. call is the saver's restore op (a function
// call taking the variables after the file name) and f its body: one
// RestoreV2 of every tensor, each assigned to its variable. For a skipped
// variable, RestoreV2 reads one element of it (its shape_and_slices entry
// becomes "full shape 0,1:0,1:...") and the assignment is dropped, so the
// variable stays uninitialised: nothing left in the graph reads it. A body of
// another shape, or a variable of unknown shape, is restored as before.
func restoreUsedOnly(call *nodepb.NodeDef, f *fnpb.FunctionDef, nodes map[string]*nodepb.NodeDef, used map[string]bool) {
	if f == nil || len(f.GetSignature().GetInputArg()) != len(call.GetInput()) {
		return
	}
	body := map[string]*nodepb.NodeDef{}
	var restore *nodepb.NodeDef
	for _, n := range f.GetNodeDef() {
		body[n.GetName()] = n
		if n.GetOp() == "RestoreV2" {
			restore = n
		}
	}
	if restore == nil || len(restore.GetInput()) != 3 {
		return
	}
	specs := body[strings.Split(restore.GetInput()[2], ":")[0]].GetAttr()["value"].GetTensor().GetStringVal()
	// The body's name for each variable no kept signature reads, with its shape.
	unused := map[string][]int64{}
	for i, in := range call.GetInput() {
		name, _, _ := strings.Cut(in, ":")
		v := nodes[name]
		if v.GetOp() != "VarHandleOp" || used[name] {
			continue
		}
		var dims []int64
		for _, d := range v.GetAttr()["shape"].GetShape().GetDim() {
			dims = append(dims, d.GetSize())
		}
		if len(dims) > 0 && !slices.ContainsFunc(dims, func(d int64) bool { return d < 1 }) {
			unused[f.GetSignature().GetInputArg()[i].GetName()] = dims
		}
	}
	dropped := map[string]bool{}
	for _, n := range f.GetNodeDef() {
		if n.GetOp() != "AssignVariableOp" || len(n.GetInput()) != 2 {
			continue
		}
		dims, ok := unused[n.GetInput()[0]]
		value := body[strings.Split(n.GetInput()[1], ":")[0]]
		if !ok || value.GetOp() != "Identity" || len(value.GetInput()) != 1 {
			continue
		}
		src, k, ok := strings.Cut(value.GetInput()[0], ":tensors:")
		i, err := strconv.Atoi(k)
		if !ok || src != restore.GetName() || err != nil || i >= len(specs) || len(specs[i]) != 0 {
			continue
		}
		var spec strings.Builder
		for _, d := range dims {
			fmt.Fprintf(&spec, "%d ", d)
		}
		spec.WriteString(strings.TrimSuffix(strings.Repeat("0,1:", len(dims)), ":"))
		specs[i] = []byte(spec.String())
		dropped[n.GetName()], dropped[value.GetName()] = true, true
	}
	if len(dropped) == 0 {
		return
	}
	f.NodeDef = slices.DeleteFunc(f.NodeDef, func(n *nodepb.NodeDef) bool { return dropped[n.GetName()] })
	for _, n := range f.NodeDef {
		n.Input = slices.DeleteFunc(n.Input, func(in string) bool {
			name, control := strings.CutPrefix(in, "^")
			return control && dropped[name]
		})
	}
	for name, node := range f.GetControlRet() {
		if dropped[node] {
			delete(f.ControlRet, name)
		}
	}
	sig := f.GetSignature()
	sig.ControlOutput = slices.DeleteFunc(sig.ControlOutput, func(name string) bool { return f.ControlRet[name] == "" })
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

// calledFuncs are the functions the nodes may call (callees): names no
// library function has are left for reach to drop.
func calledFuncs(ns []*nodepb.NodeDef) []string {
	var fns []string
	for _, n := range ns {
		fns = append(fns, callees(n)...)
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
