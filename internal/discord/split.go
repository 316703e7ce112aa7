package discord

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxMessage is Discord's limit on a message's content, in characters.
const MaxMessage = 2000

// minSplit is the smallest limit Split works with: room for a reopened
// fence with its language tag, its closing fence, and some text.
const minSplit = 64

// closeFence ends a code block that a part cut short.
const closeFence = "\n```"

// Split cuts text into parts of at most max characters, at a paragraph
// break, else a line break, else a space, and only as a last resort inside
// a word — never inside a multi-byte character or between an emoji and
// its modifiers. A part that ends inside a fenced code block closes the
// fence, and the next part reopens it with the same language tag, so each
// part renders on its own. Separators stay at the end of the part they
// follow, so no text is dropped. max below 64 counts as 64.
func Split(text string, max int) []string {
	ps := pieces(text, max)
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// piece is one part of a split: a slice of the text, with the fence that
// reopens a code block before it and the one that closes it after it.
type piece struct {
	reopen string // "```lang\n" or ""
	body   string
	close  bool
}

func (p piece) String() string {
	if !p.close {
		return p.reopen + p.body
	}
	return p.reopen + strings.TrimSuffix(p.body, "\n") + closeFence
}

// pieces does Split's work; the bodies concatenate to text.
func pieces(text string, max int) []piece {
	if max < minSplit {
		max = minSplit
	}
	var ps []piece
	reopen := ""
	for off := 0; off < len(text); {
		rest := text[off:]
		room := max - utf8.RuneCountInString(reopen)
		if utf8.RuneCountInString(rest) <= room {
			ps = append(ps, piece{reopen: reopen, body: rest})
			break
		}
		cut := chooseCut(rest, room-utf8.RuneCountInString(closeFence))
		cut = outsideFenceLine(text, off, cut)
		cut = takeClosingFence(text, off, cut, room)
		p := piece{reopen: reopen, body: rest[:cut]}
		off += cut
		reopen = ""
		if in, lang := fenceAt(text[:off]); in {
			p.close = true
			reopen = "```" + lang + "\n"
		}
		ps = append(ps, p)
	}
	return ps
}

// chooseCut returns the byte length of the next part of rest, which holds
// more than budget characters.
func chooseCut(rest string, budget int) int {
	w := byteIndexOfRune(rest, budget)
	window := rest[:w]
	half := budget / 2
	if i := strings.LastIndex(window, "\n\n"); i >= 0 && utf8.RuneCountInString(window[:i]) > half {
		return i + 2
	}
	if i := strings.LastIndexByte(window, '\n'); i >= 0 && utf8.RuneCountInString(window[:i]) > half {
		return i + 1
	}
	if i := strings.LastIndexAny(window, " \t"); i > 0 {
		return i + 1
	}
	return graphemeBoundary(rest, w)
}

// byteIndexOfRune returns the byte offset of the n-th rune of s.
func byteIndexOfRune(s string, n int) int {
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}

// graphemeBoundary moves a cut at byte w back so that it does not separate
// a character from what joins it (zero-width joiner, variation selector,
// skin-tone modifier, combining mark). It returns w when there is no such
// place before it.
func graphemeBoundary(s string, w int) int {
	for c := w; c > 0; {
		next, _ := utf8.DecodeRuneInString(s[c:])
		prev, size := utf8.DecodeLastRuneInString(s[:c])
		if !joins(next) && prev != '\u200d' {
			return c
		}
		c -= size
	}
	return w
}

func joins(r rune) bool {
	return r == '\u200d' || r >= 0xFE00 && r <= 0xFE0F || r >= 0x1F3FB && r <= 0x1F3FF ||
		r >= 0xE0020 && r <= 0xE007F || unicode.Is(unicode.Mn, r)
}

// takeClosingFence extends a cut that stops just before the line closing
// the open code block to include that line when it fits, rather than
// closing the block with a fence of our own and reopening an empty one.
// Only a cut at the start of a line can stop before a fence line: the rest
// of a line that ends in backticks is not one.
func takeClosingFence(text string, off, cut, room int) int {
	pos := off + cut
	if pos > 0 && text[pos-1] != '\n' {
		return cut
	}
	if in, _ := fenceAt(text[:pos]); !in {
		return cut
	}
	line, _, found := strings.Cut(text[pos:], "\n")
	end := cut + len(line)
	if found {
		end++ // the part keeps the line's newline, so it counts
	}
	if !closingFence(line) || utf8.RuneCountInString(text[off:off+end]) > room {
		return cut
	}
	return end
}

// closingFence reports whether line is a bare fence, which closes an open block.
func closingFence(line string) bool {
	_, ok := fenceLine(line)
	return ok && strings.Trim(strings.TrimSpace(line), "`") == ""
}

// outsideFenceLine moves a cut that falls inside a fence line (```lang) to
// the start of that line, so that a fence is never split.
func outsideFenceLine(text string, off, cut int) int {
	pos := off + cut
	start := strings.LastIndexByte(text[:pos], '\n') + 1
	if start <= off || start == pos {
		return cut
	}
	end := strings.IndexByte(text[start:], '\n')
	if end < 0 {
		end = len(text) - start
	}
	if _, ok := fenceLine(text[start : start+end]); ok {
		return start - off
	}
	return cut
}

// maxLang bounds the language tag carried into a reopened fence, so that
// the reopening line always leaves room for text.
const maxLang = 16

// fenceLine reports whether line opens or closes a fenced code block and
// returns its info string's first word (the language tag), or "" when that
// is longer than maxLang.
func fenceLine(line string) (string, bool) {
	t := strings.TrimLeft(line, " ")
	if len(line)-len(t) > 3 || !strings.HasPrefix(t, "```") {
		return "", false
	}
	info := strings.TrimLeft(t, "`")
	if strings.Contains(info, "`") {
		return "", false // an inline code span, not a fence
	}
	lang, _, _ := strings.Cut(strings.TrimSpace(info), " ")
	if len(lang) > maxLang {
		lang = ""
	}
	return lang, true
}

// fenceAt reports whether the end of text lies inside a fenced code block,
// and that block's language tag. An unfinished last line counts as whole,
// as Discord renders the part that ends with it.
func fenceAt(text string) (in bool, lang string) {
	for len(text) > 0 {
		line, rest, _ := strings.Cut(text, "\n")
		if l, ok := fenceLine(line); ok {
			switch {
			case !in:
				in, lang = true, l
			case closingFence(line):
				in, lang = false, ""
			}
		}
		text = rest
	}
	return in, lang
}
