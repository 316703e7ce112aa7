package main

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strings"
	"unicode"
)

type pair struct {
	word  string
	count int
}

func words(line string) []string {
	return strings.FieldsFunc(strings.ToLower(line), func(r rune) bool {
		return !unicode.IsLetter(r)
	})
}

func top(counts map[string]int, n int) []pair {
	ps := make([]pair, 0, len(counts))
	for w, c := range counts {
		ps = append(ps, pair{w, c})
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].count > ps[j].count })
	if len(ps) > n {
		ps = ps[:n]
	}
	return ps
}

func main() {
	counts := map[string]int{}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		for _, w := range words(sc.Text()) {
			counts[w]++
		}
	}
	for _, p := range top(counts, 10) {
		fmt.Printf("%-15s %d\n", p.word, p.count)
	}
}
