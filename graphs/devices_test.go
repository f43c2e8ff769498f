package graphs

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
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
