package lmstudio

import (
	"bufio"
	"bytes"
	"io"
)

// maxSSELine bounds one line of a stream. A tool call's arguments arrive in
// one data line on some servers, so this is generous; a server that sends
// more without a newline is broken, not slow.
const maxSSELine = 8 << 20

// sseReader reads server-sent events as the WHATWG spec defines them: lines
// end in LF, CRLF or a lone CR; lines starting with ':' are comments
// (keep-alives); "data" lines accumulate, joined by LF; a blank line
// dispatches the event. Other fields (id, retry) are ignored.
type sseReader struct {
	sc    *bufio.Scanner
	data  []byte
	event []byte
	// hasData distinguishes "data:" (an empty data line) from no data line;
	// the spec dispatches the former and skips the latter.
	hasData bool
}

func newSSEReader(r io.Reader) *sseReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 16<<10), maxSSELine)
	sc.Split(scanSSELines)
	return &sseReader{sc: sc}
}

// next returns the next event's type ("" for the default "message") and its
// data, both valid until the following call. At the end of the input it
// returns io.EOF; an event not terminated by a blank line is dropped, as the
// spec requires, except a bare "[DONE]" which some servers send without one.
func (r *sseReader) next() (event, data []byte, err error) {
	r.data, r.event, r.hasData = r.data[:0], r.event[:0], false
	for r.sc.Scan() {
		line := r.sc.Bytes()
		if len(line) == 0 {
			if r.hasData {
				return r.event, r.data, nil
			}
			r.event = r.event[:0]
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "data":
			if r.hasData {
				r.data = append(r.data, '\n')
			}
			r.data = append(r.data, value...)
			r.hasData = true
		case "event":
			r.event = append(r.event[:0], value...)
		}
	}
	if err := r.sc.Err(); err != nil {
		return nil, nil, err
	}
	if r.hasData && string(r.data) == "[DONE]" {
		return r.event, r.data, nil
	}
	return nil, nil, io.EOF
}

// scanSSELines splits on LF, CRLF or CR. A CR at the end of the buffer waits
// for one more byte so that a CRLF split across reads is one line ending.
func scanSSELines(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if atEOF && len(data) == 0 {
		return 0, nil, nil
	}
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		if data[i] == '\n' {
			return i + 1, data[:i], nil
		}
		if i+1 < len(data) {
			if data[i+1] == '\n' {
				return i + 2, data[:i], nil
			}
			return i + 1, data[:i], nil
		}
		if atEOF {
			return i + 1, data[:i], nil
		}
		return 0, nil, nil
	}
	if atEOF {
		return len(data), data, nil
	}
	return 0, nil, nil
}
