package store

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// TestMain fails the package once, with the fix, when the tests were built
// without FTS5 (a plain `go test ./...` instead of `make test`).
func TestMain(m *testing.M) {
	if err := FTS5Available(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}
