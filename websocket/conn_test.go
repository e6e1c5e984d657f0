package websocket

import (
	"testing"
	"unsafe"
)

// TestConnSize: an idle connection's own memory is its Conn, which fits
// the allocator's 96-byte size class (the next is 112): a field added to
// Conn belongs in connExtra or MessageReader unless every idle connection
// needs it.
func TestConnSize(t *testing.T) {
	if size := unsafe.Sizeof(Conn{}); size > 96 {
		t.Fatalf("Conn is %d bytes, more than 96", size)
	}
}
