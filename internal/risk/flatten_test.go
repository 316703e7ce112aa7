package risk

import (
	"context"
	"testing"
	"unsafe"

	sitter "github.com/tree-sitter/go-tree-sitter"
	python "github.com/tree-sitter/tree-sitter-python/bindings/go"
)

// cursorCopy is the straightforward copy through the binding's cursor, one
// cgo call per question: the reference the flattened walk must match.
func cursorCopy(tree *sitter.Tree, src []byte) *pnode {
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

func TestFlattenMatchesCursor(t *testing.T) {
	if unsafe.Sizeof(flatRec{}) != 16 {
		t.Fatalf("flatRec is %d bytes, RiskRec is 16", unsafe.Sizeof(flatRec{}))
	}
	for _, s := range loadCorpus(t, ".py") {
		p := sitter.NewParser()
		if err := p.SetLanguage(sitter.NewLanguage(python.Language())); err != nil {
			t.Fatal(err)
		}
		tree := p.Parse(s.src, nil)
		a, _ := copyTree(tree, s.src)
		b := cursorCopy(tree, s.src)
		tree.Close()
		p.Close()
		if d := diffTrees(a, b); d != "" {
			t.Fatalf("%s: %s", s.path, d)
		}
	}
	_ = context.Background
}

func diffTrees(a, b *pnode) string {
	if a.kind != b.kind || a.field != b.field || a.named != b.named || a.start != b.start ||
		a.end != b.end || a.line != b.line || a.col != b.col || len(a.kids) != len(b.kids) {
		return "node " + a.kind + " differs from " + b.kind + " at line " + itoa64(int64(b.line))
	}
	for i := range a.kids {
		if a.kids[i].parent != a || b.kids[i].parent != b {
			return "parent link broken under " + a.kind
		}
		if d := diffTrees(a.kids[i], b.kids[i]); d != "" {
			return d
		}
	}
	return ""
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
