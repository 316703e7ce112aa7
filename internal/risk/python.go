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
	opts := &sitter.ParseOptions{ProgressCallback: func(sitter.ParseState) bool { return ctx.Err() != nil }}
	tree := p.ParseWithOptions(read, nil, opts)
	if tree == nil {
		return nil, false
	}
	defer tree.Close()
	rn := tree.RootNode()
	return copyTree(tree, src), !rn.HasError()
}

// pythonParses reports whether src is valid Python 3.
func pythonParses(ctx context.Context, src []byte) bool {
	_, ok := parsePython(ctx, src)
	return ok
}

// copyTree walks the tree with one cursor and builds the pnode mirror.
func copyTree(tree *sitter.Tree, src []byte) *pnode {
	lang := tree.Language()
	kinds := map[uint16]string{}
	namedKind := map[uint16]bool{}
	fields := map[uint16]string{}
	lines := lineStarts(src)
	c := tree.Walk()
	defer c.Close()
	mk := func(parent *pnode) *pnode {
		n := c.Node()
		id := n.KindId()
		k, seen := kinds[id]
		if !seen {
			k = lang.NodeKindForId(id)
			kinds[id] = k
			namedKind[id] = lang.NodeKindIsNamed(id)
		}
		f := ""
		if fid := c.FieldId(); fid != 0 {
			f, seen = fields[fid]
			if !seen {
				f = lang.FieldNameForId(fid)
				fields[fid] = f
			}
		}
		s, e := n.ByteRange()
		line, col := position(lines, int(s))
		return &pnode{kind: k, field: f, named: namedKind[id], start: uint32(s), end: uint32(e), line: line, col: col, parent: parent}
	}
	root := mk(nil)
	cur := root
	for {
		if c.GotoFirstChild() {
			k := mk(cur)
			cur.kids = append(cur.kids, k)
			cur = k
			continue
		}
		for !c.GotoNextSibling() {
			if !c.GotoParent() {
				return root
			}
			cur = cur.parent
		}
		k := mk(cur.parent)
		cur.parent.kids = append(cur.parent.kids, k)
		cur = k
	}
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
