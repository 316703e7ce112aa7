// Package control is Mai's local control API: the daemon serves it on a
// unix socket (mode 0600, and only peers of the same uid are answered),
// and the CLI's client finds it there. JSON over HTTP; a turn's events
// stream back as one JSON object per line in a chunked response.
package control

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

// maxSocketPath is the longest path a unix socket address holds on Linux
// (sun_path is 108 bytes, one of them the terminating NUL).
const maxSocketPath = 107

// SocketPath returns where the daemon of dataDir listens: <dataDir>/mai.sock,
// or, when that path is too long for a socket address,
// <runtimeDir>/mai-<hash of dataDir>.sock (runtimeDir is $XDG_RUNTIME_DIR;
// the system's temporary directory when that is unset).
func SocketPath(dataDir, runtimeDir string) string {
	p := filepath.Join(dataDir, "mai.sock")
	if len(p) <= maxSocketPath {
		return p
	}
	if runtimeDir == "" {
		runtimeDir = os.TempDir()
	}
	sum := sha256.Sum256([]byte(filepath.Clean(dataDir)))
	return filepath.Join(runtimeDir, "mai-"+hex.EncodeToString(sum[:])[:12]+".sock")
}

// Listen listens on path with mode 0600, replacing a socket that a crashed
// daemon left behind (nothing answers on it). A live daemon on path is an
// error. Connections from other users are closed unanswered.
func Listen(path string) (net.Listener, error) {
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("control socket path %s is longer than %d bytes", path, maxSocketPath)
	}
	if _, err := os.Lstat(path); err == nil {
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s: another daemon answers on it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale control socket: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("control socket directory: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket mode: %w", err)
	}
	return &peerListener{UnixListener: ln.(*net.UnixListener), uid: os.Getuid()}, nil
}

// peerListener accepts only connections whose peer has uid: the mode bits
// already keep others out, and this holds even where a socket's mode is not
// honoured.
type peerListener struct {
	*net.UnixListener
	uid int
}

// ErrPeer is a connection from another user.
var ErrPeer = errors.New("control socket: connection from another user")

func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.UnixListener.AcceptUnix()
		if err != nil {
			return nil, err
		}
		uid, err := peerUID(c)
		if err == nil && uid == l.uid {
			return c, nil
		}
		c.Close()
	}
}

// dialer returns a dial function for an HTTP transport that ignores the
// address and connects to the socket.
func dialer(path string) func(ctx context.Context, _, _ string) (net.Conn, error) {
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
}
