package graphs

import (
	"fmt"
	"strconv"
	"strings"

	tf "github.com/galeone/tensorflow/tensorflow/go"
	corepb "github.com/galeone/tensorflow/tensorflow/go/core/protobuf/for_core_protos_go_proto"
	"golang.org/x/sys/cpu"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Options say how LoadWith loads a model: where and how TensorFlow runs it,
// and whether the op allowlist applies.
type Options struct {
	// Device is "auto" (a GPU when TensorFlow sees one, else the CPU),
	// "cpu", "gpu" (the first GPU) or "gpu:N". "" means auto.
	Device string
	// Thread pools; 0 leaves TensorFlow's choice (one thread per core).
	IntraOpThreads int // threads inside one op (a convolution)
	InterOpThreads int // ops run at the same time
	// BFloat16 lets TensorFlow's graph optimizer run convolutions and
	// matrix products in bfloat16 through oneDNN (AMX, AVX512-BF16 CPUs);
	// variables, losses and the gradient stay float32.
	BFloat16 bool
	// Float16 is the GPU counterpart: Grappler's automatic mixed precision
	// runs convolutions and matrix products in float16 on the GPU (tensor
	// cores), keeping variables, losses and the gradient float32. It needs
	// the graph on a GPU; float32 there already uses TF32 on Ampere and newer.
	Float16 bool
	// ConvGradient is how the loss computes each convolution's input
	// gradient: "backprop" (TensorFlow's Conv2DBackpropInput), "forward" (a
	// forward convolution with the flipped kernel, and Winograd's F(4x4, 3x3)
	// from conv3_2 on: the same values to a few 1e-6, faster on CPUs, 60-90 MB
	// more memory) or "auto"/"" (see chooseConvGradient; backprop with
	// models exported before the forward signatures existed).
	ConvGradient string
	// Trust loads a model whose graphs hold ops export/ does not emit (ops
	// that could read or write files, run Python or use a network): only for
	// a model the user vouches for (-trust-model). See checkSafe.
	Trust bool
	// Runs, when not nil, lists the layers each run on this model will use
	// (its content and style layers with a weight): the graph is then loaded
	// with the features and loss signatures of each run's deepest layer only,
	// which starts seconds sooner and holds less memory than the whole
	// export (see prune.go). A run deeper than all of them gets an error.
	Runs [][]string
}

// Device is a device TensorFlow can run on.
type Device struct {
	Name string // e.g. /job:localhost/replica:0/task:0/device:CPU:0
	Type string // CPU, GPU
}

// Devices lists the devices TensorFlow sees on this host (with its default
// settings: every GPU visible).
func Devices() ([]Device, error) { return devices(nil) }

func devices(opts *tf.SessionOptions) ([]Device, error) {
	var (
		list []tf.Device
		err  error
	)
	if cerr := catch(func() {
		var s *tf.Session
		if s, err = tf.NewSession(tf.NewGraph(), opts); err != nil {
			return
		}
		defer s.Close()
		list, err = s.ListDevices()
	}); cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, fmt.Errorf("list TensorFlow devices: %w", err)
	}
	out := make([]Device, len(list))
	for i, d := range list {
		out[i] = Device{Name: d.Name, Type: d.Type}
	}
	return out, nil
}

// TensorFlowVersion is the version of the TensorFlow library linked in.
func TensorFlowVersion() string { return tf.Version() }

// ParseDevice checks a device setting: auto, cpu, gpu or gpu:N. It returns
// the GPU index asked for (-1 for auto and cpu).
func ParseDevice(s string) (gpu int, err error) {
	switch s {
	case "", "auto", "cpu":
		return -1, nil
	case "gpu":
		return 0, nil
	}
	if n, ok := strings.CutPrefix(s, "gpu:"); ok {
		if i, err := strconv.Atoi(n); err == nil && i >= 0 {
			return i, nil
		}
	}
	return 0, fmt.Errorf("device %q: want auto, cpu, gpu or gpu:N", s)
}

// session turns opts into TensorFlow's session options (a serialised
// ConfigProto) and names the device the graph will run on. A GPU asked for
// on a host without one is an error, not a silent CPU run.
func (opts Options) session() (*tf.SessionOptions, string, error) {
	if opts.IntraOpThreads < 0 || opts.InterOpThreads < 0 {
		return nil, "", fmt.Errorf("thread counts %d and %d: want 0 (TensorFlow's default) or more", opts.IntraOpThreads, opts.InterOpThreads)
	}
	gpu, err := ParseDevice(opts.Device)
	if err != nil {
		return nil, "", err
	}
	cfg := &corepb.ConfigProto{
		IntraOpParallelismThreads: int32(opts.IntraOpThreads),
		InterOpParallelismThreads: int32(opts.InterOpThreads),
	}
	device := "/device:CPU:0"
	if opts.Device == "cpu" {
		cfg.DeviceCount = map[string]int32{"GPU": 0}
	} else {
		all, err := Devices()
		if err != nil {
			return nil, "", err
		}
		var gpus []string
		for _, d := range all {
			if d.Type == "GPU" {
				gpus = append(gpus, d.Name)
			}
		}
		switch {
		case gpu >= 0 && len(gpus) == 0:
			return nil, "", fmt.Errorf("device %s: TensorFlow sees no GPU on this host (is the CUDA wheel installed? see README, GPU hosts); use device: auto or cpu", opts.Device)
		case gpu >= len(gpus):
			return nil, "", fmt.Errorf("device %s: TensorFlow sees %d GPU(s), numbered from 0", opts.Device, len(gpus))
		case gpu >= 0:
			cfg.GpuOptions = &corepb.GPUOptions{VisibleDeviceList: strconv.Itoa(gpu), AllowGrowth: true}
			device = "/device:GPU:0" // the one visible GPU
		case len(gpus) > 0: // auto with a GPU: TensorFlow places the graph on GPU:0
			cfg.GpuOptions = &corepb.GPUOptions{AllowGrowth: true}
			device = "/device:GPU:0"
		}
	}
	rewrite := startupRewrites()
	if opts.Float16 {
		if device != "/device:GPU:0" {
			return nil, "", fmt.Errorf("precision float16 is mixed precision on a GPU, and this run is on the CPU (device %s%s): use float32, or bfloat16 on a CPU with AMX or AVX512-BF16", deviceName(opts.Device), noGPUSeen(opts.Device))
		}
		rewrite.AutoMixedPrecision = corepb.RewriterConfig_ON // float16 on CUDA GPUs
	}
	if opts.BFloat16 {
		// field 25, named auto_mixed_precision_onednn_bfloat16 since TF 2.9
		rewrite.AutoMixedPrecisionMkl = corepb.RewriterConfig_ON
	}
	cfg.GraphOptions = &corepb.GraphOptions{RewriteOptions: rewrite}
	b, err := proto.Marshal(cfg)
	if err != nil {
		return nil, "", err
	}
	return &tf.SessionOptions{Config: b}, device, nil
}

// deviceName is the device setting as a user writes it ("" is auto).
func deviceName(d string) string {
	if d == "" {
		return "auto"
	}
	return d
}

// noGPUSeen explains why device auto ended on the CPU.
func noGPUSeen(d string) string {
	if d == "" || d == "auto" {
		return ", and TensorFlow sees no GPU"
	}
	return ""
}

// startupRewrites are graph-optimizer settings that cut start-up. Every new
// combination of feeds and fetches (load, each features signature,
// set_targets, the loss) runs TensorFlow's graph optimizer over the pruned
// graph and the model's whole function library. Two of its passes do
// nothing for these graphs and take most of that time: the MLIR "TFG" pass
// (shape inference and attribute tidying over the library, 0.3-0.45 s a run
// on a 2-core AMD EPYC) and the implementation selector (it swaps Keras
// recurrent layers for GPU kernels). Skipping them saved 3-4 s before the
// first iteration at 256x256; the loss graph keeps the same fused ops.
func startupRewrites() *corepb.RewriterConfig {
	rc := &corepb.RewriterConfig{ImplementationSelector: corepb.RewriterConfig_OFF}
	// disable_tfg_optimizer is field 32 of RewriterConfig, newer than the
	// Go bindings' copy of the proto: written as a raw field, which
	// TensorFlow's parser reads like any other.
	rc.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 32, protowire.VarintType), 1))
	return rc
}

// HasBFloat16Math reports whether the CPU has bfloat16 matrix instructions
// (AMX-BF16 or AVX512-BF16), which oneDNN uses for precision: bfloat16.
func HasBFloat16Math() bool { return cpu.X86.HasAMXBF16 || cpu.X86.HasAVX512BF16 }
