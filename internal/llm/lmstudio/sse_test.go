package lmstudio

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type sseEvent struct{ event, data string }

func readAllSSE(t testing.TB, r io.Reader) ([]sseEvent, error) {
	t.Helper()
	sr := newSSEReader(r)
	var out []sseEvent
	for {
		ev, data, err := sr.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		out = append(out, sseEvent{string(ev), string(data)})
	}
}

func TestSSEReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []sseEvent
	}{
		{"lf", "data: a\n\ndata: b\n\n", []sseEvent{{"", "a"}, {"", "b"}}},
		{"crlf", "data: a\r\n\r\ndata: b\r\n\r\n", []sseEvent{{"", "a"}, {"", "b"}}},
		{"lone cr", "data: a\r\rdata: b\r\r", []sseEvent{{"", "a"}, {"", "b"}}},
		{"comments and keep-alives", ": ping\n\n:\n\ndata: a\n: mid-event comment\n\n", []sseEvent{{"", "a"}}},
		{"multi-line data", "data: {\"a\":\ndata: 1}\n\n", []sseEvent{{"", "{\"a\":\n1}"}}},
		{"no space after colon", "data:x\n\n", []sseEvent{{"", "x"}}},
		{"only one space removed", "data:  x\n\n", []sseEvent{{"", " x"}}},
		{"event type", "event: error\ndata: {}\n\ndata: after\n\n", []sseEvent{{"error", "{}"}, {"", "after"}}},
		{"event type without data is dropped", "event: ping\n\ndata: a\n\n", []sseEvent{{"", "a"}}},
		{"empty data line dispatches", "data\n\n", []sseEvent{{"", ""}}},
		{"id and retry ignored", "id: 7\nretry: 10\ndata: a\n\n", []sseEvent{{"", "a"}}},
		{"unterminated event dropped", "data: a\n\ndata: {\"half", []sseEvent{{"", "a"}}},
		{"unterminated DONE kept", "data: a\n\ndata: [DONE]", []sseEvent{{"", "a"}, {"", "[DONE]"}}},
		{"unterminated DONE with newline kept", "data: [DONE]\n", []sseEvent{{"", "[DONE]"}}},
		{"blank lines only", "\n\n\r\n", nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, split := range []struct {
				name string
				r    func(io.Reader) io.Reader
			}{{"whole", func(r io.Reader) io.Reader { return r }}, {"byte by byte", iotest.OneByteReader}} {
				got, err := readAllSSE(t, split.r(strings.NewReader(tt.in)))
				if err != nil {
					t.Fatalf("%s: %v", split.name, err)
				}
				if !equalEvents(got, tt.want) {
					t.Errorf("%s: got %q, want %q", split.name, got, tt.want)
				}
			}
		})
	}
}

func TestSSEReaderErrors(t *testing.T) {
	boom := errors.New("connection reset")
	_, err := readAllSSE(t, io.MultiReader(strings.NewReader("data: a\n\n"), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) {
		t.Errorf("read error: got %v, want %v", err, boom)
	}
	huge := "data: " + strings.Repeat("x", maxSSELine+1) + "\n\n"
	if _, err := readAllSSE(t, strings.NewReader(huge)); err == nil {
		t.Error("a line over maxSSELine was accepted")
	}
}

func equalEvents(a, b []sseEvent) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FuzzSSEReader checks that the reader never fails on any input and that
// how the input is split into reads never changes the events.
func FuzzSSEReader(f *testing.F) {
	for _, seed := range []string{
		"data: a\n\n",
		"data: a\r\n\r\n",
		"data: a\r\rdata: b\r\r",
		": ping\n\ndata: {\"choices\":[]}\n\ndata: [DONE]\n\n",
		"event: error\ndata: {\"error\":{\"message\":\"x\"}}\n\n",
		"data: {\"a\":\ndata: 1}\n\n",
		"data:x\ndata\n\n\r",
		"data: [DONE]",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		whole, err := readAllSSE(t, strings.NewReader(string(in)))
		if err != nil {
			t.Fatalf("whole: %v", err)
		}
		bytewise, err := readAllSSE(t, iotest.OneByteReader(strings.NewReader(string(in))))
		if err != nil {
			t.Fatalf("byte by byte: %v", err)
		}
		if !equalEvents(whole, bytewise) {
			t.Fatalf("split changes events: %q vs %q", whole, bytewise)
		}
	})
}
