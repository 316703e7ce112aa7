package sandbox

import (
	"bytes"
	"sync"
)

// outputCap is a byte budget shared by stdout and stderr. Once it is spent,
// further output is dropped, truncated is set and onFull runs once (the
// executor kills the container then: a program flooding its output would
// otherwise burn CPU until its wall time).
type outputCap struct {
	mu        sync.Mutex
	left      int64
	truncated bool
	onFull    func()
	stdout    bytes.Buffer
	stderr    bytes.Buffer
}

func newOutputCap(limit int64, onFull func()) *outputCap {
	return &outputCap{left: limit, onFull: onFull}
}

// capWriter writes into one of the cap's buffers. It never returns an
// error, so the demultiplexer keeps draining the stream until it ends.
type capWriter struct {
	c   *outputCap
	buf *bytes.Buffer
}

func (w capWriter) Write(p []byte) (int, error) {
	c := w.c
	c.mu.Lock()
	n := int64(len(p))
	fire := false
	if n > c.left {
		n = c.left
		if !c.truncated {
			c.truncated = true
			fire = true
		}
	}
	w.buf.Write(p[:n])
	c.left -= n
	c.mu.Unlock()
	if fire && c.onFull != nil {
		c.onFull()
	}
	return len(p), nil
}

func (c *outputCap) stdoutWriter() capWriter { return capWriter{c, &c.stdout} }
func (c *outputCap) stderrWriter() capWriter { return capWriter{c, &c.stderr} }

// result returns what was kept and whether anything was dropped.
func (c *outputCap) result() (stdout, stderr string, truncated bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stdout.String(), c.stderr.String(), c.truncated
}
