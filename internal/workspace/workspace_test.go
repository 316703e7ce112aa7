package workspace

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/risk"
)

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v: %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// A first start creates a git repository with the persona, the risk policy
// the analyser reads, skills/ and a README in one commit; a second start
// changes nothing.
func TestOpenCreatesOnce(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ws")
	w, created, err := Open(ctx, dir)
	if err != nil || !created {
		t.Fatalf("Open = %v, created %v", err, created)
	}
	if n := gitOut(t, dir, "rev-list", "--count", "HEAD"); n != "1" {
		t.Errorf("commits = %s, want 1", n)
	}
	files := strings.Fields(gitOut(t, dir, "ls-files"))
	want := []string{".mai/risk-policy.json", "README.md", "persona.md", "skills/README.md"}
	if strings.Join(files, " ") != strings.Join(want, " ") {
		t.Errorf("tracked files = %v, want %v", files, want)
	}
	if s := gitOut(t, dir, "status", "--porcelain"); s != "" {
		t.Errorf("work tree not clean: %s", s)
	}
	p, err := w.Persona()
	if err != nil || !strings.Contains(p, "You are Mai") {
		t.Errorf("Persona = %q, %v", p, err)
	}
	if pol, err := risk.LoadWorkspacePolicy(dir); err != nil || pol == nil {
		t.Errorf("the risk analyser cannot read the policy: %v, %v", pol, err)
	}
	if err := os.WriteFile(filepath.Join(dir, PersonaFile), []byte("You are a pirate."), 0o600); err != nil {
		t.Fatal(err)
	}
	w2, created, err := Open(ctx, dir)
	if err != nil || created {
		t.Fatalf("second Open = %v, created %v", err, created)
	}
	if p, _ := w2.Persona(); p != "You are a pirate." {
		t.Errorf("the owner's persona was replaced: %q", p)
	}
	if n := gitOut(t, dir, "rev-list", "--count", "HEAD"); n != "1" {
		t.Errorf("commits after reopening = %s, want 1", n)
	}
}

// A directory with the owner's files that is not a repository is refused,
// not overwritten.
func TestOpenRefusesForeignDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(context.Background(), dir); !errors.Is(err, ErrNotRepository) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Open = %v, want ErrNotRepository naming the directory", err)
	}
	if _, err := os.Stat(filepath.Join(dir, PersonaFile)); err == nil {
		t.Error("a persona was written into the owner's directory")
	}
}
