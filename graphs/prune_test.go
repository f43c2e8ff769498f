package graphs

import (
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	fnpb "github.com/galeone/tensorflow/tensorflow/go/core/framework/function_go_proto"
	nodepb "github.com/galeone/tensorflow/tensorflow/go/core/framework/node_def_go_proto"

	"github.com/styletransfer/gostyle/graphs/graphstest"
)

// evaluateAt sets content and style targets at the given layers (computed
// from target) and evaluates the loss and gradient at x.
func evaluateAt(t *testing.T, m *Model, target, x []float32, w, h int, content, style string) (Losses, []float32) {
	t.Helper()
	feats, err := m.Features(target, w, h, ActivationKey(content), GramKey(style))
	if err != nil {
		t.Fatal(err)
	}
	cw, sw := make([]float32, len(m.Meta.Layers)), make([]float32, len(m.Meta.Layers))
	cw[m.Meta.LayerIndex(content)], sw[m.Meta.LayerIndex(style)] = 1e-2, 1e-6
	if err := m.SetTargets(Targets{
		Content:        map[string]Tensor{content: feats[ActivationKey(content)]},
		Grams:          map[string]Tensor{style: feats[GramKey(style)]},
		ContentWeights: cw, StyleWeights: sw,
	}); err != nil {
		t.Fatal(err)
	}
	grad := make([]float32, len(x))
	var l Losses
	if err := m.NewEvaluator(w, h).Evaluate(x, grad, &l); err != nil {
		t.Fatal(err)
	}
	return l, grad
}

// A model loaded for some runs holds only their depths' signatures, and
// computes what the whole export computes, bit for bit: the same graph
// functions run.
func TestLoadForRunsKeepsTheirDepthsOnly(t *testing.T) {
	dir := graphstest.TinyModel(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where the pruned copy is written, and removed
	full, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	pruned, err := LoadWith(dir, Options{Runs: [][]string{{"conv1_1", "conv2_1"}, {"conv3_1", "conv1_1"}}})
	if err != nil {
		t.Fatal(err)
	}
	var loss, features []string
	for name := range pruned.sigs {
		if strings.HasPrefix(name, "loss_") {
			loss = append(loss, name)
		}
		if strings.HasPrefix(name, "features_") {
			features = append(features, name)
		}
	}
	if len(loss) != 2 || len(features) != 2 || !pruned.pruned {
		t.Fatalf("loaded loss %v and features %v, want conv2_1's and conv3_1's", loss, features)
	}
	for _, sig := range []string{"features_conv2_1", "features_conv3_1", pruned.lossSigOf("conv2_1"), pruned.lossSigOf("conv3_1")} {
		if _, ok := pruned.sigs[sig]; !ok {
			t.Errorf("no %s", sig)
		}
	}
	if pruned.ConvGradient() != full.ConvGradient() {
		t.Errorf("conv gradient %s, whole export %s", pruned.ConvGradient(), full.ConvGradient())
	}

	const w, h = 20, 16
	rng := rand.New(rand.NewPCG(8, 8))
	target, x := randomImage(rng, w, h, 50), randomImage(rng, w, h, 50)
	// conv2_1 exactly; conv1_2 through conv2_1's signatures (the next loaded depth).
	for _, c := range [][2]string{{"conv2_1", "conv1_1"}, {"conv1_2", "conv1_1"}} {
		lf, gf := evaluateAt(t, full, target, x, w, h, c[0], c[1])
		lp, gp := evaluateAt(t, pruned, target, x, w, h, c[0], c[1])
		if lf.Total != lp.Total || lf.Content != lp.Content || lf.Style != lp.Style {
			t.Errorf("%v: pruned loss %+v, whole export %+v", c, lp, lf)
		}
		for i := range gf {
			if gf[i] != gp[i] {
				t.Errorf("%v: gradient[%d] %g, whole export %g", c, i, gp[i], gf[i])
				break
			}
		}
	}
	img := randomImage(rng, w, h, 50)
	if _, err := pruned.Features(img, w, h, GramKey("conv4_1")); err == nil || !strings.Contains(err.Error(), "conv4_1") {
		t.Errorf("features deeper than every run: %v", err)
	}
	if entries, _ := filepath.Glob(filepath.Join(tmp, "*")); len(entries) != 0 {
		t.Errorf("temporary model folders left behind: %v", entries)
	}
}

func TestKeptSignaturesIgnoreUnknownLayers(t *testing.T) {
	md := Metadata{Layers: []string{"conv1_1", "conv1_2", "conv2_1"}}
	keep := keptSignatures(md, nil, [][]string{{"conv1_2", "conv9_9"}, {}}, "forward")
	for _, sig := range []string{"features_conv1_2", "loss_forward_conv1_2", "features_conv1_1", "loss_forward_conv1_1", sigSetTargets, sigMetadata,
		"tile_features_conv1_2", "tile_loss_conv1_2"} {
		if !keep[sig] {
			t.Errorf("%s not kept", sig)
		}
	}
	if keep["loss_conv1_2"] || keep["features_conv2_1"] || len(keep) != 11 {
		t.Errorf("kept %v", keep)
	}
}

// The pruned graph's restore reads one element of each weight no kept
// signature uses, and assigns it nowhere: loading holds the run's layers'
// weights only.
func TestPruneRestoresTheKeptSignaturesWeightsOnly(t *testing.T) {
	dir := graphstest.TinyModel(t)
	saved := readSaved(t, dir)
	mg := saved.GetMetaGraphs()[0]
	js, err := metadataJSON(dir, saved)
	if err != nil {
		t.Fatal(err)
	}
	md, err := parseMetadata([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	prune(mg, keptSignatures(md, mg.GetSignatureDef(), [][]string{{"conv1_1", "conv2_1"}}, "forward"))
	var restore *fnpb.FunctionDef
	for _, f := range mg.GetGraphDef().GetLibrary().GetFunction() {
		if strings.Contains(f.GetSignature().GetName(), "traced_restore") {
			restore = f
		}
	}
	body := map[string]*nodepb.NodeDef{}
	for _, n := range restore.GetNodeDef() {
		body[n.GetName()] = n
	}
	names := body["RestoreV2/tensor_names"].GetAttr()["value"].GetTensor().GetStringVal()
	specs := body["RestoreV2/shape_and_slices"].GetAttr()["value"].GetTensor().GetStringVal()
	assigned := map[int]bool{}
	for _, n := range restore.GetNodeDef() {
		if n.GetOp() == "AssignVariableOp" {
			k := strings.TrimPrefix(body[strings.Split(n.GetInput()[1], ":")[0]].GetInput()[0], "RestoreV2:tensors:")
			i, _ := strconv.Atoi(k)
			assigned[i] = true
		}
	}
	// Up to conv2_1 (layer 2) for the features and loss; set_forward_gradient
	// flips the kernels up to conv3_1 (layer 4), the last before the Winograd
	// layers.
	for i, name := range names {
		kind, rest, _ := strings.Cut(string(name), "/")
		if kind != "kernels" && kind != "biases" {
			if len(specs[i]) != 0 || !assigned[i] && kind != "_CHECKPOINTABLE_OBJECT_GRAPH" {
				t.Errorf("%s: spec %q, assigned %v", name, specs[i], assigned[i])
			}
			continue
		}
		layer, _ := strconv.Atoi(strings.Split(rest, "/")[0])
		lastUsed := 2
		if kind == "kernels" {
			lastUsed = 4
		}
		if skipped := len(specs[i]) != 0; skipped != (layer > lastUsed) || assigned[i] == skipped {
			t.Errorf("%s: spec %q, assigned %v; want the whole tensor up to layer %d only", name, specs[i], assigned[i], lastUsed)
		}
		if len(specs[i]) != 0 && !strings.HasSuffix(string(specs[i]), " 0,1:0,1:0,1:0,1") && !strings.HasSuffix(string(specs[i]), " 0,1") {
			t.Errorf("%s: spec %q, want one element", name, specs[i])
		}
	}
}
