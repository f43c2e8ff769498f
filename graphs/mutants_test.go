package graphs

// An adversarial generator for the model check: it mutates the committed tiny
// model (testdata/vgg19-tiny) by placing a forbidden op in every library
// function, and behind every way a graph reaches a function (call ops, a node
// whose op names the function, function-valued attributes of any op, lists
// of them, nested NameAttrLists, gradient functions, control edges, uncalled
// signatures, the init op, renamed, nested and duplicated functions, a
// function named like an op), and checks the property: every mutant is
// refused, with the planted node itself named among the violations. A few
// mutants are also written out and loaded with Trust, to show TensorFlow
// really runs what they plant (the file appears): the generator makes real
// threats, not inert ones.

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	attrpb "github.com/galeone/tensorflow/tensorflow/go/core/framework/attr_value_go_proto"
	fnpb "github.com/galeone/tensorflow/tensorflow/go/core/framework/function_go_proto"
	graphpb "github.com/galeone/tensorflow/tensorflow/go/core/framework/graph_go_proto"
	nodepb "github.com/galeone/tensorflow/tensorflow/go/core/framework/node_def_go_proto"
	opdefpb "github.com/galeone/tensorflow/tensorflow/go/core/framework/op_def_go_proto"
	tensorpb "github.com/galeone/tensorflow/tensorflow/go/core/framework/tensor_go_proto"
	shapepb "github.com/galeone/tensorflow/tensorflow/go/core/framework/tensor_shape_go_proto"
	typespb "github.com/galeone/tensorflow/tensorflow/go/core/framework/types_go_proto"
	corepb "github.com/galeone/tensorflow/tensorflow/go/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"

	"github.com/styletransfer/gostyle/graphs/graphstest"
)

// payloadOps are the forbidden ops the generator plants: file access, Python,
// an op no registry has, and the saver's ops outside the saver's functions.
var payloadOps = []string{"WriteFile", "ReadFile", "MatchingFiles", "PrintV2", "EagerPyFunc", "NoSuchOp", "RestoreV2", "SaveV2"}

// planted names where a payload node sits: fn "" for the graph's own nodes.
type planted struct{ fn, node string }

func strAttr(s string) *attrpb.AttrValue {
	return &attrpb.AttrValue{Value: &attrpb.AttrValue_S{S: []byte(s)}}
}
func funcAttr(name string, inner map[string]*attrpb.AttrValue) *attrpb.AttrValue {
	return &attrpb.AttrValue{Value: &attrpb.AttrValue_Func{Func: &attrpb.NameAttrList{Name: name, Attr: inner}}}
}
func typesAttr(ts ...typespb.DataType) *attrpb.AttrValue {
	return &attrpb.AttrValue{Value: &attrpb.AttrValue_List{List: &attrpb.AttrValue_ListValue{Type: ts}}}
}
func typeAttr(t typespb.DataType) *attrpb.AttrValue {
	return &attrpb.AttrValue{Value: &attrpb.AttrValue_Type{Type: t}}
}

// constNode is a scalar string or bool constant.
func constNode(name string, value any) *nodepb.NodeDef {
	t := &tensorpb.TensorProto{TensorShape: &shapepb.TensorShapeProto{}}
	switch v := value.(type) {
	case string:
		t.Dtype, t.StringVal = typespb.DataType_DT_STRING, [][]byte{[]byte(v)}
	case bool:
		t.Dtype, t.BoolVal = typespb.DataType_DT_BOOL, []bool{v}
	}
	return &nodepb.NodeDef{Name: name, Op: "Const", Attr: map[string]*attrpb.AttrValue{
		"dtype": typeAttr(t.Dtype), "value": {Value: &attrpb.AttrValue_Tensor{Tensor: t}}}}
}

// writer is a real WriteFile of path and its two constants. In a function
// body (inFn) inputs are named "node:output:0", in the graph "node".
func writer(prefix, path string, inFn bool) []*nodepb.NodeDef {
	out := ""
	if inFn {
		out = ":output:0"
	}
	return []*nodepb.NodeDef{
		constNode(prefix+"_name", path), constNode(prefix+"_text", "written by a mutant"),
		{Name: prefix + "_write", Op: "WriteFile", Input: []string{prefix + "_name" + out, prefix + "_text" + out}},
	}
}

// payload is the node planting op: a real write for WriteFile (with its
// constants), else a bare node (the check reads ops, not inputs).
func payload(op, prefix, path string, inFn bool) ([]*nodepb.NodeDef, string) {
	if op == "WriteFile" {
		return writer(prefix, path, inFn), prefix + "_write"
	}
	return []*nodepb.NodeDef{{Name: prefix + "_" + op, Op: op}}, prefix + "_" + op
}

// runAlways makes a function run node whenever it is called (a control
// output), as tf.function does for stateful ops.
func runAlways(f *fnpb.FunctionDef, node string) {
	if f.ControlRet == nil {
		f.ControlRet = map[string]string{}
	}
	f.ControlRet[node] = node
	f.Signature.ControlOutput = append(f.Signature.ControlOutput, node)
}

// newFn is a function of no arguments and no results whose body is nodes,
// the last one run on every call.
func newFn(name string, nodes []*nodepb.NodeDef) *fnpb.FunctionDef {
	f := &fnpb.FunctionDef{Signature: &opdefpb.OpDef{Name: name, IsStateful: true}, NodeDef: nodes}
	runAlways(f, nodes[len(nodes)-1].GetName())
	return f
}

// callNode calls fn, of no arguments and no results, by op.
func callNode(name, op, fn string) *nodepb.NodeDef {
	n := &nodepb.NodeDef{Name: name, Op: op, Attr: map[string]*attrpb.AttrValue{}}
	switch op {
	case "StatefulPartitionedCall", "PartitionedCall":
		n.Attr["f"] = funcAttr(fn, nil)
		n.Attr["Tin"], n.Attr["Tout"] = typesAttr(), typesAttr()
		n.Attr["config"], n.Attr["config_proto"], n.Attr["executor_type"] = strAttr(""), strAttr(""), strAttr("")
	default: // the function itself as the op
		n.Op = fn
	}
	return n
}

// lib is the meta graph's function library, by name.
func lib(mg *corepb.MetaGraphDef) map[string]*fnpb.FunctionDef {
	fns := map[string]*fnpb.FunctionDef{}
	for _, f := range mg.GetGraphDef().GetLibrary().GetFunction() {
		fns[f.GetSignature().GetName()] = f
	}
	return fns
}

// sigFn is the function the graph node behind a signature's output calls.
func sigFn(mg *corepb.MetaGraphDef, sig string) *fnpb.FunctionDef {
	for _, t := range mg.GetSignatureDef()[sig].GetOutputs() {
		for _, n := range mg.GetGraphDef().GetNode() {
			if n.GetName() == nodeName(t.GetName()) {
				return lib(mg)[n.GetAttr()["f"].GetFunc().GetName()]
			}
		}
	}
	return nil
}

// mutation plants op into saved (the tiny model, serve graph) and says where
// the payload node sits; path is the file a planted WriteFile writes.
type mutation struct {
	name  string
	plant func(mg *corepb.MetaGraphDef, op, path string) []planted
}

// addFn adds f to the library and returns it.
func addFn(mg *corepb.MetaGraphDef, f *fnpb.FunctionDef) *fnpb.FunctionDef {
	mg.GraphDef.Library.Function = append(mg.GraphDef.Library.Function, f)
	return f
}

// hostileFn adds a function named name whose body plants op.
func hostileFn(mg *corepb.MetaGraphDef, name, op, path string) planted {
	nodes, node := payload(op, "hostile", path, true)
	addFn(mg, newFn(name, nodes))
	return planted{name, node}
}

// callFrom makes the function behind sig call node (run on every call).
func callFrom(mg *corepb.MetaGraphDef, sig string, node *nodepb.NodeDef, extra ...*nodepb.NodeDef) {
	f := sigFn(mg, sig)
	f.NodeDef = append(append(f.NodeDef, extra...), node)
	runAlways(f, node.GetName())
}

// structured are the ways a graph reaches code, each planted from the
// features_conv1_1 signature (what a run calls first) unless it says.
var structured = []mutation{
	{"in the signature's function", func(mg *corepb.MetaGraphDef, op, path string) []planted {
		f := sigFn(mg, "features_conv1_1")
		nodes, node := payload(op, "hostile", path, true)
		f.NodeDef = append(f.NodeDef, nodes...)
		runAlways(f, node)
		return []planted{{f.GetSignature().GetName(), node}}
	}},
	{"in a renamed function called by StatefulPartitionedCall", func(mg *corepb.MetaGraphDef, op, path string) []planted {
		p := hostileFn(mg, "__inference_<lambda>_99991", op, path)
		callFrom(mg, "features_conv1_1", callNode("hostile_call", "StatefulPartitionedCall", p.fn))
		return []planted{p}
	}},
	{"in a function called through its name as the op", func(mg *corepb.MetaGraphDef, op, path string) []planted {
		p := hostileFn(mg, "__inference_hostile_99992", op, path)
		callFrom(mg, "features_conv1_1", callNode("hostile_call", "", p.fn))
		return []planted{p}
	}},
	{"three functions deep, PartitionedCall", func(mg *corepb.MetaGraphDef, op, path string) []planted {
		p := hostileFn(mg, "__inference_deep3_1", op, path)
		addFn(mg, newFn("__inference_deep2_1", []*nodepb.NodeDef{callNode("c", "PartitionedCall", p.fn)}))
		addFn(mg, newFn("__inference_deep1_1", []*nodepb.NodeDef{callNode("c", "", "__inference_deep2_1")}))
		callFrom(mg, "loss_conv1_1", callNode("hostile_call", "StatefulPartitionedCall", "__inference_deep1_1"))
		return []planted{p}
	}},
	{"in an If's then_branch", func(mg *corepb.MetaGraphDef, op, path string) []planted {
		p := hostileFn(mg, "__inference_then_99993", op, path)
		addFn(mg, newFn("__inference_else_99993", []*nodepb.NodeDef{{Name: "n", Op: "NoOp"}}))
		callFrom(mg, "features_conv1_1", &nodepb.NodeDef{Name: "hostile_if", Op: "If", Input: []string{"hostile_cond:output:0"},
			Attr: map[string]*attrpb.AttrValue{"Tcond": typeAttr(typespb.DataType_DT_BOOL), "Tin": typesAttr(), "Tout": typesAttr(),
				"then_branch": funcAttr(p.fn, nil), "else_branch": funcAttr("__inference_else_99993", nil)}},
			constNode("hostile_cond", true))
		return []planted{p}
	}},
	{"in a While's body", func(mg *corepb.MetaGraphDef, op, path string) []planted {
		p := hostileFn(mg, "__inference_body_99994", op, path)
		callFrom(mg, "set_targets", &nodepb.NodeDef{Name: "hostile_while", Op: "StatelessWhile",
			Attr: map[string]*attrpb.AttrValue{"T": typesAttr(), "cond": funcAttr("__inference_cond_1", nil), "body": funcAttr(p.fn, nil)}})
		return []planted{p}
	}},
	{"in a Case's branches list", func(mg *corepb.MetaGraphDef, op, path string) []planted {
		p := hostileFn(mg, "__inference_branch_99995", op, path)
		callFrom(mg, "metadata", &nodepb.NodeDef{Name: "hostile_case", Op: "Case",
			Attr: map[string]*attrpb.AttrValue{"branches": {Value: &attrpb.AttrValue_List{List: &attrpb.AttrValue_ListValue{
				Func: []*attrpb.NameAttrList{{Name: "__inference__metadata_797"}, {Name: p.fn}}}}}}})
		return []planted{p}
	}},
	{"in a function passed inside a call's NameAttrList", func(mg *corepb.MetaGraphDef, op, path string) []planted {
		p := hostileFn(mg, "__inference_inner_99996", op, path)
		n := callNode("hostile_call", "StatefulPartitionedCall", "__inference__metadata_797")
		n.Attr["f"] = funcAttr("__inference__metadata_797", map[string]*attrpb.AttrValue{"g": funcAttr("x", map[string]*attrpb.AttrValue{"h": funcAttr(p.fn, nil)})})
		callFrom(mg, "loss_forward_conv5_4", n)
		return []planted{p}
	}},
	{"in a function a body's attribute placeholder defaults to", func(mg *corepb.MetaGraphDef, op, path string) []planted {
		p := hostileFn(mg, "__inference_default_99990", op, path)
		outer := addFn(mg, newFn("__inference_outer_99990", []*nodepb.NodeDef{{Name: "c", Op: "StatefulPartitionedCall",
			Attr: map[string]*attrpb.AttrValue{"f": {Value: &attrpb.AttrValue_Placeholder{Placeholder: "g"}}}}}))
		outer.Signature.Attr = []*opdefpb.OpDef_AttrDef{{Name: "g", Type: "func", DefaultValue: funcAttr(p.fn, nil)}}
		callFrom(mg, "features_conv1_1", callNode("hostile_call", "StatefulPartitionedCall", outer.GetSignature().GetName()))
		return []planted{p}
	}},
	{"in a gradient function (GradientDef)", func(mg *corepb.MetaGraphDef, op, path string) []planted {
		p := hostileFn(mg, "__inference_grad_99997", op, path)
		mg.GraphDef.Library.Gradient = append(mg.GraphDef.Library.Gradient, &fnpb.GradientDef{FunctionName: sigFn(mg, "features_conv1_1").GetSignature().GetName(), GradientFunc: p.fn})
		return []planted{p}
	}},
	{"in a registered gradient function", func(mg *corepb.MetaGraphDef, op, path string) []planted {
		p := hostileFn(mg, "__inference_grad_99998", op, path)
		mg.GraphDef.Library.RegisteredGradients = append(mg.GraphDef.Library.RegisteredGradients, &fnpb.RegisteredGradient{RegisteredOpType: "Conv2D", GradientFunc: p.fn})
		return []planted{p}
	}},
	{"in an uncalled signature's function", func(mg *corepb.MetaGraphDef, op, path string) []planted {
		p := hostileFn(mg, "__inference_unused_99999", op, path)
		n := callNode("hostile_unused", "StatefulPartitionedCall", p.fn)
		mg.GraphDef.Node = append(mg.GraphDef.Node, n)
		mg.SignatureDef["unused"] = &corepb.SignatureDef{Outputs: map[string]*corepb.TensorInfo{"x": {Encoding: &corepb.TensorInfo_Name{Name: "^hostile_unused"}}}}
		return []planted{p}
	}},
	{"in a function nothing calls", func(mg *corepb.MetaGraphDef, op, path string) []planted {
		return []planted{hostileFn(mg, "__inference_orphan_1", op, path)}
	}},
	{"in the graph behind a control edge of the init op", func(mg *corepb.MetaGraphDef, op, path string) []planted {
		nodes, node := payload(op, "hostile", path, false)
		mg.GraphDef.Node = append(mg.GraphDef.Node, nodes...)
		init := nodeName(mg.GetSignatureDef()["__saved_model_init_op"].GetOutputs()["__saved_model_init_op"].GetName())
		for _, n := range mg.GraphDef.Node {
			if n.GetName() == init {
				n.Input = append(n.Input, "^"+node)
			}
		}
		return []planted{{"", node}}
	}},
	{"in the graph behind a control edge of a signature's call", func(mg *corepb.MetaGraphDef, op, path string) []planted {
		nodes, node := payload(op, "hostile", path, false)
		mg.GraphDef.Node = append(mg.GraphDef.Node, nodes...)
		call := nodeName(mg.GetSignatureDef()["features_conv1_1"].GetOutputs()[ActivationKey("conv1_1")].GetName())
		for _, n := range mg.GraphDef.Node {
			if n.GetName() == call {
				n.Input = append(n.Input, "^"+node)
			}
		}
		return []planted{{"", node}}
	}},
	{"in the graph, run by the main op collection", func(mg *corepb.MetaGraphDef, op, path string) []planted {
		nodes, node := payload(op, "hostile", path, false)
		mg.GraphDef.Node = append(mg.GraphDef.Node, nodes...)
		mg.CollectionDef["legacy_init_op"] = &corepb.CollectionDef{Kind: &corepb.CollectionDef_NodeList_{NodeList: &corepb.CollectionDef_NodeList{Value: []string{node}}}}
		return []planted{{"", node}}
	}},
	{"in the restore function", func(mg *corepb.MetaGraphDef, op, path string) []planted {
		var f *fnpb.FunctionDef
		for name, fn := range lib(mg) {
			if strings.Contains(name, "_traced_restore_") {
				f = fn
			}
		}
		nodes, node := payload(op, "hostile", path, true)
		f.NodeDef = append(f.NodeDef, nodes...)
		runAlways(f, node)
		if op == "RestoreV2" { // its own op: allowed there, so reach it from a signature too
			n := callNode("hostile_call", "StatefulPartitionedCall", "__inference__metadata_797")
			n.Attr["f"].GetFunc().Attr = map[string]*attrpb.AttrValue{"r": funcAttr(f.GetSignature().GetName(), nil)}
			callFrom(mg, "features_conv1_1", n)
		}
		return []planted{{f.GetSignature().GetName(), node}}
	}},
	{"beside a function named like the op (issue 26's model)", func(mg *corepb.MetaGraphDef, op, path string) []planted {
		// The function has the op's name and a harmless body; the real op
		// sits in the signature's function, named by a node that calls "it".
		if !isOp(op) {
			return nil // then the node calls the function: no threat
		}
		addFn(mg, &fnpb.FunctionDef{Signature: &opdefpb.OpDef{Name: op, InputArg: []*opdefpb.OpDef_ArgDef{
			{Name: "filename", Type: typespb.DataType_DT_STRING}, {Name: "contents", Type: typespb.DataType_DT_STRING}}}})
		f := sigFn(mg, "features_conv1_1")
		nodes, node := payload(op, "hostile", path, true)
		f.NodeDef = append(f.NodeDef, nodes...)
		runAlways(f, node)
		return []planted{{op, ""}, {f.GetSignature().GetName(), node}}
	}},
	{"in a second definition of a called function", func(mg *corepb.MetaGraphDef, op, path string) []planted {
		name := sigFn(mg, "features_conv1_1").GetSignature().GetName()
		nodes, node := payload(op, "hostile", path, true)
		addFn(mg, newFn(name, nodes))
		return []planted{{name, ""}, {name, node}}
	}},
}

// refusedAt checks the property on one mutant: it is refused (checkGraph
// refuses exactly the models with violations), and every planted node (or
// function, node "") is among its violations.
func refusedAt(t *testing.T, what string, saved *corepb.SavedModel, want []planted) {
	t.Helper()
	vs := violations(saved)
	if len(vs) == 0 {
		t.Errorf("%s: not refused", what)
		return
	}
	for _, p := range want {
		if !slices.ContainsFunc(vs, func(v violation) bool { return v.fn == p.fn && v.node == p.node }) {
			t.Errorf("%s: planted %+v not among the %d violations (first %v)", what, p, len(vs), vs[0])
		}
	}
}

// cheapClone copies what mutations change (the graph's nodes, the library's
// lists, function signatures and control outputs, the signature and
// collection maps) and shares the rest (function bodies' nodes, constants):
// parsing the 3 MB graph anew for each mutant would take most of the test.
func cheapClone(saved *corepb.SavedModel) *corepb.SavedModel {
	mg := saved.GetMetaGraphs()[0]
	g, lib := mg.GetGraphDef(), mg.GetGraphDef().GetLibrary()
	out := &corepb.MetaGraphDef{MetaInfoDef: mg.MetaInfoDef, SaverDef: mg.SaverDef,
		SignatureDef: maps.Clone(mg.SignatureDef), CollectionDef: maps.Clone(mg.CollectionDef),
		GraphDef: &graphpb.GraphDef{Versions: g.Versions, Library: &fnpb.FunctionDefLibrary{
			Gradient: slices.Clone(lib.Gradient), RegisteredGradients: slices.Clone(lib.RegisteredGradients)}}}
	for _, n := range g.GetNode() {
		out.GraphDef.Node = append(out.GraphDef.Node, proto.CloneOf(n))
	}
	for _, f := range lib.GetFunction() {
		out.GraphDef.Library.Function = append(out.GraphDef.Library.Function, &fnpb.FunctionDef{
			Signature: proto.CloneOf(f.Signature), Attr: f.Attr, ArgAttr: f.ArgAttr, ResourceArgUniqueId: f.ResourceArgUniqueId,
			NodeDef: slices.Clip(f.NodeDef), Ret: f.Ret, ControlRet: maps.Clone(f.ControlRet)})
	}
	return &corepb.SavedModel{SavedModelSchemaVersion: saved.SavedModelSchemaVersion, MetaGraphs: []*corepb.MetaGraphDef{out}}
}

// Every mutant the generator makes is refused by the check, which runs
// before TensorFlow sees the model; the planted node is named.
func TestMutantsAreRefused(t *testing.T) {
	t.Parallel()
	base := readSaved(t, graphstest.TinyModel(t))
	if vs := violations(base); len(vs) > 0 {
		t.Fatalf("the tiny model itself is refused: %v", vs[0])
	}
	n := 0
	// A forbidden op in every library function, one at a time, the ops in
	// turn (in place: the function's node list is put back after).
	fileOps := []string{"WriteFile", "ReadFile", "EagerPyFunc", "PrintV2", "NoSuchOp", "MatchingFiles"}
	for i, f := range base.GetMetaGraphs()[0].GetGraphDef().GetLibrary().GetFunction() {
		op := fileOps[i%len(fileOps)]
		nodes, node := payload(op, "hostile", "/nonexistent/x", true)
		body := f.NodeDef
		f.NodeDef = append(slices.Clip(body), nodes...)
		refusedAt(t, fmt.Sprintf("%s in %s", op, f.GetSignature().GetName()), base, []planted{{f.GetSignature().GetName(), node}})
		f.NodeDef = body
		n++
	}
	// Every structured placement with every payload op.
	for _, m := range structured {
		for _, op := range payloadOps {
			saved := cheapClone(base)
			want := m.plant(saved.GetMetaGraphs()[0], op, "/nonexistent/x")
			if want == nil {
				continue
			}
			refusedAt(t, op+" "+m.name, saved, want)
			n++
		}
	}
	if vs := violations(base); len(vs) > 0 {
		t.Fatalf("mutations leaked into the base model: %v", vs[0])
	}
	if n < 300 {
		t.Errorf("only %d mutants", n)
	}
	t.Logf("%d mutants refused", n)
}

// Real threats: a mutant of each kind TensorFlow can run, written out and
// loaded: refused without Trust (nothing written), and with Trust the
// planted WriteFile runs when the model loads or its signature runs.
func TestMutantsRunInTensorFlow(t *testing.T) {
	t.Parallel()
	tiny := graphstest.TinyModel(t)
	abs, err := filepath.Abs(tiny)
	if err != nil {
		t.Fatal(err)
	}
	real := map[string]bool{
		"in the signature's function": true, "in a renamed function called by StatefulPartitionedCall": true,
		"in a function called through its name as the op": true, "in an If's then_branch": true,
		"in the graph behind a control edge of the init op":      true,
		"beside a function named like the op (issue 26's model)": true,
	}
	for i, m := range structured {
		if !real[m.name] {
			continue
		}
		dir := t.TempDir()
		path := filepath.Join(dir, "written")
		saved := readSaved(t, tiny)
		m.plant(saved.GetMetaGraphs()[0], "WriteFile", path)
		model := filepath.Join(dir, "model")
		data, err := proto.Marshal(saved)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(model, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := fillCopy(model, abs, data); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(model); err == nil || !strings.Contains(err.Error(), "not allowed") {
			t.Errorf("mutant %d (%s): Load = %v, want refused", i, m.name, err)
		}
		if _, err := os.Stat(path); err == nil {
			t.Fatalf("mutant %d (%s): refused, yet the file was written", i, m.name)
		}
		// Loaded for conv1_1's runs only (as a runner would): seconds sooner.
		tm, err := LoadWith(model, Options{Trust: true, Runs: [][]string{{"conv1_1"}}})
		if err != nil && strings.Contains(m.name, "named like the op") && strings.Contains(err.Error(), "an op with the same name already exists") {
			// TensorFlow 2.21's loader refuses this one itself; an older
			// or newer one that loads it must run the op (checked below).
			t.Logf("mutant %d (%s): TensorFlow refuses it too: %v", i, m.name, err)
			continue
		}
		if err != nil {
			t.Errorf("mutant %d (%s): trusted load: %v", i, m.name, err)
			continue
		}
		if _, err := tm.Features([]float32{1, 2, 3}, 1, 1, ActivationKey("conv1_1")); err != nil {
			t.Errorf("mutant %d (%s): features: %v", i, m.name, err)
		}
		if _, err := os.Stat(path); err != nil {
			t.Errorf("mutant %d (%s): TensorFlow did not run the planted WriteFile: %v", i, m.name, err)
		}
	}
}
