package selfmod

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
)

// Size caps of one proposal.
const (
	maxFiles      = 64
	maxFileBytes  = 1 << 20
	maxTotalBytes = 4 << 20
)

// ErrPath: a changed path leaves the repository or touches what no
// proposal may touch.
var ErrPath = errors.New("path not allowed")

// checkPaths refuses a change whose paths are not clean relative paths
// inside the repository, that touch .git, that pass through a symbolic
// link at base (which could lead out of the repository), or that exceed
// the size caps.
func checkPaths(ctx context.Context, repo, base string, changes []Change) error {
	if len(changes) == 0 {
		return errors.New("the proposal changes no file")
	}
	if len(changes) > maxFiles {
		return fmt.Errorf("%w: %d files; at most %d per proposal", ErrPath, len(changes), maxFiles)
	}
	total, seen := 0, map[string]bool{}
	for _, c := range changes {
		if err := checkPath(c.Path); err != nil {
			return err
		}
		if seen[c.Path] {
			return fmt.Errorf("%w: %s is changed twice", ErrPath, c.Path)
		}
		seen[c.Path] = true
		if len(c.Content) > maxFileBytes {
			return fmt.Errorf("%w: %s has %d bytes; at most %d per file", ErrPath, c.Path, len(c.Content), maxFileBytes)
		}
		if total += len(c.Content); total > maxTotalBytes {
			return fmt.Errorf("%w: more than %d bytes in all", ErrPath, maxTotalBytes)
		}
	}
	return noSymlinks(ctx, repo, base, changes)
}

// checkPath accepts a clean, relative, slash-separated path with no .git
// component and no "..".
func checkPath(p string) error {
	switch {
	case p == "" || strings.ContainsRune(p, 0):
		return fmt.Errorf("%w: an empty path", ErrPath)
	case strings.HasPrefix(p, "/") || strings.Contains(p, `\`):
		return fmt.Errorf("%w: %q must be relative to the repository, with / between folders", ErrPath, p)
	case path.Clean(p) != p || p == ".":
		return fmt.Errorf("%w: %q is not a clean path inside the repository (no .., no //, no trailing /)", ErrPath, p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return fmt.Errorf("%w: %q leaves the repository", ErrPath, p)
		}
		if strings.EqualFold(strings.TrimRight(part, ". "), ".git") {
			return fmt.Errorf("%w: %q is inside .git, which no proposal may change", ErrPath, p)
		}
	}
	return nil
}

// noSymlinks refuses a path when it or a folder above it is a symbolic
// link (or a submodule, or a file) in the base commit; one ls-tree lists
// every prefix of every path.
func noSymlinks(ctx context.Context, repo, base string, changes []Change) error {
	args := []string{"ls-tree", "-z", base, "--"}
	want := map[string]bool{} // prefix → must be a folder
	for _, c := range changes {
		parts := strings.Split(c.Path, "/")
		for i := 1; i <= len(parts); i++ {
			prefix := strings.Join(parts[:i], "/")
			if _, seen := want[prefix]; !seen {
				args = append(args, prefix)
			}
			want[prefix] = want[prefix] || i < len(parts)
		}
	}
	out, err := git(ctx, repo, nil, args...)
	if err != nil {
		return err
	}
	for _, e := range strings.Split(out, "\x00") {
		meta, name, ok := strings.Cut(e, "\t")
		folder, asked := want[name]
		if !ok || !asked {
			continue
		}
		switch {
		case strings.HasPrefix(meta, "120000 "):
			return fmt.Errorf("%w: %q is a symbolic link, which could lead out of the repository", ErrPath, name)
		case strings.HasPrefix(meta, "160000 "):
			return fmt.Errorf("%w: %q is a submodule", ErrPath, name)
		case folder && !strings.HasPrefix(meta, "040000 "):
			return fmt.Errorf("%w: %q is a file, not a folder", ErrPath, name)
		}
	}
	return nil
}
