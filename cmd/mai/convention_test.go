package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// cliCase is one way to call a command, as TestCommandLineConvention runs
// it. A new command (or subcommand) needs a row here: the test fails for a
// command without one.
type cliCase struct {
	path     string   // the command as typed after "mai", e.g. "models status"
	operands []string // the operands of a valid call; files named here exist (see conventionDir)
	flags    []string // flags (with values) of a valid call, placed before or after the operands
	json     bool     // a read command: takes --json and then prints one JSON document
	freeText bool     // the operands are free text, so no operand is stray
	noRun    bool     // never run for real here (serve runs until a signal); only the cases that stop at parsing
	noConfig bool     // works without a valid configuration (version)
	stdin    string   // standard input of the calls that run
}

// conventionCases lists every command. The environment they run in has
// no model server, no Docker engine and an empty data directory, so most
// fail quickly and for a reason other than their command line; the test
// checks only what the command line does.
func conventionCases() []cliCase {
	return []cliCase{
		{path: "serve", flags: []string{"--shutdown-timeout", "1s"}, noRun: true},
		{path: "doctor", json: true},
		{path: "config", json: true},
		{path: "config", flags: []string{"--example"}},
		{path: "version", json: true, noConfig: true},
		{path: "status", json: true, flags: []string{"--switches", "3"}},
		{path: "chat", flags: []string{"--once", "hi", "--max-tokens", "4"}},
		{path: "risk", operands: []string{"x.py"}, flags: []string{"--lang", "python"}, json: true},
		{path: "risk", flags: []string{"--rules"}, json: true},
		{path: "models list", json: true},
		{path: "models status", json: true},
		{path: "models probe", json: true},
		{path: "models switch", operands: []string{"ollama:tiny"}, json: true},
		{path: "models switch", flags: []string{"--auto"}, json: true},
		{path: "sandbox run", operands: []string{"x.py"}, flags: []string{"--timeout", "5s", "--memory", "64m"}, json: true},
		{path: "sandbox image", json: true},
		{path: "sandbox image", operands: []string{"pull"}, json: true},
		{path: "sandbox pull", json: true},
		{path: "sandbox ps", json: true},
		{path: "memory search", operands: []string{"blue", "drawer"}, flags: []string{"--k", "3"}, json: true, freeText: true},
		{path: "memory stats", json: true},
		{path: "memory compress", flags: []string{"--dry-run"}, json: true},
		{path: "memory export", flags: []string{"--user", "123"}},
		{path: "memory import", operands: []string{"empty.jsonl"}, flags: []string{"--merge"}},
		{path: "memory facts", flags: []string{"--user", "123"}, json: true},
		{path: "memory forget", flags: []string{"--user", "123", "--before", "2025-01-01"}},
		{path: "memory backup", operands: []string{"copy.db"}},
		{path: "memory restore", operands: []string{"x.py"}},
		{path: "approvals list", flags: []string{"--state", "pending"}, json: true},
		{path: "approvals show", operands: []string{"k3m9q2xa"}, json: true},
		{path: "approvals approve", operands: []string{"k3m9q2xa"}, flags: []string{"--reason", "fine"}},
		{path: "approvals deny", operands: []string{"k3m9q2xa"}, flags: []string{"--reason", "no"}},
		{path: "audit verify", json: true},
		{path: "audit list", flags: []string{"--limit", "5"}, json: true},
		{path: "audit reanchor", flags: []string{"--reason", "a test"}},
		{path: "selfmod propose", operands: []string{"x.py:skills/x.py"}, flags: []string{"--message", "a skill", "--no-wait"}, freeText: true},
		{path: "selfmod list", json: true},
		{path: "selfmod show", operands: []string{"p3m9q2x"}, json: true},
		{path: "selfmod revert", operands: []string{"HEAD"}, flags: []string{"--no-wait"}},
		{path: "pin set", flags: []string{"--pin-stdin"}, stdin: "2468\n"},
		{path: "pin clear", flags: []string{"--pin-stdin"}},
	}
}

// conventionEnv points every integration at nothing that answers.
func conventionEnv(dir string) map[string]string {
	return map[string]string{
		"MAI_DATA_DIR":       filepath.Join(dir, "data"),
		"OLLAMA_ENDPOINT":    "http://127.0.0.1:9",
		"LMSTUDIO_ENDPOINT":  "http://127.0.0.1:9",
		"DISCORD_API_URL":    "http://127.0.0.1:9/api/v9",
		"GPU_VRAM_AVAILABLE": "8",
		"DOCKER_HOST":        "unix://" + filepath.Join(dir, "no-docker.sock"),
	}
}

// conventionDir is a fresh working directory with the files the cases name.
func conventionDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{"x.py": "print(1)\n", "empty.jsonl": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func (c cliCase) args(parts ...[]string) []string {
	args := strings.Fields(c.path)
	for _, p := range parts {
		args = append(args, p...)
	}
	return args
}

// TestCommandLineConvention runs every command through the cases of the
// convention in cli.go: help with examples, a bad flag and a stray operand
// refused with exit status 2, flags accepted before or after the operands,
// --json on every read command, one line and exit 2 for a bad
// configuration; and every group dispatched the same way.
func TestCommandLineConvention(t *testing.T) {
	cases := conventionCases()
	checkEveryCommandHasACase(t, cases)
	// Files named on the command line are relative to Main.Dir, never to
	// the test process's own directory.
	cwd := dirNames(t, ".")
	t.Cleanup(func() {
		for name := range dirNames(t, ".") {
			if !cwd[name] {
				t.Errorf("a command wrote %s into the process's directory instead of Main.Dir", name)
				os.RemoveAll(name)
			}
		}
	})
	for _, c := range cases {
		name := strings.Join(c.args(c.flags, c.operands), " ")
		t.Run(name, func(t *testing.T) {
			dir := conventionDir(t)
			env := conventionEnv(dir)
			run := func(args ...string) result {
				t.Helper()
				return runMaiStdin(t, dir, env, c.stdin, args...)
			}
			if r := run(c.args([]string{"--help"})...); r.code != 0 || !strings.Contains(r.stdout, "Usage: mai "+c.path) || !strings.Contains(r.stdout, "Examples:") {
				t.Errorf("--help: exit %d, want 0 with 'Usage: mai %s' and examples:\n%s%s", r.code, c.path, r.stdout, r.stderr)
			}
			if r := run(c.args(c.operands, c.flags, []string{"--no-such-flag"})...); r.code != 2 || !strings.Contains(r.stderr, "--help") {
				t.Errorf("unknown flag: exit %d, want 2 pointing to --help: %q", r.code, r.stderr)
			}
			if !c.freeText {
				if r := run(c.args(c.operands, []string{"stray-operand"}, c.flags)...); r.code != 2 || !strings.Contains(r.stderr, `"stray-operand"`) {
					t.Errorf("stray operand: exit %d, want 2 naming it: %q", r.code, r.stderr)
				}
			}
			bad := map[string]string{"GPU_VRAM_AVAILABLE": "lots"}
			for k, v := range env {
				if k != "GPU_VRAM_AVAILABLE" {
					bad[k] = v
				}
			}
			r := runMai(t, dir, bad, c.args(c.flags, c.operands)...)
			if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); !c.noConfig && (r.code != 2 || len(lines) != 1 || !strings.Contains(r.stderr, "GPU_VRAM_AVAILABLE")) {
				t.Errorf("bad configuration: exit %d, want 2 with one line naming the variable: %q", r.code, r.stderr)
			}
			if c.noRun {
				return
			}
			before := run(c.args(c.flags, c.operands)...)
			// A fresh directory and data directory: a call may create what the
			// next refuses to overwrite (a backup file, a stored PIN).
			fresh := conventionDir(t)
			after := runMaiStdin(t, fresh, conventionEnv(fresh), c.stdin, c.args(c.operands, c.flags)...)
			if before.code == 2 || after.code != before.code {
				t.Errorf("flags before the operands: exit %d (%q); after: exit %d (%q); want the same, not 2",
					before.code, before.stderr, after.code, after.stderr)
			}
			if c.json {
				checkJSON(t, run(c.args(c.flags, c.operands, []string{"--json"})...))
				checkJSON(t, run(c.args([]string{"--json"}, c.operands, c.flags)...))
			}
		})
	}
}

func dirNames(t *testing.T, dir string) map[string]bool {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, e := range entries {
		names[e.Name()] = true
	}
	return names
}

// checkJSON checks a --json call: not a usage error, and standard output
// is one JSON document (or empty when the command failed).
func checkJSON(t *testing.T, r result) {
	t.Helper()
	if r.code == 2 {
		t.Errorf("--json: exit 2: %q", r.stderr)
		return
	}
	if r.stdout == "" && r.code != 0 {
		return
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Errorf("--json: stdout is not JSON (%v):\n%s", err, r.stdout)
		return
	}
	if dec.More() {
		t.Errorf("--json: stdout holds more than one JSON document:\n%s", r.stdout)
	}
}

// checkEveryCommandHasACase walks the command tree: every leaf needs a row
// in the table, every row names a leaf, and every group dispatches alike.
func checkEveryCommandHasACase(t *testing.T, cases []cliCase) {
	t.Helper()
	leaves := map[string]bool{}
	var walk func(path string, c command)
	walk = func(path string, c command) {
		if c.subs == nil {
			leaves[path] = true
			return
		}
		checkGroup(t, path, c)
		for _, s := range c.subs {
			walk(path+" "+s.name, s)
		}
	}
	for _, c := range commands() {
		walk(c.name, c)
	}
	covered := map[string]bool{}
	for _, c := range cases {
		if !leaves[c.path] {
			t.Errorf("case %q names no command", c.path)
		}
		covered[c.path] = true
	}
	var missing []string
	for l := range leaves {
		if !covered[l] {
			missing = append(missing, l)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("commands without a case in conventionCases: %v", missing)
	}
}

// checkGroup runs a group's own cases: help lists the subcommands with
// examples; an unknown subcommand is a usage error; no subcommand runs the
// default or is a usage error.
func checkGroup(t *testing.T, path string, c command) {
	t.Helper()
	dir := conventionDir(t)
	env := conventionEnv(dir)
	args := strings.Fields(path)
	r := runMai(t, dir, env, append(args, "--help")...)
	if r.code != 0 || !strings.Contains(r.stdout, "Usage: mai "+path) || !strings.Contains(r.stdout, "Examples:") {
		t.Errorf("mai %s --help: exit %d:\n%s%s", path, r.code, r.stdout, r.stderr)
	}
	for _, s := range c.subs {
		if !strings.Contains(r.stdout, "  "+s.name+" ") {
			t.Errorf("mai %s --help does not list %s", path, s.name)
		}
	}
	if r := runMai(t, dir, env, append(args, "frobnicate")...); r.code != 2 || !strings.Contains(r.stderr, `"frobnicate"`) {
		t.Errorf("mai %s frobnicate: exit %d, want 2: %q", path, r.code, r.stderr)
	}
	r = runMai(t, dir, env, args...)
	if c.dflt == "" && (r.code != 2 || !strings.Contains(r.stderr, "needs a subcommand")) {
		t.Errorf("mai %s: exit %d, want 2 asking for a subcommand: %q", path, r.code, r.stderr)
	}
	if c.dflt != "" && r.code == 2 {
		t.Errorf("mai %s: exit 2, want its default %s to run: %q", path, c.dflt, r.stderr)
	}
}

// After a failure a person can fix from here, the CLI says what to try on
// a line of its own; the error itself comes from the library unchanged.
func TestFailuresSayWhatToTry(t *testing.T) {
	dir := conventionDir(t)
	env := conventionEnv(dir)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"sandbox", "run", "x.py"}, "Try: start Docker"},
		{[]string{"sandbox", "ps"}, "Try: start Docker"},
		{[]string{"chat", "--once", "hi"}, "Try: 'mai models status'"},
		{[]string{"memory", "stats", "--db", "damaged"}, "Try: restore a backup"},
	}
	// A file that is not a database at all: the library says so, the CLI
	// says where the backups are.
	if err := os.WriteFile(filepath.Join(dir, "damaged.db"), bytes.Repeat([]byte("not sqlite "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		env := env
		if tt.args[len(tt.args)-1] == "damaged" {
			env = maps.Clone(env)
			env["MEMORY_DB_PATH"] = filepath.Join(dir, "damaged.db")
			tt.args = tt.args[:len(tt.args)-2]
		}
		r := runMai(t, dir, env, tt.args...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != 1 || len(lines) != 2 || !strings.HasPrefix(lines[0], "mai: ") || !strings.HasPrefix(lines[1], tt.want) {
			t.Errorf("mai %s: exit %d, stderr %q; want the error, then a line starting %q", strings.Join(tt.args, " "), r.code, r.stderr, tt.want)
		}
	}
}
