package graphs

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	corepb "github.com/galeone/tensorflow/tensorflow/go/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Features already computed for the same picture come from the cache (a
// sweep's points share them), with the same values; another picture, or
// another output, runs the network.
func TestFeaturesAreReused(t *testing.T) {
	m := tiny(t)
	rng := rand.New(rand.NewPCG(3, 4))
	img := randomImage(rng, 16, 12, 50)
	first, err := m.Features(img, 16, 12, GramKey("conv2_1"))
	if err != nil {
		t.Fatal(err)
	}
	before := m.FeatureReuse()
	again, err := m.Features(slices.Clone(img), 16, 12, GramKey("conv2_1"), ActivationKey("conv1_1"))
	if err != nil {
		t.Fatal(err)
	}
	if m.FeatureReuse() != before+1 {
		t.Errorf("reuse %d -> %d, want one output from the cache", before, m.FeatureReuse())
	}
	a, b := first[GramKey("conv2_1")].Value().([][]float32), again[GramKey("conv2_1")].Value().([][]float32)
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			t.Fatalf("cached Gram row %d differs", i)
		}
	}
	img[0]++
	if _, err := m.Features(img, 16, 12, GramKey("conv2_1")); err != nil {
		t.Fatal(err)
	}
	if m.FeatureReuse() != before+1 {
		t.Error("a changed picture was served from the cache")
	}
}

// The devices TensorFlow sees include the CPU; a GPU asked for where none
// is seen is one clear error, and device settings are checked.
func TestDevices(t *testing.T) {
	devs, err := Devices()
	if err != nil {
		t.Fatal(err)
	}
	gpus := 0
	cpu := false
	for _, d := range devs {
		cpu = cpu || d.Type == "CPU"
		if d.Type == "GPU" {
			gpus++
		}
	}
	if !cpu {
		t.Fatalf("no CPU among %v", devs)
	}
	for _, bad := range []string{"tpu", "gpu:", "gpu:-1", "gpu:x"} {
		if _, err := ParseDevice(bad); err == nil {
			t.Errorf("device %q accepted", bad)
		}
	}
	if gpus == 0 {
		_, err := LoadWith("../testdata/vgg19-tiny", Options{Device: "gpu"})
		if err == nil || !strings.Contains(err.Error(), "sees no GPU") || strings.Contains(err.Error(), "\n") {
			t.Errorf("device gpu without a GPU: %v", err)
		}
	}
	m, err := LoadWith("../testdata/vgg19-tiny", Options{Device: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Device != "/device:CPU:0" {
		t.Errorf("device %q, want the CPU", m.Device)
	}
	if TensorFlowVersion() == "" {
		t.Error("no TensorFlow version")
	}
}

// TensorFlow's own choice, which TF_ENABLE_ONEDNN_OPTS overrides; the test
// binary is started again with each setting, since TensorFlow reads it once.
func TestOneDNNEnabledFollowsTensorFlow(t *testing.T) {
	if v := os.Getenv("GRAPHS_ONEDNN_CHILD"); v != "" {
		on, known := OneDNNEnabled()
		if !known || on != (v == "1") {
			t.Fatalf("TF_ENABLE_ONEDNN_OPTS=%s: OneDNNEnabled() = %v (known %v)", v, on, known)
		}
		return
	}
	for _, v := range []string{"0", "1"} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestOneDNNEnabledFollowsTensorFlow$")
		cmd.Env = append(os.Environ(), "GRAPHS_ONEDNN_CHILD="+v, "TF_ENABLE_ONEDNN_OPTS="+v)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("TF_ENABLE_ONEDNN_OPTS=%s: %v\n%s", v, err, out)
		}
	}
}

// rewriteOptions are the graph-optimizer settings of opts' session options.
func rewriteOptions(t *testing.T, opts Options) *corepb.RewriterConfig {
	t.Helper()
	so, _, err := opts.session()
	if err != nil {
		t.Fatal(err)
	}
	var cfg corepb.ConfigProto
	if err := proto.Unmarshal(so.Config, &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg.GetGraphOptions().GetRewriteOptions()
}

// The session options every load uses skip the graph optimizer's TFG pass
// (field 32 of RewriterConfig, newer than the Go bindings' proto) and the
// implementation selector; bfloat16 adds the oneDNN rewrite beside them.
func TestSessionOptionsSkipStartupPasses(t *testing.T) {
	for _, bf16 := range []bool{false, true} {
		rc := rewriteOptions(t, Options{Device: "cpu", BFloat16: bf16})
		if rc.GetImplementationSelector() != corepb.RewriterConfig_OFF {
			t.Errorf("bf16 %v: implementation selector %v, want OFF", bf16, rc.GetImplementationSelector())
		}
		if got := rc.GetAutoMixedPrecisionMkl() == corepb.RewriterConfig_ON; got != bf16 {
			t.Errorf("bf16 %v: oneDNN bfloat16 rewrite on = %v", bf16, got)
		}
		if rc.GetAutoMixedPrecision() != corepb.RewriterConfig_DEFAULT {
			t.Errorf("bf16 %v: GPU mixed precision %v, want it left alone", bf16, rc.GetAutoMixedPrecision())
		}
		raw := rc.ProtoReflect().GetUnknown()
		num, typ, n := protowire.ConsumeTag(raw)
		v, m := protowire.ConsumeVarint(raw[max(n, 0):])
		if n < 0 || m < 0 || num != 32 || typ != protowire.VarintType || v != 1 || n+m != len(raw) {
			t.Errorf("bf16 %v: rewrite options carry %x, want only disable_tfg_optimizer (32) = 1", bf16, raw)
		}
	}
}

// float16 is mixed precision on a GPU: a run on the CPU is refused in one
// line naming the device, not run slower in emulation. (Where TensorFlow
// sees a GPU, device auto or gpu gets the rewrite; this test's hosts have none.)
func TestFloat16NeedsGPU(t *testing.T) {
	gpus := 0
	all, err := Devices()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range all {
		if d.Type == "GPU" {
			gpus++
		}
	}
	cases := map[string]string{"cpu": "device cpu)"}
	if gpus == 0 {
		cases["auto"] = "device auto, and TensorFlow sees no GPU)"
	}
	for dev, want := range cases {
		_, _, err := Options{Device: dev, Float16: true}.session()
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "precision float16 is mixed precision on a GPU") {
			t.Errorf("device %s, float16: error %v, want one naming %q", dev, err, want)
		}
	}
	if gpus > 0 {
		if rewriteOptions(t, Options{Device: "gpu", Float16: true}).GetAutoMixedPrecision() != corepb.RewriterConfig_ON {
			t.Error("float16 on a GPU: auto_mixed_precision is not on")
		}
	}
}

// FeatureReuse is how many feature outputs were served from the cache
// rather than computed (for logs and tests).
func (m *Model) FeatureReuse() int { return m.features.hits }
