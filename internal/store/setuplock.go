package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// setupLock serialises opening and migrating one database across
// processes (the daemon and a CLI command started at the same moment on a
// new data dir): SQLite's switch to WAL and the migrations' check-then-apply
// are not safe to run twice at once. It waits for the lock until ctx ends
// and returns the function that releases it. The lock is on the database's
// folder, so it leaves no file behind.
func setupLock(ctx context.Context, dbPath string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(dbPath), 0o700); err != nil {
		return nil, fmt.Errorf("create database directory: %w", err)
	}
	f, err := os.Open(filepath.Dir(dbPath))
	if err != nil {
		return nil, fmt.Errorf("open the database's set-up lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock the database for set-up: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for another process setting up %s: %w", dbPath, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
