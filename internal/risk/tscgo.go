package risk

/*
#include <stddef.h>
#include <stdlib.h>
void ts_set_allocator(void *(*)(size_t), void *(*)(size_t, size_t), void *(*)(void *, size_t), void (*)(void *));
static void risk_use_c_allocator(void) { ts_set_allocator(NULL, NULL, NULL, NULL); }

// Layouts and functions of tree-sitter's C API (api.h, v0.25) that the
// flattening walk below needs; the binding does not export its headers.
#include <stdint.h>
#include <stdbool.h>
typedef struct { uint32_t context[4]; const void *id; const void *tree; } RiskNode;
typedef struct { const void *tree; const void *id; uint32_t context[3]; } RiskCursor;
RiskNode ts_tree_root_node(const void *tree);
RiskCursor ts_tree_cursor_new(RiskNode node);
void ts_tree_cursor_delete(RiskCursor *cursor);
RiskNode ts_tree_cursor_current_node(const RiskCursor *cursor);
uint16_t ts_tree_cursor_current_field_id(const RiskCursor *cursor);
bool ts_tree_cursor_goto_first_child(RiskCursor *cursor);
bool ts_tree_cursor_goto_next_sibling(RiskCursor *cursor);
bool ts_tree_cursor_goto_parent(RiskCursor *cursor);
uint16_t ts_node_symbol(RiskNode node);
uint32_t ts_node_start_byte(RiskNode node);
uint32_t ts_node_end_byte(RiskNode node);

typedef struct { uint16_t sym, field; uint32_t start, end; int32_t parent; } RiskRec;

// risk_flatten walks the whole tree in C and returns its nodes in
// pre-order, each with its parent's index; the caller frees the array.
static RiskRec *risk_flatten(const void *tree, uint32_t *count) {
	size_t cap = 4096, n = 0;
	RiskRec *out = malloc(cap * sizeof *out);
	if (!out) { *count = 0; return NULL; }
	RiskCursor c = ts_tree_cursor_new(ts_tree_root_node(tree));
	int32_t parent = -1;
	for (;;) {
		if (n == cap) {
			cap *= 2;
			RiskRec *grown = realloc(out, cap * sizeof *out);
			if (!grown) { free(out); ts_tree_cursor_delete(&c); *count = 0; return NULL; }
			out = grown;
		}
		RiskNode node = ts_tree_cursor_current_node(&c);
		out[n].sym = ts_node_symbol(node);
		out[n].field = ts_tree_cursor_current_field_id(&c);
		out[n].start = ts_node_start_byte(node);
		out[n].end = ts_node_end_byte(node);
		out[n].parent = parent;
		int32_t cur = (int32_t)n++;
		if (ts_tree_cursor_goto_first_child(&c)) { parent = cur; continue; }
		while (!ts_tree_cursor_goto_next_sibling(&c)) {
			if (!ts_tree_cursor_goto_parent(&c)) {
				ts_tree_cursor_delete(&c);
				*count = (uint32_t)n;
				return out;
			}
			parent = out[parent].parent;
		}
	}
}
*/
import "C"

import (
	"sync/atomic"

	sitter "github.com/tree-sitter/go-tree-sitter"
	"unsafe"
)

// The Go binding routes every tree-sitter allocation through a Go callback
// that calls C's malloc again: a C→Go→C round trip per node, which made
// parsing ten times slower than the parser itself. Restoring tree-sitter's
// own default (the same malloc and free, called directly) is safe at any
// time, since both paths hand out memory from the same C heap.
func init() { C.risk_use_c_allocator() }

// cancelFlag is a word in C memory that tree-sitter polls while parsing.
type cancelFlag struct{ ptr *uintptr }

func newCancelFlag() cancelFlag {
	p := (*uintptr)(C.calloc(1, C.size_t(unsafe.Sizeof(uintptr(0)))))
	return cancelFlag{ptr: p}
}

func (f cancelFlag) set()  { atomic.StoreUintptr(f.ptr, 1) }
func (f cancelFlag) free() { C.free(unsafe.Pointer(f.ptr)) }

// flatRec mirrors RiskRec.
type flatRec struct {
	sym, field uint16
	start, end uint32
	parent     int32
}

// flattenTree returns the tree's nodes in pre-order with one cgo call. It
// reads the binding's unexported TSTree pointer, the first and only field of
// sitter.Tree in the pinned v0.25.0; TestFlattenMatchesCursor guards this.
func flattenTree(tree *sitter.Tree) []flatRec {
	inner := *(*unsafe.Pointer)(unsafe.Pointer(tree))
	var n C.uint32_t
	recs := C.risk_flatten(inner, &n)
	if recs == nil {
		return nil
	}
	defer C.free(unsafe.Pointer(recs))
	src := unsafe.Slice((*flatRec)(unsafe.Pointer(recs)), int(n))
	return append([]flatRec(nil), src...)
}
