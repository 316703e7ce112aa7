//go:build !linux

package control

import (
	"errors"
	"net"
)

// peerUID is not implemented off Linux: every connection is refused.
func peerUID(*net.UnixConn) (int, error) {
	return -1, errors.New("peer credentials are only checked on Linux")
}
