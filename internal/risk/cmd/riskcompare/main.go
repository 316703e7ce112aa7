// Command riskcompare runs Mai's risk analysis and Bandit side by side over
// the Python part of the labelled corpus and prints both confusion matrices.
//
// The corpus's labels are Mai's own, to Mai's four levels; Bandit was not
// built for them, so the comparison measures agreement with Mai's
// specification, not general accuracy. Bandit's severities are mapped one
// step up, because Bandit reports a finding only when something deserves
// attention: no issue is LOW, a LOW issue is MEDIUM (shown with the
// result), MEDIUM is HIGH (needs approval) and HIGH is BLOCKED. A file
// Bandit cannot parse is HIGH, as for Mai. Bandit's confidence is reported
// beside each severity, and a second matrix counts only its findings of
// HIGH confidence.
//
// It exits 0 when Mai has fewer misses and fewer false alarms than Bandit,
// 1 when it does not, and 2 when Bandit cannot be run.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
)

func main() {
	corpus := flag.String("corpus", "internal/risk/testdata/corpus", "labelled corpus: <dir>/<level>/<sample>")
	bandit := flag.String("bandit", "bandit", "the bandit program")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Stdout, *corpus, *bandit))
}

func run(ctx context.Context, w io.Writer, corpus, bandit string) int {
	samples, err := loadPython(corpus)
	if err != nil {
		fmt.Fprintf(os.Stderr, "riskcompare: %v\n", err)
		return 2
	}
	rep, err := compare(ctx, samples, bandit)
	if err != nil {
		fmt.Fprintf(os.Stderr, "riskcompare: %v\n", err)
		return 2
	}
	rep.print(w)
	if !rep.maiWins() {
		return 1
	}
	return 0
}
