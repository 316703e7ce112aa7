package risk

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// sample is one labelled file of the corpus: testdata/corpus/<level>/<name>.
// Go samples end in .go.txt so that gofmt and go vet leave them alone (some
// are deliberately broken); name drops the .txt.
type sample struct {
	path string
	name string
	want Level
	src  []byte
}

// loadCorpus reads every labelled sample; the directory names the level.
func loadCorpus(t testing.TB, exts ...string) []sample {
	t.Helper()
	var out []sample
	for lvl := Low; lvl <= Blocked; lvl++ {
		dir := filepath.Join("testdata", "corpus", strings.ToLower(lvl.String()))
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatalf("read corpus: %v", err)
		}
		for _, e := range entries {
			if len(exts) > 0 && !hasExt(strings.TrimSuffix(e.Name(), ".txt"), exts) {
				continue
			}
			p := filepath.Join(dir, e.Name())
			src, err := os.ReadFile(p)
			if err != nil {
				t.Fatalf("read sample: %v", err)
			}
			out = append(out, sample{path: p, name: strings.TrimSuffix(p, ".txt"), want: lvl, src: src})
		}
	}
	return out
}

func hasExt(name string, exts []string) bool {
	for _, x := range exts {
		if strings.HasSuffix(name, x) {
			return true
		}
	}
	return false
}

// Confusion counts verdicts: [want][got].
type Confusion [4][4]int

func (c *Confusion) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-12s", "want\\got")
	for g := Low; g <= Blocked; g++ {
		fmt.Fprintf(&b, "%9s", g)
	}
	b.WriteString("\n")
	for w := Low; w <= Blocked; w++ {
		fmt.Fprintf(&b, "%-12s", w)
		for g := Low; g <= Blocked; g++ {
			fmt.Fprintf(&b, "%9d", c[w][g])
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestCorpus(t *testing.T) {
	samples := loadCorpus(t)
	if len(samples) < 150 {
		t.Fatalf("corpus has %d samples, want at least 150", len(samples))
	}
	var conf Confusion
	exact := 0
	perLang := map[Lang]int{}
	for _, s := range samples {
		v := Analyzer{}.Analyze(context.Background(), "", s.name, s.src)
		perLang[v.Lang]++
		conf[s.want][v.Level]++
		if v.Level == s.want {
			exact++
			continue
		}
		var why []string
		for _, f := range v.Findings {
			why = append(why, fmt.Sprintf("%d:%s %s", f.Line, f.Level, f.Rule))
		}
		t.Logf("%s: want %s, got %s [%s]", s.path, s.want, v.Level, strings.Join(why, "; "))
		switch {
		case s.want >= High && v.Level == Low:
			t.Errorf("%s: a %s sample was judged LOW", s.path, s.want)
		case s.want == Low && v.Level == Blocked:
			t.Errorf("%s: a LOW sample was judged BLOCKED", s.path)
		}
	}
	acc := float64(exact) / float64(len(samples))
	t.Logf("corpus: %d samples %v, exact %d (%.1f%%)\n%s", len(samples), perLang, exact, 100*acc, &conf)
	if acc < 0.90 {
		t.Errorf("exact-level accuracy %.1f%%, want at least 90%%", 100*acc)
	}
}

// TestCorpusFindings checks that every non-LOW verdict explains itself with
// a finding that has a rule, a line and a reason.
func TestCorpusFindings(t *testing.T) {
	for _, s := range loadCorpus(t) {
		v := Analyze(context.Background(), "", s.src)
		for _, f := range v.Findings {
			if f.Rule == "" || f.Line < 1 || f.Reason == "" {
				t.Errorf("%s: incomplete finding %+v", s.path, f)
			}
		}
		if v.Level > Low && len(v.Findings) == 0 {
			t.Errorf("%s: %s verdict without findings", s.path, v.Level)
		}
	}
}

// TestConcurrentAnalyze runs analyses in parallel, as the daemon does, and
// expects the same verdicts as one at a time.
func TestConcurrentAnalyze(t *testing.T) {
	samples := loadCorpus(t)
	want := make([]Level, len(samples))
	for i, s := range samples {
		want[i] = Analyze(context.Background(), "", s.src).Level
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, s := range samples {
				if got := Analyze(context.Background(), "", s.src).Level; got != want[i] {
					t.Errorf("%s: %s in parallel, %s alone", s.path, got, want[i])
				}
			}
		}()
	}
	wg.Wait()
}
