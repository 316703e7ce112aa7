package sandbox

import (
	"archive/tar"
	"bytes"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"
)

// codeDir is where the job's files appear, read-only; workDir is the
// writable, size-capped working directory.
const (
	codeDir = "/code"
	workDir = "/work"
)

// language is how a language is run: its canonical name, the default entry
// file and the container's command for an entry path. The command is a
// launcher that waits for goLine on stdin, then execs the interpreter on
// the entry, so the container can start before the files are in (see
// executor.execute). At end of input without the line it exits with
// status 125 and runs nothing.
type language struct {
	name    string
	entry   string
	command func(entry string) []string
}

const goLine = "\n"

// pyLauncher reads byte by byte so that none of the job's stdin is
// consumed, then becomes the program: argv, sys.path and tracebacks are
// those of 'python3 -u ENTRY'.
const pyLauncher = `import os, sys
while True:
    b = os.read(0, 1)
    if not b:
        sys.exit(125)
    if b == b"\n":
        break
os.execvp("python3", ["python3", "-u"] + sys.argv[1:])
`

var languages = map[string]language{
	"python": {"python", "main.py", func(e string) []string { return []string{"python3", "-c", pyLauncher, e} }},
	// The shell's read builtin takes one byte at a time from a pipe.
	"sh": {"sh", "main.sh", func(e string) []string {
		return []string{"/bin/sh", "-c", `read -r _ || exit 125; exec /bin/sh "$0"`, e}
	}},
}

var languageAliases = map[string]string{
	"python": "python", "python3": "python", "py": "python",
	"sh": "sh", "shell": "sh",
}

// lookupLanguage returns how to run name in image, or an error that says
// which languages the image runs.
func lookupLanguage(name, image string) (language, error) {
	if canon, ok := languageAliases[strings.ToLower(name)]; ok {
		return languages[canon], nil
	}
	return language{}, fmt.Errorf("%w: %q is not supported by image %s; the sandbox runs python and sh", ErrUnsupported, name, image)
}

// checkPath accepts a clean relative path that stays inside the code
// directory.
func checkPath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || path.Clean(p) != p || p == "." ||
		p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, "\x00") {
		return fmt.Errorf("file name %q must be a clean relative path inside the job", p)
	}
	return nil
}

// entryFile decides which file runs.
func entryFile(job Job, lang language) (string, error) {
	if job.Entry != "" {
		if _, ok := job.Files[job.Entry]; !ok {
			return "", fmt.Errorf("entry %q is not among the job's files", job.Entry)
		}
		return job.Entry, nil
	}
	if len(job.Files) == 1 {
		for name := range job.Files {
			return name, nil
		}
	}
	if _, ok := job.Files[lang.entry]; ok {
		return lang.entry, nil
	}
	return "", fmt.Errorf("job has %d files and no entry; name one or add %s", len(job.Files), lang.entry)
}

// filesTar packs the files as a tar stream rooted at the code directory:
// directories 0755 and files 0644 owned by root, so the sandbox user can
// read but not change them.
func filesTar(files map[string][]byte) ([]byte, error) {
	names := make([]string, 0, len(files))
	for name := range files {
		if err := checkPath(name); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	dirs := map[string]bool{}
	for _, name := range names {
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			if dirs[d] {
				break
			}
			dirs[d] = true
		}
	}
	dirNames := make([]string, 0, len(dirs))
	for d := range dirs {
		dirNames = append(dirNames, d)
	}
	sort.Strings(dirNames) // parents sort before their children
	for _, d := range dirNames {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: now}); err != nil {
			return nil, fmt.Errorf("pack %s: %w", d, err)
		}
	}
	for _, name := range names {
		data := files[name]
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: now}); err != nil {
			return nil, fmt.Errorf("pack %s: %w", name, err)
		}
		if _, err := tw.Write(data); err != nil {
			return nil, fmt.Errorf("pack %s: %w", name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("pack files: %w", err)
	}
	return buf.Bytes(), nil
}
