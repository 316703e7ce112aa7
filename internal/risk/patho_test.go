package risk

import (
	"context"
	"strings"
	"testing"
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
