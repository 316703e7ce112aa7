package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
)

// results is what the go test output said.
type results struct {
	runs       map[string][]map[string]float64 // "pkg name" → one metric map per run
	order      []string                        // keys in the order first seen
	reasons    map[string]string               // "pkg name" → why it skipped or failed
	failed     map[string]string               // "pkg name" → why it failed (go test may still say ok)
	pkgs       map[string]string               // packages seen → "" or why they failed
	failedPkgs []string
	cpu        string
	procs      int
}

func key(pkg, name string) string { return pkg + " " + name }

// logPrefix is what testing puts before a logged line: "file_test.go:12: ".
var logPrefix = regexp.MustCompile(`^\s*\S+\.go:\d+: `)

func parse(r io.Reader, echo io.Writer) (*results, error) {
	res := &results{runs: map[string][]map[string]float64{}, reasons: map[string]string{}, failed: map[string]string{}, pkgs: map[string]string{}}
	var pkg string
	var logs []string // lines logged by the benchmark running now
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(echo, line)
		f := strings.Fields(line)
		trimmed := strings.TrimSpace(line)
		switch {
		case len(f) >= 2 && f[0] == "pkg:":
			pkg = f[1]
			res.pkgs[pkg] = ""
		case len(f) >= 2 && f[0] == "cpu:":
			res.cpu = strings.TrimSpace(strings.TrimPrefix(trimmed, "cpu:"))
		case len(f) >= 2 && (f[0] == "ok" || f[0] == "FAIL") && strings.Contains(f[1], "/"):
			if f[0] == "FAIL" {
				res.failedPkgs = append(res.failedPkgs, f[1])
				res.pkgs[f[1]] = "its package failed: " + strings.Join(append(lastN(logs, 2), strings.Join(f[2:], " ")), "; ")
			}
		case strings.HasPrefix(trimmed, "--- SKIP: Benchmark"), strings.HasPrefix(trimmed, "--- FAIL: Benchmark"):
			name := trimProcs(strings.TrimPrefix(strings.Fields(trimmed)[2], "Benchmark"))
			why := strings.Join(logs, "; ")
			if strings.HasPrefix(trimmed, "--- FAIL") {
				why = "failed: " + why
				if _, ok := res.failed[key(pkg, name)]; !ok || why != "failed: " {
					res.failed[key(pkg, name)] = why
				}
			}
			if old, ok := res.reasons[key(pkg, name)]; !ok || old == "" || old == "failed: " {
				res.reasons[key(pkg, name)] = why
			}
			logs = nil
		case len(f) >= 4 && strings.HasPrefix(f[0], "Benchmark") && isInt(f[1]):
			res.add(pkg, f)
			logs = nil
		case len(f) == 1 && strings.HasPrefix(f[0], "Benchmark"):
			logs = nil // -v names each benchmark before it runs
		case logPrefix.MatchString(line):
			logs = append(logs, strings.TrimSpace(logPrefix.ReplaceAllString(line, "")))
		}
	}
	return res, sc.Err()
}

func (res *results) add(pkg string, f []string) {
	name := strings.TrimPrefix(f[0], "Benchmark")
	if i := strings.LastIndex(name, "-"); i > 0 {
		if n, err := strconv.Atoi(name[i+1:]); err == nil {
			res.procs = n
		}
	}
	name = trimProcs(name)
	m := map[string]float64{}
	// After the name and iteration count come value/unit pairs.
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err == nil {
			m[f[i+1]] = v
		}
	}
	k := key(pkg, name)
	if _, ok := res.runs[k]; !ok {
		res.order = append(res.order, k)
	}
	res.runs[k] = append(res.runs[k], m)
}

func isInt(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

func lastN(s []string, n int) []string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// trimProcs drops the -GOMAXPROCS suffix go test appends to names.
func trimProcs(name string) string {
	if i := strings.LastIndex(name, "-"); i > 0 && name[i+1:] != "" && strings.Trim(name[i+1:], "0123456789") == "" {
		return name[:i]
	}
	return name
}

// machine describes where the benchmarks ran: the CPU model go test
// printed (else /proc/cpuinfo's), the cores, GOMAXPROCS and the memory.
func (res *results) machine() string {
	cpu := res.cpu
	if cpu == "" {
		cpu = cpuinfoModel()
	}
	if cpu == "" {
		cpu = "unknown CPU"
	}
	s := fmt.Sprintf("%s, %d cores", cpu, runtime.NumCPU())
	if res.procs > 0 {
		s += fmt.Sprintf(", GOMAXPROCS %d", res.procs)
	}
	if mem := memTotal(); mem != "" {
		s += ", " + mem + " RAM"
	}
	return s + ", " + runtime.GOOS + "/" + runtime.GOARCH
}

func cpuinfoModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err == nil {
				return fmt.Sprintf("%.1f GiB", kb/(1<<20))
			}
		}
	}
	return ""
}
