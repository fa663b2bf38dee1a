package reconcile

import "unsafe"

// unsafeString views b as a string without copying; b must never change
// afterwards (the index's arena only ever grows).
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
