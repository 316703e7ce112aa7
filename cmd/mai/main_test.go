package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/logging/logtest"
)

// result is what one in-process run of mai produced.
type result struct {
	code           int
	stdout, stderr string
}

// runMai runs mai in-process with only the given environment (plus a
// scratch data directory unless env sets MAI_DATA_DIR) in dir.
func runMai(t *testing.T, dir string, env map[string]string, args ...string) result {
	t.Helper()
	return runMaiStdin(t, dir, env, "", args...)
}

// runMaiStdin is runMai with stdin as the standard input.
func runMaiStdin(t *testing.T, dir string, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if _, ok := env["MAI_DATA_DIR"]; !ok {
		if env == nil {
			env = map[string]string{}
		}
		env["MAI_DATA_DIR"] = filepath.Join(dir, "data")
	}
	var stdout, stderr bytes.Buffer
	m := &Main{Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr, Dir: dir,
		Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	code := m.Run(context.Background(), args)
	return result{code, stdout.String(), stderr.String()}
}

func TestUsage(t *testing.T) {
	r := runMai(t, "", nil)
	if r.code != 2 || !strings.Contains(r.stdout, "Commands:") {
		t.Errorf("no args: %+v", r)
	}
	r = runMai(t, "", nil, "frobnicate")
	if r.code != 2 || !strings.Contains(r.stderr, `unknown command "frobnicate"`) || !strings.Contains(r.stderr, "Commands:") {
		t.Errorf("unknown command: %+v", r)
	}
	r = runMai(t, "", nil, "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "doctor") {
		t.Errorf("--help: %+v", r)
	}
}

func TestEveryCommandHasHelpWithExamples(t *testing.T) {
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			r := runMai(t, "", nil, c.name, "--help")
			if r.code != 0 || !strings.Contains(r.stdout, "Usage: mai "+c.name) || !strings.Contains(r.stdout, "Examples:") {
				t.Errorf("mai %s --help: %+v", c.name, r)
			}
			h := runMai(t, "", nil, "help", c.name)
			if h.stdout != r.stdout {
				t.Errorf("'mai help %s' differs from --help", c.name)
			}
		})
	}
}

func TestBadFlagIsUsageError(t *testing.T) {
	r := runMai(t, "", nil, "config", "--nope")
	if r.code != 2 || !strings.Contains(r.stderr, "--help") {
		t.Errorf("%+v", r)
	}
}

func TestBadConfigExits2WithOneLine(t *testing.T) {
	cases := map[string]string{
		"OLLAMA_ENDPOINT":     "notaurl",
		"GPU_VRAM_AVAILABLE":  "lots",
		"CPU_CORES_AVAILABLE": "-3",
		"DISCORD_USER_ID":     "abc",
	}
	for name, value := range cases {
		for _, cmd := range []string{"config", "doctor", "serve"} {
			t.Run(cmd+"/"+name, func(t *testing.T) {
				r := runMai(t, "", map[string]string{name: value}, cmd)
				lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
				if r.code != 2 || len(lines) != 1 || !strings.Contains(lines[0], name) || !strings.Contains(lines[0], value) {
					t.Errorf("code %d, stderr %q", r.code, r.stderr)
				}
				if r.stdout != "" {
					t.Errorf("nothing else should happen, got stdout %q", r.stdout)
				}
			})
		}
	}
}

func TestMalformedDotenvNamesTheLine(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".env"), []byte("LOG_LEVEL=debug\noops\n"), 0o600)
	r := runMai(t, dir, nil, "config")
	if r.code != 2 || !strings.Contains(r.stderr, "line 2") {
		t.Errorf("%+v", r)
	}
}

func TestConfigShowsSourcesAndRedacts(t *testing.T) {
	dir := t.TempDir()
	const token = "planted.bot.token-value"
	os.WriteFile(filepath.Join(dir, ".env"), []byte("DISCORD_BOT_TOKEN="+token+"\nLOG_LEVEL=debug\n"), 0o600)
	r := runMai(t, dir, map[string]string{"OLLAMA_ENDPOINT": "http://10.0.0.5:11434", "LOG_LEVEL": "warn"}, "config", "--json")
	if r.code != 0 || strings.Contains(r.stdout, token) {
		t.Fatalf("%+v", r)
	}
	var entries []struct{ Name, Value, Source string }
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range entries {
		got[e.Name] = e.Value + " (" + e.Source + ")"
	}
	want := map[string]string{
		"DISCORD_BOT_TOKEN":    "[REDACTED] (.env)",
		"LOG_LEVEL":            "warn (environment)",
		"OLLAMA_ENDPOINT":      "http://10.0.0.5:11434 (environment)",
		"SANDBOX_DOCKER_IMAGE": "python:3.12-slim (default)",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	text := runMai(t, dir, nil, "config")
	if text.code != 0 || strings.Contains(text.stdout, token) || !strings.Contains(text.stdout, "DISCORD_BOT_TOKEN") {
		t.Errorf("text: %+v", text)
	}
}

func TestEnvExampleMatchesConfig(t *testing.T) {
	r := runMai(t, "", nil, "config", "--example")
	data, err := os.ReadFile("../../.env.example")
	if err != nil || r.stdout != string(data) {
		t.Errorf(".env.example is stale: run 'go run -tags sqlite_fts5 ./cmd/mai config --example > .env.example'")
	}
}

func TestVersion(t *testing.T) {
	r := runMai(t, "", map[string]string{"OLLAMA_ENDPOINT": "notaurl"}, "version", "--json")
	if r.code != 0 {
		t.Fatalf("version must not need a valid config: %+v", r)
	}
	var bi buildInfo
	if err := json.Unmarshal([]byte(r.stdout), &bi); err != nil || bi.GoVersion == "" || bi.Version == "" {
		t.Errorf("%v %+v", err, bi)
	}
}

func TestDoctorJSONWithNothingReachable(t *testing.T) {
	env := map[string]string{
		// Closed loopback ports: refused at once, nothing leaves the machine.
		"OLLAMA_ENDPOINT":    "http://127.0.0.1:9",
		"LMSTUDIO_ENDPOINT":  "http://127.0.0.1:9",
		"DISCORD_API_URL":    "http://127.0.0.1:9/api/v9",
		"DISCORD_BOT_TOKEN":  "planted-doctor-token",
		"GPU_VRAM_AVAILABLE": "12",
		"DOCKER_HOST":        "unix:///nonexistent/docker.sock",
	}
	for k, v := range env {
		if k == "DOCKER_HOST" {
			t.Setenv(k, v) // read by the Docker client from the process
		}
	}
	start := time.Now()
	r := runMai(t, "", env, "doctor", "--json")
	elapsed := time.Since(start)
	if r.code != 1 {
		t.Errorf("exit %d, want 1 (no model backend is a FAIL)", r.code)
	}
	var results []map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &results); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.stdout)
	}
	names := map[string]string{}
	for _, res := range results {
		for _, k := range []string{"name", "status", "detail", "fix"} {
			if _, ok := res[k]; !ok {
				t.Errorf("result %v lacks %q", res, k)
			}
		}
		names[res["name"]] = res["status"]
	}
	for _, n := range []string{"config", "data dir", "database", "docker", "ollama", "lmstudio", "gpu", "discord", "git", "models"} {
		if names[n] == "" {
			t.Errorf("no %q check in %v", n, names)
		}
	}
	if names["models"] != "FAIL" || names["ollama"] != "WARN" || names["discord"] != "WARN" || names["gpu"] != "OK" {
		t.Errorf("statuses = %v", names)
	}
	if strings.Contains(r.stdout, "planted-doctor-token") {
		t.Error("doctor printed the token")
	}
	// Not a timing assertion on work: every check is bounded by its timeout,
	// and this guards that the bound holds when nothing answers.
	if elapsed > 3*time.Second {
		t.Errorf("doctor took %s with nothing reachable, want < 3s", elapsed)
	}
}

func TestServeStartsAndStopsOnSignal(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	const token = "planted-serve-token-123"
	sig := make(chan os.Signal, 2)
	var stdout, stderr bytes.Buffer
	env := map[string]string{
		"MAI_DATA_DIR": data, "OLLAMA_ENDPOINT": "http://127.0.0.1:9", "LMSTUDIO_ENDPOINT": "http://127.0.0.1:9",
		"DISCORD_BOT_TOKEN": token, "LOG_LEVEL": "debug",
	}
	m := &Main{Stdout: &stdout, Stderr: &stderr, Dir: dir, Signals: sig,
		Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	done := make(chan int)
	go func() { done <- m.Run(context.Background(), []string{"serve"}) }()
	logPath := filepath.Join(data, ".logs", "mai.log")
	waitFor(t, func() bool { b, _ := os.ReadFile(logPath); return bytes.Contains(b, []byte("memory compression pass")) })
	sig <- syscall.SIGTERM
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop after SIGTERM")
	}
	log, _ := os.ReadFile(logPath)
	// Every line the daemon wrote is one JSON object with one key per field.
	components := map[string]bool{}
	for _, line := range logtest.Lines(t, logPath) {
		c, _ := line["component"].(string)
		components[c] = true
	}
	for _, c := range []string{"mai", "sandbox", "upkeep"} {
		if !components[c] {
			t.Errorf("no log line of component %q; components: %v", c, components)
		}
	}
	for _, want := range []string{`"message":"integrations"`, "database open", "stopped cleanly", `"check":"ollama"`, "OLLAMA_ENDPOINT"} {
		if !bytes.Contains(log, []byte(want)) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if bytes.Contains(log, []byte(token)) {
		t.Error("the bot token reached the log")
	}
	if _, err := os.Stat(filepath.Join(data, "mai.db")); err != nil {
		t.Errorf("database not created: %v", err)
	}
	// The first start of a new data directory backs up and compresses at once.
	if b, _ := filepath.Glob(filepath.Join(data, "backups", "mai-*.db")); len(b) != 1 {
		t.Errorf("backups = %v, want one", b)
	}
	for _, want := range []string{"database backed up", "memory compression pass"} {
		if !bytes.Contains(log, []byte(want)) {
			t.Errorf("log lacks %q", want)
		}
	}
}

func TestSecondServeRefused(t *testing.T) {
	dir := t.TempDir()
	sig := make(chan os.Signal, 1)
	env := map[string]string{"MAI_DATA_DIR": dir, "OLLAMA_ENDPOINT": "http://127.0.0.1:9", "LMSTUDIO_ENDPOINT": "http://127.0.0.1:9"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var errs bytes.Buffer
	first := &Main{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Dir: dir, Signals: sig, Env: lookup}
	done := make(chan int)
	go func() { done <- first.Run(context.Background(), []string{"serve"}) }()
	waitFor(t, func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, ".logs", "mai.log"))
		return bytes.Contains(b, []byte("mai is running"))
	})
	second := &Main{Stdout: &bytes.Buffer{}, Stderr: &errs, Dir: dir, Signals: make(chan os.Signal), Env: lookup}
	if code := second.Run(context.Background(), []string{"serve"}); code != 1 || !strings.Contains(errs.String(), "another Mai daemon is running") {
		t.Errorf("second serve: %d %s", code, errs.String())
	}
	sig <- syscall.SIGINT
	<-done
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 15s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
