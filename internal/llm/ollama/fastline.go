package ollama

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// fastLine reads the content of an ordinary token line,
//
//	{"model":"…","created_at":"…","message":{"role":"assistant","content":"…"},"done":false}
//
// without encoding/json, so that a streamed token costs one allocation (its
// text) instead of seven. It accepts only lines it reads exactly as
// json.Unmarshal into chatLine would and that carry nothing but text; for
// anything else (the final line, errors, tool calls, thinking, escapes in
// keys, duplicate keys, invalid UTF-8) it returns ok == false and the caller
// decodes the line with encoding/json. FuzzFastLine checks the equivalence.
func fastLine(b []byte) (content string, ok bool) {
	s := scan{b: b}
	if !s.byte('{') {
		return "", false
	}
	var sawMessage, sawDone bool
	if s.byte('}') {
		return "", s.end()
	}
	for {
		key, ok := s.key()
		if !ok {
			return "", false
		}
		switch string(key) {
		case "message":
			if sawMessage {
				return "", false
			}
			sawMessage = true
			if content, ok = s.message(); !ok {
				return "", false
			}
		case "done":
			if sawDone || !s.literal("false") {
				return "", false
			}
			sawDone = true
		default:
			if string(key) != "model" && isChatLineField(key) {
				return "", false // error, done_reason, counts: the slow path
			}
			if !s.skip(0) {
				return "", false
			}
		}
		if s.byte(',') {
			continue
		}
		if s.byte('}') && s.end() {
			return content, true
		}
		return "", false
	}
}

// isChatLineField reports whether json.Unmarshal would store key into a
// field of chatLine (it matches names case-insensitively).
func isChatLineField(key []byte) bool {
	for _, f := range [...]string{"model", "message", "done", "done_reason", "total_duration", "load_duration",
		"prompt_eval_count", "prompt_eval_duration", "eval_count", "eval_duration", "error"} {
		if len(key) == len(f) && bytes.EqualFold(key, []byte(f)) {
			return true
		}
	}
	return false
}

type scan struct {
	b []byte
	i int
}

func (s *scan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// byte consumes c after optional whitespace.
func (s *scan) byte(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scan) end() bool {
	s.ws()
	return s.i == len(s.b)
}

func (s *scan) literal(lit string) bool {
	s.ws()
	if bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		s.i += len(lit)
		return true
	}
	return false
}

// str reads a string and returns its raw bytes between the quotes; simple
// is false when it holds escapes, which the caller must decode.
func (s *scan) str() (raw []byte, simple, ok bool) {
	if !s.byte('"') {
		return nil, false, false
	}
	start := s.i
	simple = true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, simple, true
		case c == '\\':
			simple = false
			if !s.escape() {
				return nil, false, false
			}
		case c < 0x20:
			return nil, false, false // invalid JSON
		default:
			s.i++
		}
	}
	return nil, false, false
}

// escape passes over a valid escape sequence at s.i (the backslash).
func (s *scan) escape() bool {
	if s.i+1 >= len(s.b) {
		return false
	}
	switch s.b[s.i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.i += 2
		return true
	case 'u':
		if s.i+6 > len(s.b) {
			return false
		}
		for _, h := range s.b[s.i+2 : s.i+6] {
			if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
				return false
			}
		}
		s.i += 6
		return true
	}
	return false
}

// key reads an object key and its colon. Keys with escapes are refused: json
// would unescape them before matching.
func (s *scan) key() ([]byte, bool) {
	raw, simple, ok := s.str()
	if !ok || !simple || !s.byte(':') {
		return nil, false
	}
	return raw, true
}

// message reads {"role":"…","content":"…"} and returns the content.
func (s *scan) message() (string, bool) {
	if !s.byte('{') {
		return "", false
	}
	var content string
	var sawRole, sawContent bool
	if s.byte('}') {
		return "", true
	}
	for {
		key, ok := s.key()
		if !ok {
			return "", false
		}
		switch string(key) {
		case "content":
			if sawContent {
				return "", false
			}
			sawContent = true
			raw, simple, ok := s.str()
			if !ok || !utf8.Valid(raw) {
				return "", false // json would replace invalid bytes
			}
			if simple {
				content = string(raw)
				break
			}
			// Declared here so that it escapes to the heap only when
			// there are escapes to decode.
			var decoded string
			if json.Unmarshal(s.b[s.i-len(raw)-2:s.i], &decoded) != nil {
				return "", false
			}
			content = decoded
		case "role":
			if sawRole {
				return "", false
			}
			sawRole = true
			if _, _, ok := s.str(); !ok {
				return "", false
			}
		default:
			return "", false // tool_calls, thinking, images: the slow path
		}
		if s.byte(',') {
			continue
		}
		if s.byte('}') {
			return content, true
		}
		return "", false
	}
}

// skip passes over one JSON value of any kind.
func (s *scan) skip(depth int) bool {
	if depth > 32 {
		return false
	}
	s.ws()
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		raw, _, ok := s.str()
		return ok && utf8.Valid(raw)
	case c == '{' || c == '[':
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		s.i++
		if s.byte(closing) {
			return true
		}
		for {
			if c == '{' {
				if _, ok := s.key(); !ok {
					return false
				}
			}
			if !s.skip(depth + 1) {
				return false
			}
			if s.byte(',') {
				continue
			}
			return s.byte(closing)
		}
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	default:
		return s.number()
	}
}

// number passes over a JSON number.
func (s *scan) number() bool {
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			s.i++
			continue
		}
		break
	}
	var f float64
	return s.i > start && json.Unmarshal(s.b[start:s.i], &f) == nil
}
