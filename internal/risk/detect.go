package risk

import (
	"bytes"
	"context"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// Detect guesses the language of src from its shebang, its file name, and
// finally by trying the parsers; it returns "" when nothing fits. It is
// Mai's one language detector: Analyze, the sandbox gate and the CLI use it.
func Detect(ctx context.Context, name string, src []byte) Lang {
	if l := Declared(name, src); l != "" {
		return l
	}
	return trialParse(ctx, src)
}

// Declared returns the language src's shebang or its file name declares,
// without looking at the code itself; "" when neither names one.
func Declared(name string, src []byte) Lang {
	if l := fromShebang(src); l != "" {
		return l
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".py", ".pyw":
		return Python
	case ".sh", ".bash":
		return Shell
	case ".go":
		return Go
	}
	return ""
}

func fromShebang(src []byte) Lang {
	if !bytes.HasPrefix(src, []byte("#!")) {
		return ""
	}
	line, _, _ := bytes.Cut(src, []byte("\n"))
	fields := strings.Fields(string(line[2:]))
	if len(fields) == 0 {
		return ""
	}
	prog := filepath.Base(fields[0])
	if prog == "env" && len(fields) > 1 {
		prog = fields[len(fields)-1]
		for _, f := range fields[1:] {
			if !strings.HasPrefix(f, "-") {
				prog = f
				break
			}
		}
	}
	switch {
	case strings.HasPrefix(prog, "python"):
		return Python
	case prog == "sh", prog == "bash", prog == "dash", prog == "ash", prog == "zsh", prog == "ksh":
		return Shell
	case prog == "go", prog == "gorun":
		return Go
	}
	return ""
}

var pythonHint = regexp.MustCompile(`(?m)^\s*(import \w|from [\w.]+ import |def \w+\(|class \w+|print\(|if .*:\s*$|for .* in .*:\s*$|while .*:\s*$|with .*:\s*$|try:|@\w)`)

var shellHint = regexp.MustCompile(`(?m)(^\s*(if \[|for \w+ in [^:]*$|while \[|then$|fi$|done$|do$|export |echo |local |set -)|\$\{?\w|\$\(|\|\||&&|;;)`)

// trialParse prefers the language whose parser accepts src; when both
// Python and shell accept it (a bare "ls" is both), hints in the text decide.
func trialParse(ctx context.Context, src []byte) Lang {
	if _, err := parser.ParseFile(token.NewFileSet(), "", src, parser.PackageClauseOnly); err == nil {
		return Go
	}
	_, shErr := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(bytes.NewReader(src), "")
	pyOK := pythonParses(ctx, src)
	pyHint, shHint := pythonHint.Match(src), shellHint.Match(src)
	switch {
	case pyOK && shErr != nil:
		return Python
	case !pyOK && shErr == nil:
		return Shell
	case pyHint && !shHint:
		return Python
	case shHint && !pyHint:
		return Shell
	case pyOK && shErr == nil && pyHint:
		return Python
	case pyOK && shErr == nil:
		return Shell
	}
	return ""
}
