package graphs

// Model safety. A SavedModel is a program: loading one runs its restore and
// init ops, and every signature runs its graph. A model someone shared could
// read or write the user's files from any of them (tf.io.write_file in a
// signature, in a function a signature calls, in a resource initializer, in
// the restore function). So before TensorFlow sees a model, every node of its
// graph and of every function in its library is checked against the ops
// export/ emits, and a model with any other op is refused unless the user
// trusts it.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	attrpb "github.com/galeone/tensorflow/tensorflow/go/core/framework/attr_value_go_proto"
	fnpb "github.com/galeone/tensorflow/tensorflow/go/core/framework/function_go_proto"
	nodepb "github.com/galeone/tensorflow/tensorflow/go/core/framework/node_def_go_proto"
	typespb "github.com/galeone/tensorflow/tensorflow/go/core/framework/types_go_proto"
	corepb "github.com/galeone/tensorflow/tensorflow/go/core/protobuf/for_core_protos_go_proto"
)

// computeOps are exactly the ops of the graphs and functions export/ writes
// (`python -m export --width-divisor 16` with every --arch and --pooling, TF
// 2.21; the weights, width and mean change no op), except the saver's: the
// signatures, the init op and the plumbing that calls them. None reads or
// writes a file, runs Python or uses a network. safety_test.go checks the
// list stays exact: every op used, none missing.
var computeOps = opSet(
	// graph plumbing and calls (the functions called are checked too)
	"Const", "Identity", "NoOp", "Placeholder", "PartitionedCall", "StatefulPartitionedCall",
	// the model's own variables, in memory
	"VarHandleOp", "ReadVariableOp", "AssignVariableOp",
	// VGG layers, Gram matrices and losses
	"Conv2D", "BiasAdd", "Relu", "AvgPool", "MaxPool", "MatMul", "Transpose",
	"ReverseV2", // the forward gradient form's flipped kernels
	// the forward form's Winograd convolutions (export/winograd.py): the kernels'
	// transform, the tile counts and the batched products (tiles are cut by Pad,
	// Reshape, Transpose and ConcatV2 below)
	"BatchMatMulV2", "FloorDiv",
	"AddN", "AddV2", "Sub", "Mul", "Neg", "Square", "Sum", "NotEqual", "SelectV2", "Pad",
	// the TV terms over 0 rows when their coefficients are 0
	"Any",
	// the grid TV's power and its gradient
	"Pow", "Log", "Greater", "Select",
	// shapes
	"Shape", "Reshape", "Pack", "ConcatV2", "Tile", "Fill", "StridedSlice", "ZerosLike",
	// the backward pass (written out per layer, and the TV terms' gradient)
	"Conv2DBackpropInput", "ReluGrad", "AvgPoolGrad", "MaxPoolGrad", "StridedSliceGrad",
	"BroadcastGradientArgs",
)

// restoreOps are allowed only in what the loader's restore op
// (SaverDef.restore_op_name) reaches and nothing else does: the model
// restoring its own variables from the checkpoint the loader names.
var restoreOps = opSet("RestoreV2")

// saveOps are allowed only in what the saver's save tensor
// (SaverDef.save_tensor_name) reaches and nothing the loader or the runner
// runs does. Every SavedModel TensorFlow 2 writes carries this save function
// (SaveV2 and MergeV2Checkpoints write checkpoint files); neither the loader
// (restore op, init op) nor the runner (signature outputs) fetches it, and a
// session runs only what its fetches depend on. Refusing it would refuse
// every model; allowing it anywhere would let a signature write files.
var saveOps = opSet("SaveV2", "MergeV2Checkpoints", "ShardedFilename", "StringJoin",
	"StaticRegexFullMatch", "DisableCopyOnRead")

// refusedWhy explains well-known refused ops; any op not allowed is refused.
var refusedWhy = func() map[string]string {
	why := map[string]string{}
	for reason, ops := range map[string][]string{
		"it reads or writes files": {"WriteFile", "ReadFile", "MatchingFiles", "Save", "SaveSlices",
			"SaveV2", "MergeV2Checkpoints", "Restore", "RestoreSlice", "RestoreV2", "ImmutableConst",
			"WholeFileReader", "WholeFileReaderV2", "TextLineReader", "TextLineReaderV2",
			"TFRecordReader", "TFRecordReaderV2", "FixedLengthRecordReader", "FixedLengthRecordReaderV2",
			"LMDBReader", "TextLineDataset", "TFRecordDataset", "FixedLengthRecordDataset",
			"InitializeTableFromTextFile", "InitializeTableFromTextFileV2", "LoadAndRemapMatrix",
			"CreateSummaryFileWriter", "CreateSummaryDbWriter", "WriteSummary", "WriteScalarSummary",
			"WriteImageSummary", "WriteAudioSummary", "WriteHistogramSummary", "WriteRawProtoSummary",
			"WriteGraphSummary", "FlushSummaryWriter", "PrintV2", "DebugIdentityV2", "DebugIdentityV3",
			"SaveDataset", "SaveDatasetV2", "SnapshotDataset", "SnapshotDatasetV2", "DatasetToTFRecord",
			"SqlDataset", "CSVDataset", "CSVDatasetV2"},
		"it runs Python": {"PyFunc", "PyFuncStateless", "EagerPyFunc"},
		"it talks to the network": {"RpcClient", "RpcServer", "RpcCall", "DataServiceDataset",
			"DataServiceDatasetV2", "DataServiceDatasetV3", "DataServiceDatasetV4",
			"CollectiveReduce", "CollectiveReduceV2", "CollectiveGather", "CollectiveGatherV2",
			"CollectiveBcastSend", "CollectiveBcastRecv", "CollectiveBcastSendV2", "CollectiveBcastRecvV2",
			"CollectiveAllToAllV2", "CollectiveAllToAllV3", "CollectiveInitializeCommunicator"},
	} {
		for _, op := range ops {
			why[op] = reason
		}
	}
	return why
}()

func opSet(ops ...string) map[string]bool {
	s := make(map[string]bool, len(ops))
	for _, op := range ops {
		s[op] = true
	}
	return s
}

// violation is one node whose op is not allowed where it is, or one
// library function TensorFlow would not run as written (node "").
type violation struct {
	op, node, fn string // fn is "" for the meta graph's own graph
	why          string
}

func (v violation) String() string {
	if v.node == "" {
		return fmt.Sprintf("function %s is not allowed: %s", v.fn, v.why)
	}
	where := "node " + v.node
	if v.fn != "" {
		where = "in function " + v.fn
	}
	return fmt.Sprintf("op %s (%s) is not allowed: %s", v.op, where, v.why)
}

const trustHint = " (pass -trust-model to load it anyway)"

// checkSafe refuses a model TensorFlow should not load: one whose folder
// holds another graph file the loader might read instead of the
// saved_model.pb that was checked (checkFolder), or whose graphs hold an op
// outside the allowlist (checkGraph). trust skips both (-trust-model).
func checkSafe(dir string, saved *corepb.SavedModel, trust bool) error {
	if trust {
		return nil
	}
	if err := checkFolder(dir); err != nil {
		return err
	}
	return checkGraph(saved, isOp)
}

// checkFolder refuses a graph file beside saved_model.pb that TensorFlow's
// loader might prefer.
func checkFolder(dir string) error {
	for _, other := range []string{"saved_model.pbtxt", "saved_model.cpb"} {
		if _, err := os.Lstat(filepath.Join(dir, other)); err == nil {
			return fmt.Errorf("holds %s beside saved_model.pb: TensorFlow might load that unchecked graph%s", other, trustHint)
		}
	}
	return nil
}

// checkGraph refuses a SavedModel with any violation (see violationsWith),
// naming the first and counting the rest. isOp says which names TensorFlow
// resolves to an op.
func checkGraph(saved *corepb.SavedModel, isOp func(string) bool) error {
	vs := violationsWith(saved, isOp)
	if len(vs) == 0 {
		return nil
	}
	more := ""
	if len(vs) > 1 {
		var ops []string
		for _, v := range vs {
			if !slices.Contains(ops, v.op) {
				ops = append(ops, v.op)
			}
		}
		more = fmt.Sprintf("; %d nodes in all use ops not allowed (%s)", len(vs), strings.Join(ops, ", "))
	}
	return errors.New(vs[0].String() + more + trustHint)
}

// violations is violationsWith the ops TensorFlow registers in this process.
func violations(saved *corepb.SavedModel) []violation { return violationsWith(saved, isOp) }

// violationsWith lists every disallowed node of every meta graph and every
// library function TensorFlow would not run as written, sorted by function
// and node name so the first one reported is always the same.
func violationsWith(saved *corepb.SavedModel, isOp func(string) bool) []violation {
	var vs []violation
	for _, mg := range saved.GetMetaGraphs() {
		vs = append(vs, newGraphIndex(mg).violations(isOp)...)
	}
	slices.SortFunc(vs, func(a, b violation) int {
		if c := strings.Compare(a.fn, b.fn); c != 0 {
			return c
		}
		return strings.Compare(a.node, b.node)
	})
	return vs
}

// graphIndex is one meta graph with its nodes and functions found by name.
type graphIndex struct {
	mg    *corepb.MetaGraphDef
	nodes map[string]*nodepb.NodeDef
	fns   map[string]*fnpb.FunctionDef
	// grads are the gradient functions the library names for a function
	// (GradientDef); gradFns every gradient function it names, for a
	// function or a registered op type (RegisteredGradient).
	grads   map[string][]string
	gradFns []string
}

func newGraphIndex(mg *corepb.MetaGraphDef) *graphIndex {
	g := &graphIndex{mg: mg, nodes: map[string]*nodepb.NodeDef{}, fns: map[string]*fnpb.FunctionDef{},
		grads: map[string][]string{}}
	for _, n := range mg.GetGraphDef().GetNode() {
		g.nodes[n.GetName()] = n
	}
	lib := mg.GetGraphDef().GetLibrary()
	for _, f := range lib.GetFunction() {
		g.fns[f.GetSignature().GetName()] = f
	}
	for _, gd := range lib.GetGradient() {
		g.grads[gd.GetFunctionName()] = append(g.grads[gd.GetFunctionName()], gd.GetGradientFunc())
		g.gradFns = append(g.gradFns, gd.GetGradientFunc())
	}
	for _, rg := range lib.GetRegisteredGradients() {
		g.gradFns = append(g.gradFns, rg.GetGradientFunc())
	}
	return g
}

// reached is what running some tensors can execute: the graph nodes they
// depend on (data and control inputs) and, whole, every function those nodes
// call, directly or through other functions.
type reached struct {
	nodes, fns map[string]bool
}

// reach walks from roots (tensor or node names of the graph) and from fnRoots
// (library functions) to everything they can run: a node's data and control
// inputs; the functions a node calls (callees), those their bodies and
// attributes call (with the defaults their signatures give placeholders),
// and their gradient functions.
func (g *graphIndex) reach(roots []string, fnRoots ...string) reached {
	r := reached{nodes: map[string]bool{}, fns: map[string]bool{}}
	var callFn func(name string)
	callFn = func(name string) {
		f := g.fns[name]
		if f == nil || r.fns[name] {
			return
		}
		r.fns[name] = true
		for _, inner := range funcRefs(f.GetAttr()) {
			callFn(inner)
		}
		for _, a := range f.GetSignature().GetAttr() { // a default a body's placeholder takes
			for _, inner := range funcRefs(map[string]*attrpb.AttrValue{"default": a.GetDefaultValue()}) {
				callFn(inner)
			}
		}
		for _, inner := range g.grads[name] {
			callFn(inner)
		}
		for _, n := range f.GetNodeDef() {
			for _, inner := range callees(n) {
				callFn(inner)
			}
		}
	}
	for _, name := range fnRoots {
		callFn(name)
	}
	work := slices.Clone(roots)
	for len(work) > 0 {
		name := nodeName(work[len(work)-1])
		work = work[:len(work)-1]
		n, ok := g.nodes[name]
		if !ok || r.nodes[name] {
			continue
		}
		r.nodes[name] = true
		for _, f := range callees(n) {
			callFn(f)
		}
		work = append(work, n.GetInput()...)
	}
	return r
}

// callees are the names of the library functions a node may run: its op
// (a call when it names a function; a function named like an op is refused,
// see violations) and every function a function-valued attribute names,
// however nested: f, then_branch, body, branches (lists), and functions
// passed inside them as attributes of a NameAttrList.
func callees(n *nodepb.NodeDef) []string {
	return append([]string{n.GetOp()}, funcRefs(n.GetAttr())...)
}

// funcRefs lists every function name in attrs, nested ones included.
func funcRefs(attrs map[string]*attrpb.AttrValue) []string {
	var out []string
	var walk func(f *attrpb.NameAttrList)
	walk = func(f *attrpb.NameAttrList) {
		out = append(out, f.GetName())
		for _, a := range f.GetAttr() {
			if inner := a.GetFunc(); inner != nil {
				walk(inner)
			}
			for _, inner := range a.GetList().GetFunc() {
				walk(inner)
			}
		}
	}
	walk(&attrpb.NameAttrList{Attr: attrs})
	return out[1:]
}

// nodeName strips a tensor reference ("^name", "name:1") to its node.
func nodeName(ref string) string {
	ref = strings.TrimPrefix(ref, "^")
	if i := strings.IndexByte(ref, ':'); i >= 0 {
		ref = ref[:i]
	}
	return ref
}

// tensorNames lists the graph tensors a signature's TensorInfo names, in
// any encoding (a name, a sparse tensor's three, a composite's components).
func tensorNames(t *corepb.TensorInfo) []string {
	if c := t.GetCooSparse(); c != nil {
		return []string{c.GetValuesTensorName(), c.GetIndicesTensorName(), c.GetDenseShapeTensorName()}
	}
	var out []string
	for _, c := range t.GetCompositeTensor().GetComponents() {
		out = append(out, tensorNames(c)...)
	}
	return append(out, t.GetName())
}

// violations checks each node against what may run where it sits: compute
// ops anywhere, RestoreV2 only where just the restore op reaches, the save
// ops only where just the save tensor reaches. Every node is checked, of the
// graph and of every library function, reached or not: nodes nothing reaches
// are held to compute ops too (what never runs needs nothing more), and the
// gradient functions the library names count as reached by the signatures.
// A node whose op names a library function is a call, its function checked
// in turn, unless the name is also an op TensorFlow registers: then the node
// is checked as that op (TensorFlow's loader may refuse such a library, as
// 2.21 does, or run the op), and the function is refused itself, as is a
// function defined twice.
func (g *graphIndex) violations(isOp func(string) bool) []violation {
	var runRoots []string
	for _, sig := range g.mg.GetSignatureDef() { // includes __saved_model_init_op
		for _, t := range sig.GetInputs() {
			runRoots = append(runRoots, tensorNames(t)...)
		}
		for _, t := range sig.GetOutputs() {
			runRoots = append(runRoots, tensorNames(t)...)
		}
	}
	for _, c := range g.mg.GetCollectionDef() { // saved_model_main_op, legacy_init_op, ...
		runRoots = append(runRoots, c.GetNodeList().GetValue()...)
	}
	saver := g.mg.GetSaverDef()
	run := g.reach(runRoots, g.gradFns...)
	restore := g.reach([]string{saver.GetRestoreOpName(), saver.GetFilenameTensorName()})
	save := g.reach([]string{saver.GetSaveTensorName()})

	allowed := func(op string, inRun, inRestore, inSave bool) bool {
		return computeOps[op] ||
			(restoreOps[op] && inRestore && !inRun && !inSave) ||
			(saveOps[op] && inSave && !inRun && !inRestore)
	}
	why := func(op string) string {
		switch {
		case restoreOps[op]:
			return "it reads files, and runs outside the loader's restore function"
		case saveOps[op]:
			return "it writes files, and runs outside the saver's save function"
		case refusedWhy[op] != "":
			return refusedWhy[op]
		}
		return "export/ emits no such op"
	}
	// A node calls a function when its op names one that is not an op.
	call := func(op string) bool { return g.fns[op] != nil && !isOp(op) }
	var vs []violation
	for _, n := range g.mg.GetGraphDef().GetNode() {
		name := n.GetName()
		if op := n.GetOp(); !call(op) && !allowed(op, run.nodes[name], restore.nodes[name], save.nodes[name]) {
			vs = append(vs, violation{op: op, node: name, why: why(op)})
		}
	}
	defined := map[string]bool{}
	for _, f := range g.mg.GetGraphDef().GetLibrary().GetFunction() {
		name := f.GetSignature().GetName()
		switch {
		case isOp(name):
			vs = append(vs, violation{op: name, fn: name, why: fmt.Sprintf(
				"it is named like TensorFlow's op %s, which TensorFlow may run instead of it", name)})
		case defined[name]:
			vs = append(vs, violation{op: name, fn: name, why: "the library defines it twice"})
		}
		defined[name] = true
		for _, n := range f.GetNodeDef() {
			if op := n.GetOp(); !call(op) && !allowed(op, run.fns[name], restore.fns[name], save.fns[name]) {
				vs = append(vs, violation{op: op, node: n.GetName(), fn: name, why: why(op)})
			}
		}
	}
	return vs
}

// metadataJSON reads the export's metadata from the graph, without running
// it: export/graph.py's metadata signature returns a string constant (through
// Identity nodes and function calls). When assets.extra/metadata.json, the
// exporter's copy, exists it must say the same.
func metadataJSON(dir string, saved *corepb.SavedModel) (string, error) {
	var mg *corepb.MetaGraphDef
	for _, m := range saved.GetMetaGraphs() {
		if slices.Contains(m.GetMetaInfoDef().GetTags(), "serve") {
			mg = m
		}
	}
	out := mg.GetSignatureDef()[sigMetadata].GetOutputs()["json"]
	if out == nil {
		return "", fmt.Errorf("signature %s has no output %q", sigMetadata, "json")
	}
	g := newGraphIndex(mg)
	js, err := g.constString(g.nodes, out.GetName(), 0)
	if err != nil {
		return "", fmt.Errorf("signature %s: %w (not exported by this project's export/)", sigMetadata, err)
	}
	data, err := readFile(dir, filepath.Join("assets.extra", "metadata.json"))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return "", err
	case strings.TrimSpace(string(data)) != strings.TrimSpace(js):
		return "", fmt.Errorf("assets.extra/metadata.json differs from the metadata in the graph")
	}
	return js, nil
}

// constString follows a tensor reference in one scope (the graph's nodes or a
// function body's) back to the string constant it carries.
func (g *graphIndex) constString(scope map[string]*nodepb.NodeDef, ref string, depth int) (string, error) {
	if depth > 32 {
		return "", errors.New("metadata is not a constant (chain too deep)")
	}
	// graph: "node" or "node:i"; function body: "node:outarg:i" or an argument
	parts := strings.Split(ref, ":")
	n, ok := scope[parts[0]]
	if !ok || strings.HasPrefix(ref, "^") {
		return "", fmt.Errorf("metadata is not a constant (%q is not a node)", ref)
	}
	idx := 0
	if len(parts) > 1 {
		i, err := strconv.Atoi(parts[len(parts)-1])
		if err != nil {
			return "", fmt.Errorf("bad tensor name %q", ref)
		}
		idx = i
	}
	switch n.GetOp() {
	case "Const":
		t := n.GetAttr()["value"].GetTensor()
		if t.GetDtype() != typespb.DataType_DT_STRING || len(t.GetStringVal()) != 1 {
			return "", errors.New("metadata constant is not one string")
		}
		return string(t.GetStringVal()[0]), nil
	case "Identity":
		for _, in := range n.GetInput() {
			if !strings.HasPrefix(in, "^") {
				return g.constString(scope, in, depth+1)
			}
		}
	case "PartitionedCall", "StatefulPartitionedCall":
		f := g.fns[n.GetAttr()["f"].GetFunc().GetName()]
		outs := f.GetSignature().GetOutputArg()
		if f == nil || idx >= len(outs) {
			return "", fmt.Errorf("metadata: node %s calls no function with output %d", n.GetName(), idx)
		}
		body := map[string]*nodepb.NodeDef{}
		for _, inner := range f.GetNodeDef() {
			body[inner.GetName()] = inner
		}
		return g.constString(body, f.GetRet()[outs[idx].GetName()], depth+1)
	}
	return "", fmt.Errorf("metadata is not a constant (computed by op %s)", n.GetOp())
}
