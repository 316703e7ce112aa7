package risk

import (
	"context"
	"unicode/utf8"

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
// pruned reports that subtrees deeper than maxTreeDepth were left out.
func parsePython(ctx context.Context, src []byte) (root *pnode, ok, pruned bool) {
	p := sitter.NewParser()
	defer p.Close()
	if err := p.SetLanguage(sitter.NewLanguage(python.Language())); err != nil {
		return nil, false, false
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
		return nil, false, false
	}
	defer tree.Close()
	rn := tree.RootNode()
	root, pruned = copyTree(tree, src)
	return root, !rn.HasError(), pruned
}

// pythonParses reports whether src is valid Python 3.
func pythonParses(ctx context.Context, src []byte) bool {
	_, ok, _ := parsePython(ctx, src)
	return ok && utf8.Valid(src)
}

// copyTree builds the pnode mirror from one flattened walk: one cgo call
// for the whole tree, then a few for each distinct node kind and field.
// Nodes deeper than maxTreeDepth are left out (pruned reports it), so the
// analysis of what remains recurses within bounds.
func copyTree(tree *sitter.Tree, src []byte) (root *pnode, pruned bool) {
	recs := flattenTree(tree)
	if len(recs) == 0 {
		return nil, false
	}
	names := newKindNames(tree.Language())
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
	off, li := 0, 0
	for i, r := range recs {
		if r.parent >= 0 {
			depth[i] = depth[r.parent] + 1
			if depth[i] > maxTreeDepth {
				pruned = true
				continue
			}
		}
		// pre-order visits nodes by increasing start, so the line only moves forward
		for li+1 < len(lines) && lines[li+1] <= int(r.start) {
			li++
		}
		kind, named := names.kind(r.sym)
		n := &nodes[i]
		*n = pnode{kind: kind, field: names.field(r.field), named: named, start: r.start, end: r.end,
			line: li + 1, col: int(r.start) - lines[li] + 1}
		n.kids = kids[off : off : off+int(nkids[i])]
		off += int(nkids[i])
		if r.parent >= 0 {
			p := &nodes[r.parent]
			n.parent = p
			p.kids = append(p.kids, n)
		}
	}
	return &nodes[0], pruned
}

// kindNames caches the names of node kinds and fields, which the binding
// returns through a cgo call each.
type kindNames struct {
	lang   *sitter.Language
	kinds  []string
	named  []bool
	seen   []bool
	fields []string
}

func newKindNames(lang *sitter.Language) *kindNames {
	n := int(lang.NodeKindCount())
	return &kindNames{lang: lang, kinds: make([]string, n), named: make([]bool, n), seen: make([]bool, n),
		fields: make([]string, int(lang.FieldCount())+1)}
}

func (k *kindNames) kind(sym uint16) (string, bool) {
	if int(sym) >= len(k.kinds) {
		return k.lang.NodeKindForId(sym), k.lang.NodeKindIsNamed(sym)
	}
	if !k.seen[sym] {
		k.kinds[sym], k.named[sym], k.seen[sym] = k.lang.NodeKindForId(sym), k.lang.NodeKindIsNamed(sym), true
	}
	return k.kinds[sym], k.named[sym]
}

func (k *kindNames) field(id uint16) string {
	if id == 0 {
		return ""
	}
	if int(id) >= len(k.fields) {
		return k.lang.FieldNameForId(id)
	}
	if k.fields[id] == "" {
		k.fields[id] = k.lang.FieldNameForId(id)
	}
	return k.fields[id]
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
