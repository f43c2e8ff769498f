package graphs

// #include <stdlib.h>
// #include "tensorflow/c/c_api.h"
import "C"

import (
	"sync"
	"unsafe"

	opdefpb "github.com/galeone/tensorflow/tensorflow/go/core/framework/op_def_go_proto"
	"google.golang.org/protobuf/proto"
)

// registeredOps are the op types the TensorFlow library in this process
// registers (TF_GetAllOpList): the names a node's op resolves to before any
// library function of the same name. Listed once.
var registeredOps = sync.OnceValue(func() map[string]bool {
	buf := C.TF_GetAllOpList()
	defer C.TF_DeleteBuffer(buf)
	var list opdefpb.OpList
	if err := proto.Unmarshal(C.GoBytes(unsafe.Pointer(buf.data), C.int(buf.length)), &list); err != nil {
		return nil // isOp then falls back to the ops this package names
	}
	ops := make(map[string]bool, len(list.GetOp()))
	for _, op := range list.GetOp() {
		ops[op.GetName()] = true
	}
	return ops
})

// isOp says whether TensorFlow knows name as an op: registered in this
// process, or named in this package's lists (allowed or refused).
func isOp(name string) bool {
	return registeredOps()[name] || knownOp(name)
}
func knownOp(name string) bool {
	return computeOps[name] || restoreOps[name] || saveOps[name] || refusedWhy[name] != ""
}
