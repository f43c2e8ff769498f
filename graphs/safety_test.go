package graphs

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	nodepb "github.com/galeone/tensorflow/tensorflow/go/core/framework/node_def_go_proto"
	corepb "github.com/galeone/tensorflow/tensorflow/go/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"

	"github.com/styletransfer/gostyle/graphs/graphstest"
)

// The function each tiny hostile model (graphs/testdata/hostile_models.py)
// writes its file from, and the op that does it.
var hostileVectors = map[string]struct{ op, fn string }{
	"features":    {"WriteFile", "__inference_features_conv1_1_"},
	"set_targets": {"WriteFile", "__inference_set_targets_"},
	"loss":        {"WriteFile", "__inference_loss_conv1_1_"},
	"metadata":    {"WriteFile", "__inference_metadata_"},
	"nested":      {"WriteFile", "__inference_hidden_writer_"},
	"init":        {"WriteFile", "__inference__initializer_"},
	"restore":     {"WriteFile", "__inference__traced_restore_"},
	"py_function": {"EagerPyFunc", "__inference_features_conv1_1_"},
}

// exportedModel is a model export/ wrote: the committed tiny ones, and the
// fixture script's fresh export-<arch>-<pooling> of each option combination
// that changes the graph.
type exportedModel struct {
	dir, arch, pooling string
	layers             int
}

func exportedModels(t *testing.T, fixtures string) []exportedModel {
	ms := []exportedModel{
		{graphstest.Path(t, "testdata", "vgg19-tiny"), "vgg19", "avg", 16},
		{graphstest.Path(t, "testdata", "vgg19-tiny-max"), "vgg19", "max", 16},
		{graphstest.Path(t, "testdata", "vgg16-tiny"), "vgg16", "max", 13},
	}
	for arch, layers := range map[string]int{"vgg19": 16, "vgg16": 13} {
		for _, pooling := range []string{"avg", "max"} {
			ms = append(ms, exportedModel{filepath.Join(fixtures, "export-"+arch+"-"+pooling), arch, pooling, layers})
		}
	}
	return ms
}

// opsOf lists the ops a SavedModel's graphs and functions use, function calls
// by name left out.
func opsOf(saved *corepb.SavedModel) map[string]bool {
	ops := map[string]bool{}
	for _, mg := range saved.GetMetaGraphs() {
		g := newGraphIndex(mg)
		add := func(n *nodepb.NodeDef) {
			if g.fns[n.GetOp()] == nil {
				ops[n.GetOp()] = true
			}
		}
		for _, n := range mg.GetGraphDef().GetNode() {
			add(n)
		}
		for _, f := range g.fns {
			for _, n := range f.GetNodeDef() {
				add(n)
			}
		}
	}
	return ops
}

// buildHostileModels runs the fixture script once (one Python process, about
// 20 s of CPU: four tiny exports and the hostile models) into a fresh folder.
func buildHostileModels(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(graphstest.Python(t), filepath.Join("graphs", "testdata", "hostile_models.py"), dir)
	cmd.Dir = graphstest.Root(t)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+graphstest.Root(t), "TF_CPP_MIN_LOG_LEVEL=2")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hostile_models.py: %v\n%s", err, out)
	}
	return dir
}

func written(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "written-*"))
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range files {
		files[i] = strings.TrimPrefix(filepath.Base(f), "written-")
	}
	return files
}

func readSaved(t *testing.T, dir string) *corepb.SavedModel {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "saved_model.pb"))
	if err != nil {
		t.Fatal(err)
	}
	var saved corepb.SavedModel
	if err := proto.Unmarshal(data, &saved); err != nil {
		t.Fatal(err)
	}
	return &saved
}

// One fixture build serves every case; they run in order (the trusted load
// comes last, as it writes the files the others check are absent). The build
// is mostly a Python process: the package's other tests run meanwhile.
func TestModelSafety(t *testing.T) {
	graphstest.EndToEnd(t) // it exports hostile models through Python: minutes
	t.Parallel()
	dir := buildHostileModels(t)

	t.Run("export's models pass and load", func(t *testing.T) {
		for _, e := range exportedModels(t, dir) {
			if vs := violations(readSaved(t, e.dir)); len(vs) > 0 {
				t.Errorf("%s: %d ops refused, first %s", e.dir, len(vs), vs[0])
			}
			m, err := Load(e.dir)
			if err != nil {
				t.Fatalf("Load(%s): %v", e.dir, err)
			}
			if md := m.Meta; md.Arch != e.arch || md.Pooling != e.pooling || len(md.Layers) != e.layers {
				t.Errorf("%s: metadata %s %s %d layers, want %s %s %d", e.dir, md.Arch, md.Pooling, len(md.Layers), e.arch, e.pooling, e.layers)
			}
		}
	})

	// The allowlists hold every op the exports use, and nothing more: an op
	// export/ stopped emitting is no longer allowed.
	t.Run("the allowlist is exactly what export/ emits", func(t *testing.T) {
		used := map[string]bool{}
		for _, e := range exportedModels(t, dir) {
			maps.Copy(used, opsOf(readSaved(t, e.dir)))
		}
		allowed := map[string]bool{}
		for _, s := range []map[string]bool{computeOps, restoreOps, saveOps} {
			maps.Copy(allowed, s)
		}
		for op := range used {
			if !allowed[op] {
				t.Errorf("export/ emits %s, which is not allowed", op)
			}
		}
		for op := range allowed {
			if !used[op] {
				t.Errorf("%s is allowed, but no export uses it", op)
			}
		}
	})

	t.Run("each hostile part is refused by name", func(t *testing.T) {
		for vector, want := range hostileVectors {
			path := filepath.Join(dir, vector)
			_, err := Load(path)
			prefix := "model " + path + ": op " + want.op + " (in function " + want.fn
			if err == nil || !strings.HasPrefix(err.Error(), prefix) || !strings.HasSuffix(err.Error(), "(pass -trust-model to load it anyway)") {
				t.Errorf("%s: Load = %v\nwant %q...(pass -trust-model to load it anyway)", vector, err, prefix)
			}
		}
		if err := func() error { _, err := Load(filepath.Join(dir, "py_function")); return err }(); err == nil || !strings.Contains(err.Error(), "it runs Python") {
			t.Errorf("py_function: %v, want the reason: it runs Python", err)
		}
	})

	t.Run("a real model with every hostile part is refused for each", func(t *testing.T) {
		path := filepath.Join(dir, "hostile")
		var found []string
		for _, v := range violations(readSaved(t, path)) {
			if v.op == "WriteFile" {
				found = append(found, v.fn)
			}
		}
		for vector, want := range hostileVectors {
			if vector != "py_function" && !slices.ContainsFunc(found, func(fn string) bool { return strings.HasPrefix(fn, want.fn) }) {
				t.Errorf("no WriteFile refused in %s*; refused in %v", want.fn, found)
			}
		}
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "op WriteFile") || !strings.Contains(err.Error(), "nodes in all use ops not allowed (") {
			t.Errorf("Load(hostile) = %v", err)
		}
	})

	t.Run("nothing was written", func(t *testing.T) {
		if w := written(t, dir); len(w) > 0 {
			t.Fatalf("refused models wrote files anyway: %v", w)
		}
	})

	// With -trust-model the same model loads, and each hostile part writes its
	// file when it runs: the fixtures are real, and load runs no signature.
	t.Run("trusted, it loads and writes", func(t *testing.T) {
		m, err := LoadWith(filepath.Join(dir, "hostile"), Options{Trust: true})
		if err != nil {
			t.Fatal(err)
		}
		if m.Meta.Pooling != "max" {
			t.Errorf("metadata %+v", m.Meta)
		}
		if w := written(t, dir); !slices.Equal(w, []string{"init", "restore"}) {
			t.Errorf("loading wrote %v, want the init and restore writers only (no signature runs at load)", w)
		}
		if _, err := m.Features([]float32{1, 2, 3}, 1, 1, ActivationKey("conv1_1")); err != nil {
			t.Fatal(err)
		}
		// Every coefficient 0: the evaluator runs loss_conv1_1, the hostile one.
		if err := m.SetTargets(Targets{ContentWeights: make([]float32, 16), StyleWeights: make([]float32, 16)}); err != nil {
			t.Fatal(err)
		}
		var l Losses
		if err := m.NewEvaluator(2, 2).Evaluate(make([]float32, 12), make([]float32, 12), &l); err != nil {
			t.Fatal(err)
		}
		if _, err := m.run(sigMetadata, nil, "json"); err != nil {
			t.Fatal(err)
		}
		want := []string{"features", "init", "loss", "metadata", "nested", "restore", "set_targets"}
		if w := written(t, dir); !slices.Equal(w, want) {
			t.Errorf("written %v, want %v", w, want)
		}
	})
}

// The save function SavedModels carry is allowed only while nothing but the
// saver's save tensor reaches it; RestoreV2 only while nothing but the
// restore op does. Rewiring a signature to them makes both refused.
func TestSaverOpsOnlyOnTheirOwnPath(t *testing.T) {
	saved := readSaved(t, graphstest.TinyModel(t))
	if vs := violations(saved); len(vs) > 0 {
		t.Fatalf("exported model refused: %s", vs[0])
	}
	mg := saved.GetMetaGraphs()[0]
	saver := mg.GetSaverDef()
	outs := mg.GetSignatureDef()[sigMetadata].GetOutputs()
	outs["save"] = &corepb.TensorInfo{Encoding: &corepb.TensorInfo_Name{Name: saver.GetSaveTensorName()}}
	outs["restore"] = &corepb.TensorInfo{Encoding: &corepb.TensorInfo_Name{Name: saver.GetRestoreOpName()}}
	var got []string
	for _, v := range violations(saved) {
		got = append(got, v.op)
		if !strings.HasPrefix(v.fn, "__inference__traced_") {
			t.Errorf("refused %s outside the saver's functions", v)
		}
	}
	for _, op := range []string{"SaveV2", "MergeV2Checkpoints", "RestoreV2"} {
		if !slices.Contains(got, op) {
			t.Errorf("%s not refused once a signature reaches it (refused: %v)", op, got)
		}
	}
}

// Nodes of the meta graph itself are checked too, reached or not.
func TestGraphNodesAreChecked(t *testing.T) {
	saved := readSaved(t, graphstest.TinyModel(t))
	g := saved.GetMetaGraphs()[0].GetGraphDef()
	g.Node = append(g.Node,
		&nodepb.NodeDef{Name: "dead_writer", Op: "WriteFile", Input: []string{"saver_filename", "saver_filename"}},
		&nodepb.NodeDef{Name: "reader", Op: "ReadFile", Input: []string{"saver_filename"}})
	saved.GetMetaGraphs()[0].GetCollectionDef()["saved_model_main_op"] = &corepb.CollectionDef{
		Kind: &corepb.CollectionDef_NodeList_{NodeList: &corepb.CollectionDef_NodeList{Value: []string{"reader"}}}}
	err := checkSafe(t.TempDir(), saved, false)
	want := "op WriteFile (node dead_writer) is not allowed: it reads or writes files; 2 nodes in all use ops not allowed (WriteFile, ReadFile) (pass -trust-model to load it anyway)"
	if err == nil || err.Error() != want {
		t.Errorf("checkSafe = %v\nwant %s", err, want)
	}
	if vs := violations(saved); len(vs) != 2 || vs[1].op != "ReadFile" {
		t.Errorf("violations = %v", vs)
	}
}

func copyModel(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "model")
	if err := os.CopyFS(dir, os.DirFS(graphstest.TinyModel(t))); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestMetadataIsReadFromTheGraphAndMustMatchItsCopy(t *testing.T) {
	saved := readSaved(t, graphstest.TinyModel(t))
	copyText, err := os.ReadFile(filepath.Join(graphstest.TinyModel(t), "assets.extra", "metadata.json"))
	if err != nil {
		t.Fatal(err)
	}
	js, err := metadataJSON(t.TempDir(), saved) // no copy beside it: the graph alone
	if err != nil || js != string(copyText) {
		t.Fatalf("metadata from the graph = %q, %v; want the exporter's copy", js, err)
	}

	dir := copyModel(t)
	edited := strings.Replace(string(copyText), `"pooling": "avg"`, `"pooling": "max"`, 1)
	if err := os.WriteFile(filepath.Join(dir, "assets.extra", "metadata.json"), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "assets.extra/metadata.json differs") {
		t.Errorf("Load with an edited metadata.json = %v", err)
	}
}

func TestAnotherGraphFileBesideIsRefused(t *testing.T) {
	dir := copyModel(t)
	if err := os.WriteFile(filepath.Join(dir, "saved_model.pbtxt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "saved_model.pbtxt beside saved_model.pb") {
		t.Errorf("Load = %v", err)
	}
	if _, err := LoadWith(dir, Options{Trust: true}); err != nil {
		t.Errorf("trusted: %v", err)
	}
}
