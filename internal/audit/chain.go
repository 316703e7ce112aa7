package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"time"
)

// HashSize is the length of an entry's hash: HMAC-SHA256.
const HashSize = sha256.Size

// timeLayout has a fixed width, so stored times sort as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// hasher computes entry hashes with one reusable HMAC state and buffer, so
// verifying a long log allocates almost nothing per entry.
type hasher struct {
	mac hash.Hash
	buf []byte
	sum []byte
}

func newHasher(key []byte) *hasher {
	return &hasher{mac: hmac.New(sha256.New, key), buf: make([]byte, 0, 512), sum: make([]byte, 0, HashSize)}
}

// entryHash returns HMAC(key, prev ‖ canonical encoding of the entry). The
// encoding is the sequence number as 8 big-endian bytes, then each text field
// as a uvarint length and its bytes, so no two different entries encode the
// same. The result is valid until the next call.
func (h *hasher) entryHash(prev []byte, seq int64, at, actor, action, subject, details []byte) []byte {
	b := h.buf[:0]
	b = append(b, prev...)
	b = binary.BigEndian.AppendUint64(b, uint64(seq))
	for _, f := range [][]byte{at, actor, action, subject, details} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	h.buf = b
	h.mac.Reset()
	h.mac.Write(b)
	h.sum = h.mac.Sum(h.sum[:0])
	return h.sum
}

// anchorMAC authenticates an anchor file's contents, so that one made up
// without the key is told apart from the real one.
func (h *hasher) anchorMAC(seq int64, entryHash []byte, keyID string) []byte {
	b := append(h.buf[:0], "mai audit anchor\x00"...)
	b = binary.BigEndian.AppendUint64(b, uint64(seq))
	b = append(b, entryHash...)
	b = append(b, keyID...)
	h.buf = b
	h.mac.Reset()
	h.mac.Write(b)
	return h.mac.Sum(nil)
}

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(timeLayout, s)
	return t
}
