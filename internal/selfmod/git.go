package selfmod

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Mai's identity as the author of its own changes.
const (
	authorName  = "Mai"
	authorEmail = "mai@localhost"
)

// git runs the git command-line tool in dir. Hooks never run (a
// repository's hooks are code outside the sandbox), nothing is signed, and
// no user configuration decides the author.
func git(ctx context.Context, dir string, stdin []byte, args ...string) (string, error) {
	full := append([]string{"-C", dir, "-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false",
		"-c", "core.autocrlf=false", "-c", "advice.detachedHead=false"}, args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Env = append(cmd.Environ(), "GIT_AUTHOR_NAME="+authorName, "GIT_AUTHOR_EMAIL="+authorEmail,
		"GIT_COMMITTER_NAME="+authorName, "GIT_COMMITTER_EMAIL="+authorEmail, "GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = strings.TrimSpace(out.String())
		}
		return out.String(), fmt.Errorf("git %s: %w: %s", args[0], err, msg)
	}
	return out.String(), nil
}

// gitLine runs git and returns its output's first line, trimmed.
func gitLine(ctx context.Context, dir string, args ...string) (string, error) {
	out, err := git(ctx, dir, nil, args...)
	line, _, _ := strings.Cut(out, "\n")
	return strings.TrimSpace(line), err
}
