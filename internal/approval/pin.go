package approval

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/maicompanion/mai/internal/store"
)

// PINFile holds the owner's PIN as an argon2id hash with its salt, and the
// count of wrong PINs in a row; never the PIN itself.
const PINFile = "pin.json"

// The lock-out: this many wrong PINs in a row lock PIN-gated commands for
// PINLockout.
const (
	PINMaxFailures = 5
	PINLockout     = 5 * time.Minute
	PINMinLength   = 4
)

// argon2id parameters (RFC 9106's second recommended set, with 64 MiB).
const (
	argonTime    = 3
	argonMemory  = 64 * 1024
	argonThreads = 2
	argonKeyLen  = 32
)

var (
	ErrWrongPIN  = errors.New("wrong PIN")
	ErrPINLocked = errors.New("too many wrong PINs in a row")
	ErrNoPIN     = errors.New("no PIN is stored")
	ErrShortPIN  = fmt.Errorf("a PIN needs at least %d characters", PINMinLength)
)

// PINStore keeps the PIN file in a data directory.
type PINStore struct {
	Dir string
	Now func() time.Time // time.Now when nil
}

type pinFile struct {
	Algorithm   string    `json:"algorithm"`
	Time        uint32    `json:"time"`
	MemoryKiB   uint32    `json:"memory_kib"`
	Threads     uint8     `json:"threads"`
	Salt        []byte    `json:"salt"`
	Hash        []byte    `json:"hash"`
	Failures    int       `json:"failures"`
	LockedUntil time.Time `json:"locked_until,omitzero"`
}

// PINCheck is the outcome of a wrong or locked PIN check, for the caller
// to report and audit.
type PINCheck struct {
	Failures    int       // wrong PINs in a row, this one included
	Locked      bool      // this failure started the lock-out
	LockedUntil time.Time // when the lock-out ends (zero when not locked)
}

func (p PINStore) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Stored reports whether a PIN is stored.
func (p PINStore) Stored() (bool, error) {
	_, err := os.Stat(filepath.Join(p.Dir, PINFile))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Set stores a new PIN (the caller has checked the old one).
func (p PINStore) Set(pin string) error {
	if len(pin) < PINMinLength {
		return ErrShortPIN
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return err
	}
	f := pinFile{Algorithm: "argon2id", Time: argonTime, MemoryKiB: argonMemory, Threads: argonThreads, Salt: salt}
	f.Hash = argon2.IDKey([]byte(pin), salt, f.Time, f.MemoryKiB, f.Threads, argonKeyLen)
	return p.locked(func() error { return p.write(f) })
}

// Clear removes the PIN.
func (p PINStore) Clear() error {
	return p.locked(func() error {
		err := os.Remove(filepath.Join(p.Dir, PINFile))
		if errors.Is(err, fs.ErrNotExist) {
			return ErrNoPIN
		}
		return err
	})
}

// Check compares pin with the stored one. A right PIN resets the count of
// failures; a wrong one adds to it and, at PINMaxFailures, locks checks
// for PINLockout — during which even the right PIN is refused.
func (p PINStore) Check(pin string) (PINCheck, error) {
	var out PINCheck
	err := p.locked(func() error {
		f, err := p.read()
		if err != nil {
			return err
		}
		now := p.now()
		if now.Before(f.LockedUntil) {
			out.Failures, out.LockedUntil = f.Failures, f.LockedUntil
			return ErrPINLocked
		}
		got := argon2.IDKey([]byte(pin), f.Salt, f.Time, f.MemoryKiB, f.Threads, uint32(len(f.Hash)))
		if subtle.ConstantTimeCompare(got, f.Hash) == 1 {
			if f.Failures == 0 && f.LockedUntil.IsZero() {
				return nil
			}
			f.Failures, f.LockedUntil = 0, time.Time{}
			return p.write(f)
		}
		if !f.LockedUntil.IsZero() { // a lock-out that has ended starts a new count
			f.Failures, f.LockedUntil = 0, time.Time{}
		}
		f.Failures++
		out.Failures = f.Failures
		if f.Failures >= PINMaxFailures {
			f.LockedUntil = now.Add(PINLockout)
			out.Locked, out.LockedUntil = true, f.LockedUntil
		}
		if err := p.write(f); err != nil {
			return err
		}
		return ErrWrongPIN
	})
	return out, err
}

func (p PINStore) read() (pinFile, error) {
	var f pinFile
	b, err := os.ReadFile(filepath.Join(p.Dir, PINFile))
	if errors.Is(err, fs.ErrNotExist) {
		return f, ErrNoPIN
	}
	if err != nil {
		return f, fmt.Errorf("read PIN file: %w", err)
	}
	if err := json.Unmarshal(b, &f); err != nil || f.Algorithm != "argon2id" || len(f.Hash) == 0 {
		return f, fmt.Errorf("the PIN file %s is damaged", filepath.Join(p.Dir, PINFile))
	}
	return f, nil
}

// write replaces the PIN file atomically.
func (p PINStore) write(f pinFile) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	if err := store.WriteFileAtomic(filepath.Join(p.Dir, PINFile), b, 0o600); err != nil {
		return fmt.Errorf("write PIN file: %w", err)
	}
	return nil
}

// locked runs fn holding an flock, so two commands checking at once count
// both failures.
func (p PINStore) locked(fn func() error) error {
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(p.Dir, "pin.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("lock PIN file: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock PIN file: %w", err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return fn()
}
