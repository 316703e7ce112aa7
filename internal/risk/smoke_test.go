package risk

import (
	"context"
	"fmt"
	"os"
	"testing"
)

func TestSmoke(t *testing.T) {
	f := os.Getenv("SMOKE")
	if f == "" {
		t.Skip()
	}
	src, _ := os.ReadFile(f)
	v := Analyzer{}.Analyze(context.Background(), Lang(os.Getenv("SMOKE_LANG")), f, src)
	fmt.Println(v.Level, v.Lang, v.Parsed, v.Duration)
	for _, x := range v.Findings {
		fmt.Printf("  %d:%d %s %s %q %s\n", x.Line, x.Column, x.Level, x.Rule, x.Excerpt, x.Reason)
	}
}
