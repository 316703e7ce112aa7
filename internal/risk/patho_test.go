package risk

import (
	"context"
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/testenv"
)

// TestPathological feeds inputs near the size cap that stress recursion
// and folding; each must come back with a verdict.
func TestPathological(t *testing.T) {
	const n = 150_000
	cases := []struct {
		name string
		lang Lang
		src  string
	}{
		{"python parentheses", Python, strings.Repeat("(", n) + "1" + strings.Repeat(")", n)},
		{"python concatenation", Python, "x = " + strings.Repeat("'a' + ", n/6) + "'a'\nexec(x)\n"},
		{"python nested calls", Python, strings.Repeat("f(", n/2) + strings.Repeat(")", n/2)},
		{"python deep blocks", Python, deepPython(2000)},
		{"python many lines", Python, strings.Repeat("x = x + 1\n", n/10)},
		{"shell subshells", Shell, strings.Repeat("(", n/3) + "echo" + strings.Repeat(")", n/3)},
		{"shell substitutions", Shell, strings.Repeat("$(", n/4) + "ls" + strings.Repeat(")", n/4)},
		{"shell pipeline", Shell, strings.Repeat("cat | ", n/6) + "sh\n"},
		{"go parentheses", Go, "package p\nvar x = " + strings.Repeat("(", n/3) + "1" + strings.Repeat(")", n/3) + "\n"},
		{"go concatenation", Go, "package p\nvar x = " + strings.Repeat("\"a\" + ", n/6) + "\"a\"\n"},
		{"binary noise", "", strings.Repeat("\x00\xff(\"'", n/4)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkVerdict(t, c.lang, []byte(c.src))
			benign := c.name == "python many lines" || c.name == "go concatenation"
			if v := Analyze(context.Background(), c.lang, []byte(c.src)); v.Level < High && !benign {
				t.Errorf("pathological input judged %s", v.Level)
			}
		})
	}
}

// TestLimitsKeepBlocked pads, nests and stretches programs with a blocked
// line: a limit may add HIGH, but the blocked line must still be found,
// and the shapes that crashed the process or took quadratic time must
// come back with a verdict.
func TestLimitsKeepBlocked(t *testing.T) {
	testenv.Short(t, "it analyses several inputs of about a MiB")
	const pyBlocked, shBlocked = "import os\nos.system('rm -rf /')\n", "rm -rf /\n"
	cases := []struct {
		name    string
		lang    Lang
		src     string
		blocked bool
	}{
		{"python padded past the size limit", Python, pyBlocked + "#" + strings.Repeat("x", DefaultMaxBytes) + "\n", true},
		{"python blocked after the padding", Python, "#" + strings.Repeat("x", DefaultMaxBytes) + "\n" + pyBlocked, true},
		{"python expression nested past the limit", Python, "x = " + strings.Repeat("(", 501) + "1" + strings.Repeat(")", 501) + "\n" + pyBlocked, true},
		{"python long concatenation", Python, "x = " + strings.Repeat("'a' + ", 2000) + "'a'\n" + pyBlocked, true},
		{"python invalid UTF-8", Python, "x = '\xff\xfe'\nprint(x)\n", false},
		{"shell padded past the size limit", Shell, shBlocked + "#" + strings.Repeat("x", DefaultMaxBytes) + "\n", true},
		{"shell pipeline of 300000 stages", Shell, strings.Repeat("a|", 300_000) + "a\n" + shBlocked, true},
		{"shell && chain of 300000 stages", Shell, strings.Repeat("a&&", 300_000) + "a\n" + shBlocked, true},
		{"shell 200000 statements", Shell, strings.Repeat("a;", 200_000) + "\n" + shBlocked, true},
		{"shell 100000 substitutions", Shell, "echo " + strings.Repeat("$(a)", 100_000) + "\n" + shBlocked, true},
		{"go padded past the size limit", Go, "package main\nimport \"os\"\nfunc main() { os.RemoveAll(\"/\") }\n//" + strings.Repeat("x", DefaultMaxBytes) + "\n", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkVerdict(t, c.lang, []byte(c.src))
			v := Analyze(context.Background(), c.lang, []byte(c.src))
			switch {
			case c.blocked && v.Level != Blocked:
				t.Errorf("a blocked program judged %s: %s", v.Level, describe(v))
			case v.Level < High:
				t.Errorf("judged %s, want at least HIGH: %s", v.Level, describe(v))
			}
		})
	}
}

func deepPython(depth int) string {
	var b strings.Builder
	for i := 0; i < depth; i++ {
		b.WriteString(strings.Repeat(" ", i))
		b.WriteString("if x:\n")
	}
	b.WriteString(strings.Repeat(" ", depth))
	b.WriteString("pass\n")
	return b.String()
}
