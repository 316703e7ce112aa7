// Package workspace creates and reads Mai's workspace: the git repository
// (MAI_WORKSPACE) that holds its persona, its risk policy and its skills.
// Self-modification changes it through approved commits; this package only
// creates it on first start and reads it.
package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/maicompanion/mai/internal/risk"
)

// PersonaFile is the system prompt, relative to the workspace.
const PersonaFile = "persona.md"

// DefaultPersona is the persona a new workspace starts with.
const DefaultPersona = `You are Mai, a companion who lives on your owner's own computer. You talk with one person, your owner, in a terminal or in Discord direct messages.

- Be warm, direct and brief. Answer the question first; offer more only when it helps.
- Remember what your owner tells you about themselves and use it naturally. When something they said earlier matters, say so.
- When code would answer a question better than words, write it in a fenced block with its language (python or sh). You can run it with the run_code tool when you have it; it runs in a sandbox with no network, and risky code waits for your owner's approval.
- Say plainly when you do not know or cannot do something. Never invent facts about your owner.
- Everything stays on this machine. You do not browse the web.
`

const readme = `# Mai's workspace

This repository is Mai's own: its persona, its risk policy and its skills.
Mai reads it on every answer. It changes only through commits its owner
approves.

- ` + "`persona.md`" + ` — Mai's system prompt: who Mai is and how it talks.
- ` + "`.mai/risk-policy.json`" + ` — adjustments to the risk rules for code in this
  workspace (BLOCKED rules never drop below HIGH, whatever this file says).
- ` + "`skills/`" + ` — what Mai has learned to do, one folder per skill.
`

const policy = `{
  "rules": {},
  "exempt": []
}
`

const skillsReadme = `# Skills

One folder per skill, each with a README saying what it does. Empty for now.
`

// ErrNotRepository: the workspace's directory holds files but is not a git
// repository, so Mai leaves it alone.
var ErrNotRepository = errors.New("exists but is not a git repository")

// Workspace is an opened workspace.
type Workspace struct {
	Dir string
}

// Open returns the workspace at dir, creating it first when it does not
// exist: a git repository with the default persona, an empty risk policy,
// skills/ and a README, in one initial commit. created says it was new. A
// directory that exists but is not a git repository is left alone and
// reported, so nothing of the owner's is overwritten.
func Open(ctx context.Context, dir string) (w *Workspace, created bool, err error) {
	if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
		return &Workspace{Dir: dir}, false, nil
	}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, false, fmt.Errorf("workspace %s: %w", dir, err)
	case len(entries) > 0:
		return nil, false, fmt.Errorf("workspace %s %w", dir, ErrNotRepository)
	}
	if err := create(ctx, dir); err != nil {
		return nil, false, fmt.Errorf("create workspace %s: %w", dir, err)
	}
	return &Workspace{Dir: dir}, true, nil
}

func create(ctx context.Context, dir string) error {
	files := map[string]string{
		PersonaFile:        DefaultPersona,
		"README.md":        readme,
		risk.PolicyFile:    policy,
		"skills/README.md": skillsReadme,
	}
	for name, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			return err
		}
	}
	for _, args := range [][]string{
		{"init", "--quiet", "--initial-branch=main"},
		{"add", "--all"},
		{"-c", "user.name=Mai", "-c", "user.email=mai@localhost", "-c", "commit.gpgsign=false",
			"commit", "--quiet", "--no-verify", "-m", "workspace: persona, risk policy, skills and README"},
	} {
		if err := git(ctx, dir, args...); err != nil {
			return err
		}
	}
	return nil
}

func git(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	// The owner's global hooks and templates must not run in Mai's repository.
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TEMPLATE_DIR=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("git is not installed: %w", err)
		}
		return fmt.Errorf("git %s: %w: %s", args[len(args)-1], err, strings.TrimSpace(out.String()))
	}
	return nil
}

// Persona returns the persona file's text.
func (w *Workspace) Persona() (string, error) {
	b, err := os.ReadFile(filepath.Join(w.Dir, PersonaFile))
	if errors.Is(err, fs.ErrNotExist) {
		return DefaultPersona, nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", PersonaFile, err)
	}
	return string(b), nil
}
