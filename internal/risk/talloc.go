package risk

/*
#include <stddef.h>
void ts_set_allocator(void *(*)(size_t), void *(*)(size_t, size_t), void *(*)(void *, size_t), void (*)(void *));
static void risk_use_c_allocator(void) { ts_set_allocator(NULL, NULL, NULL, NULL); }
*/
import "C"

// The Go binding routes every tree-sitter allocation through a Go callback
// that calls C's malloc again: a C→Go→C round trip per node, which made
// parsing ten times slower than the parser itself. Restoring tree-sitter's
// own default (the same malloc and free, called directly) is safe at any
// time, since both paths hand out memory from the same C heap.
func init() { C.risk_use_c_allocator() }
