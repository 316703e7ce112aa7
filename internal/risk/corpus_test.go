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

// borderline is one entry of testdata/corpus/borderline.txt: a sample whose
// level is a judgement call, the levels it may be judged at, and why.
type borderline struct {
	allowed map[Level]bool
	reason  string
}

// loadBorderline reads the manifest of borderline samples, keyed by the
// sample's path under the corpus.
func loadBorderline(t testing.TB) map[string]borderline {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "corpus", "borderline.txt"))
	if err != nil {
		t.Fatalf("read borderline manifest: %v", err)
	}
	out := map[string]borderline{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, " | ")
		if len(f) != 3 || strings.TrimSpace(f[2]) == "" {
			t.Fatalf("borderline.txt:%d: want 'path | levels | reason', got %q", i+1, line)
		}
		b := borderline{allowed: map[Level]bool{}, reason: f[2]}
		for _, name := range strings.Fields(f[1]) {
			l, err := ParseLevel(name)
			if err != nil {
				t.Fatalf("borderline.txt:%d: %v", i+1, err)
			}
			b.allowed[l] = true
		}
		out[filepath.FromSlash(f[0])] = b
	}
	return out
}

// corpusKey is a sample's path under the corpus directory.
func corpusKey(s sample) string {
	return strings.TrimPrefix(s.path, filepath.Join("testdata", "corpus")+string(filepath.Separator))
}

func describe(v Verdict) string {
	var why []string
	for _, f := range v.Findings {
		why = append(why, fmt.Sprintf("line %d %s %s: %s", f.Line, f.Level, f.Rule, f.Reason))
	}
	if len(why) == 0 {
		return "no findings"
	}
	return strings.Join(why, "; ")
}

// TestCorpus requires every sample not listed as borderline to be judged
// exactly at the level of its directory: any changed verdict fails, with
// the sample, its labelled and its new level, and the findings.
func TestCorpus(t *testing.T) {
	samples := loadCorpus(t)
	if len(samples) < 150 {
		t.Fatalf("corpus has %d samples, want at least 150", len(samples))
	}
	border := loadBorderline(t)
	var conf Confusion
	changed := 0
	perLang := map[Lang]int{}
	for _, s := range samples {
		v := Analyzer{}.Analyze(context.Background(), "", s.name, s.src)
		perLang[v.Lang]++
		conf[s.want][v.Level]++
		if _, ok := border[corpusKey(s)]; ok || v.Level == s.want {
			continue
		}
		changed++
		t.Errorf("%s: labelled %s, judged %s (%s)", s.path, s.want, v.Level, describe(v))
	}
	t.Logf("corpus: %d samples %v, %d borderline, %d changed\n%s", len(samples), perLang, len(border), changed, &conf)
}

// TestCorpusBorderline is the one tolerance of the corpus: a sample listed
// in borderline.txt may be judged at any level the manifest allows for it,
// and no other. Entries must name existing samples whose directory level
// is among the allowed ones.
func TestCorpusBorderline(t *testing.T) {
	border := loadBorderline(t)
	seen := map[string]bool{}
	for _, s := range loadCorpus(t) {
		b, ok := border[corpusKey(s)]
		if !ok {
			continue
		}
		seen[corpusKey(s)] = true
		if !b.allowed[s.want] {
			t.Errorf("%s: borderline levels do not include its label %s", s.path, s.want)
		}
		v := Analyzer{}.Analyze(context.Background(), "", s.name, s.src)
		switch {
		case !b.allowed[v.Level]:
			t.Errorf("%s: labelled %s, judged %s, outside its borderline levels (%s)", s.path, s.want, v.Level, describe(v))
		case v.Level != s.want:
			t.Logf("%s: labelled %s, judged %s, within its borderline levels: %s", s.path, s.want, v.Level, b.reason)
		}
	}
	for k := range border {
		if !seen[k] {
			t.Errorf("borderline.txt names %s, which is not in the corpus", k)
		}
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
