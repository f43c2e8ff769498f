package graphs

/*
#include <malloc.h>
*/
import "C"

import "runtime/debug"

// ReleaseMemory gives freed memory back to the system: Go's garbage
// (debug.FreeOSMemory) and the free pages of the C heap that TensorFlow
// allocates from (glibc's malloc_trim), which glibc otherwise keeps when
// they lie below memory still in use. A run calls it between phases (after
// its targets, before its final picture), so one phase's leftovers do not
// add to the next one's peak.
func ReleaseMemory() {
	debug.FreeOSMemory()
	C.malloc_trim(0)
}
