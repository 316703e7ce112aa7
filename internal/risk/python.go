package risk

import (
	"context"

	sitter "github.com/tree-sitter/go-tree-sitter"
	python "github.com/tree-sitter/tree-sitter-python/bindings/go"
)

// pnode is a tree-sitter node copied into Go memory, so the analysis walks
// plain structs instead of paying a cgo call for every question it asks.
type pnode struct {
	kind   string
	field  string
	named  bool
	start  uint32
	end    uint32
	line   int // 1-based
	col    int // 1-based, in bytes
	kids   []*pnode
	parent *pnode
}

// child returns the first child in the given field, or nil.
func (n *pnode) child(field string) *pnode {
	if n == nil {
		return nil
	}
	for _, k := range n.kids {
		if k.field == field {
			return k
		}
	}
	return nil
}

// namedKids returns the named children.
func (n *pnode) namedKids() []*pnode {
	out := make([]*pnode, 0, len(n.kids))
	for _, k := range n.kids {
		if k.named {
			out = append(out, k)
		}
	}
	return out
}

// maxTreeDepth bounds the syntax tree's depth (long chains of binary
// operators nest without brackets); the analysis recurses once per level.
const maxTreeDepth = 2000

// chunkSize bounds how much of the source one read callback hands to
// tree-sitter; the binding copies every chunk into C memory.
const chunkSize = 64 << 10

// parsePython parses src and copies the tree; ok is false when the tree has
// syntax errors (the tree is still returned: what did parse is analysed).
func parsePython(ctx context.Context, src []byte) (root *pnode, ok bool) {
	p := sitter.NewParser()
	defer p.Close()
	if err := p.SetLanguage(sitter.NewLanguage(python.Language())); err != nil {
		return nil, false
	}
	read := func(i int, _ sitter.Point) []byte {
		if i >= len(src) {
			return nil
		}
		return src[i:min(len(src), i+chunkSize)]
	}
	// A progress callback would be a C→Go call every few hundred steps and
	// doubles the parse time; the cancellation flag is a word tree-sitter
	// polls. It lives in C memory, since C keeps the pointer during the parse.
	flag := newCancelFlag()
	defer flag.free()
	p.SetCancellationFlag(flag.ptr)
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() { flag.set(); close(done) })
	tree := p.ParseWithOptions(read, nil, nil)
	if !stop() {
		<-done // the flag is freed below; let the setter finish first
	}
	if tree == nil {
		return nil, false
	}
	defer tree.Close()
	rn := tree.RootNode()
	root = copyTree(tree, src)
	return root, !rn.HasError()
}

// pythonParses reports whether src is valid Python 3.
func pythonParses(ctx context.Context, src []byte) bool {
	_, ok := parsePython(ctx, src)
	return ok
}

// copyTree builds the pnode mirror from one flattened walk: one cgo call
// for the whole tree, then a few for each distinct node kind and field.
func copyTree(tree *sitter.Tree, src []byte) *pnode {
	recs := flattenTree(tree)
	if len(recs) == 0 {
		return nil
	}
	lang := tree.Language()
	kinds := map[uint16]string{}
	named := map[uint16]bool{}
	fieldNames := map[uint16]string{0: ""}
	lines := lineStarts(src)
	nodes := make([]pnode, len(recs))
	nkids := make([]int32, len(recs))
	for _, r := range recs {
		if r.parent >= 0 {
			nkids[r.parent]++
		}
	}
	kids := make([]*pnode, len(recs))
	depth := make([]int32, len(recs))
	off := 0
	for i, r := range recs {
		if r.parent >= 0 {
			depth[i] = depth[r.parent] + 1
			if depth[i] > maxTreeDepth {
				return nil
			}
		}
		k, ok := kinds[r.sym]
		if !ok {
			k = lang.NodeKindForId(r.sym)
			kinds[r.sym] = k
			named[r.sym] = lang.NodeKindIsNamed(r.sym)
		}
		f, ok := fieldNames[r.field]
		if !ok {
			f = lang.FieldNameForId(r.field)
			fieldNames[r.field] = f
		}
		line, col := position(lines, int(r.start))
		n := &nodes[i]
		*n = pnode{kind: k, field: f, named: named[r.sym], start: r.start, end: r.end, line: line, col: col}
		n.kids = kids[off : off : off+int(nkids[i])]
		off += int(nkids[i])
		if r.parent >= 0 {
			p := &nodes[r.parent]
			n.parent = p
			p.kids = append(p.kids, n)
		}
	}
	return &nodes[0]
}

// lineStarts returns the byte offset of each line's start.
func lineStarts(src []byte) []int {
	out := []int{0}
	for i, b := range src {
		if b == '\n' {
			out = append(out, i+1)
		}
	}
	return out
}

// position turns a byte offset into a 1-based line and column.
func position(lines []int, off int) (int, int) {
	lo, hi := 0, len(lines)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if lines[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo + 1, off - lines[lo] + 1
}
