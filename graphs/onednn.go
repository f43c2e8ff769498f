package graphs

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdbool.h>

// tensorflow::IsMKLEnabled(), exported by libtensorflow_framework but not part
// of the C API: looked up at run time, so a library without it links anyway.
static int onednn_enabled(void) {
	void *f = dlsym(RTLD_DEFAULT, "_ZN10tensorflow12IsMKLEnabledEv");
	if (f == NULL) return -1;
	return ((bool (*)(void))f)() ? 1 : 0;
}
*/
import "C"

// OneDNNEnabled reports whether the linked TensorFlow runs its CPU kernels
// through oneDNN, as TensorFlow itself decided (by default on CPUs with
// AVX-512 VNNI, AVX512-BF16 or AMX; TF_ENABLE_ONEDNN_OPTS=0/1 overrides).
// known is false where the library does not say.
func OneDNNEnabled() (enabled, known bool) {
	switch C.onednn_enabled() {
	case 1:
		return true, true
	case 0:
		return false, true
	}
	return false, false
}
