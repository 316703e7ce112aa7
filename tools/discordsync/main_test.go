package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf16"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// webhookPath is where the fake Discord listens; its last segment plays the
// secret token that must never show up in output.
const webhookPath = "/api/webhooks/1187654321098765432/s3cr3t-T0ken_abcdefghijklmnop"

// answer is one scripted reply of the fake Discord.
type answer struct {
	status int
	body   string
	// retryAfter, when set, is sent as the Retry-After header.
	retryAfter string
}

// fakeDiscord is a webhook endpoint on a loopback port that records every
// request body and replies with the scripted answers in order, then 204.
type fakeDiscord struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	bodies  [][]byte
	answers []answer
}

func newFakeDiscord(t *testing.T, answers ...answer) *fakeDiscord {
	t.Helper()
	f := &fakeDiscord{t: t, answers: answers}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeDiscord) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.t.Errorf("fake discord: read body: %v", err)
	}
	if r.Method != http.MethodPost || r.URL.Path != webhookPath {
		f.t.Errorf("fake discord: got %s %s, want POST %s", r.Method, r.URL.Path, webhookPath)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		f.t.Errorf("fake discord: Content-Type %q, want application/json", ct)
	}
	f.mu.Lock()
	f.bodies = append(f.bodies, body)
	a := answer{status: http.StatusNoContent}
	if len(f.answers) > 0 {
		a, f.answers = f.answers[0], f.answers[1:]
	}
	f.mu.Unlock()
	if a.body != "" {
		w.Header().Set("Content-Type", "application/json")
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
}

func (f *fakeDiscord) webhook() string { return f.srv.URL + webhookPath }

func (f *fakeDiscord) received() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.bodies...)
}

// result is what one run of the program left behind.
type result struct {
	stdout, stderr string
	err            error
}

// runProgram runs the program with exactly the environment in env.
func runProgram(t *testing.T, client *http.Client, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if client == nil {
		client = &http.Client{}
	}
	err := run(context.Background(), args, func(k string) string { return env[k] }, &stdout, &stderr, client)
	return result{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// assertNoSecret fails when the webhook URL or its token appears anywhere the
// job log could show it.
func assertNoSecret(t *testing.T, webhook string, r result) {
	t.Helper()
	token := webhookPath[strings.LastIndex(webhookPath, "/")+1:]
	all := r.stdout + r.stderr
	if r.err != nil {
		all += r.err.Error()
	}
	for _, secret := range []string{webhook, token} {
		if secret != "" && strings.Contains(all, secret) {
			t.Errorf("output reveals the webhook secret %q:\n%s", secret, all)
		}
	}
}

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("update golden file: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -run %s -update to create it): %v", t.Name(), err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it)\n got: %s\nwant: %s", path, got, want)
	}
}

// utf16Len counts independently of the code under test.
func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }

// checkLimits fails for any Discord limit the payload breaks.
func checkLimits(t *testing.T, raw []byte) payload {
	t.Helper()
	var p payload
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatalf("payload is not JSON: %v\n%s", err, raw)
	}
	if n := len(p.Embeds); n == 0 || n > 10 {
		t.Errorf("payload has %d embeds, want 1 to 10", n)
	}
	total := 0
	for i, e := range p.Embeds {
		fields := []struct {
			what  string
			text  string
			limit int
		}{
			{"title", e.Title, 256},
			{"description", e.Description, 4096},
		}
		if e.Footer != nil {
			fields = append(fields, struct {
				what  string
				text  string
				limit int
			}{"footer", e.Footer.Text, 2048})
		}
		if e.Author != nil {
			fields = append(fields, struct {
				what  string
				text  string
				limit int
			}{"author name", e.Author.Name, 256})
		}
		for _, f := range fields {
			n := utf16Len(f.text)
			total += n
			if n > f.limit {
				t.Errorf("embed %d: %s is %d long, limit %d", i, f.what, n, f.limit)
			}
		}
	}
	if total > 6000 {
		t.Errorf("embed text totals %d, limit 6000", total)
	}
	return p
}

func TestPush12SendsGoldenPayloads(t *testing.T) {
	d := newFakeDiscord(t)
	env := map[string]string{"WEBHOOK": d.webhook(), "GITHUB_EVENT_PATH": filepath.Join("testdata", "push_12.json")}
	r := runProgram(t, d.srv.Client(), env)
	if r.err != nil {
		t.Fatalf("run: %v\nstderr: %s", r.err, r.stderr)
	}
	assertNoSecret(t, d.webhook(), r)

	got := d.received()
	if len(got) != 2 {
		t.Fatalf("discord received %d requests, want 2", len(got))
	}
	var ids []string
	for i, want := range []int{10, 2} {
		p := checkLimits(t, got[i])
		if len(p.Embeds) != want {
			t.Errorf("request %d has %d embeds, want %d", i+1, len(p.Embeds), want)
		}
		for _, e := range p.Embeds {
			ids = append(ids, e.URL)
		}
	}
	ev, err := readEvent(filepath.Join("testdata", "push_12.json"))
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range ev.Commits {
		if i >= len(ids) || ids[i] != c.URL {
			t.Fatalf("embeds link %v, want the 12 commits in push order", ids)
		}
	}
	golden(t, "push_12.golden", append(append(got[0], '\n'), append(got[1], '\n')...))
}

func TestDryRunPrintsGoldenPayloads(t *testing.T) {
	// No WEBHOOK and no server: a dry run needs neither and sends nothing.
	r := runProgram(t, nil, nil, "-dry-run", "-event", filepath.Join("testdata", "push_12.json"))
	if r.err != nil {
		t.Fatalf("run: %v", r.err)
	}
	golden(t, "push_12.golden", []byte(r.stdout))
}

func TestNothingIsSent(t *testing.T) {
	dir := t.TempDir()
	deleted := filepath.Join(dir, "deleted.json")
	ev := `{"ref":"refs/heads/old-feature","deleted":true,"compare":"https://github.com/maicompanion/mai/compare/0f3a1c9e5b7d...000000000000",` +
		`"repository":{"full_name":"maicompanion/mai","html_url":"https://github.com/maicompanion/mai"},"commits":[],"head_commit":null}`
	if err := os.WriteFile(deleted, []byte(ev), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		event      string
		noWebhook  bool
		wantStdout string
	}{
		{name: "branch deleted, zero commits", event: deleted, wantStdout: "nothing to send"},
		{name: "webhook secret absent", event: filepath.Join("testdata", "push_12.json"), noWebhook: true, wantStdout: "::notice::"},
		{name: "webhook secret absent, no event either", event: "", noWebhook: true, wantStdout: "::notice::"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newFakeDiscord(t)
			env := map[string]string{"WEBHOOK": d.webhook(), "GITHUB_EVENT_PATH": tt.event}
			if tt.noWebhook {
				delete(env, "WEBHOOK")
			}
			r := runProgram(t, d.srv.Client(), env)
			if r.err != nil {
				t.Fatalf("run failed, want success: %v", r.err)
			}
			if !strings.Contains(r.stdout, tt.wantStdout) {
				t.Errorf("stdout %q does not contain %q", r.stdout, tt.wantStdout)
			}
			if n := len(d.received()); n != 0 {
				t.Errorf("discord received %d requests, want none", n)
			}
		})
	}
}

func TestDiscordAnswers(t *testing.T) {
	const rateLimited = `{"message": "You are being rate limited.", "retry_after": 0.05, "global": false}`
	tests := []struct {
		name         string
		answers      []answer
		wantRequests int
		wantErr      string // empty: success
	}{
		{
			name:         "429 then 204 is retried",
			answers:      []answer{{429, rateLimited, ""}, {204, "", ""}},
			wantRequests: 3, // message 1 twice, message 2 once
		},
		{
			name:         "429 with only a Retry-After header is retried",
			answers:      []answer{{429, "", "0.02"}},
			wantRequests: 3,
		},
		{
			name:         "429 on every attempt gives up after five",
			answers:      []answer{{429, rateLimited, ""}, {429, rateLimited, ""}, {429, rateLimited, ""}, {429, rateLimited, ""}, {429, rateLimited, ""}},
			wantRequests: 5,
			wantErr:      "still rate-limits the webhook after 5 attempts",
		},
		{
			name:         "429 asking for a long wait fails at once",
			answers:      []answer{{429, `{"retry_after": 3600}`, ""}},
			wantRequests: 1,
			wantErr:      "asks to wait 1h0m0s",
		},
		{
			name:         "500 is an error",
			answers:      []answer{{500, `{"message": "internal error"}`, ""}},
			wantRequests: 1,
			wantErr:      "send message 1 of 2: discord webhook answered 500 Internal Server Error: {\"message\": \"internal error\"}",
		},
		{
			name:         "404 points at the secret",
			answers:      []answer{{204, "", ""}, {404, `{"message": "Unknown Webhook", "code": 10015}`, ""}},
			wantRequests: 2,
			wantErr:      "send message 2 of 2: discord refused the webhook (404 Not Found",
		},
		{
			name:         "200 from ?wait=true webhooks is success",
			answers:      []answer{{200, `{"id": "1"}`, ""}, {200, `{"id": "2"}`, ""}},
			wantRequests: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newFakeDiscord(t, tt.answers...)
			env := map[string]string{"WEBHOOK": d.webhook(), "GITHUB_EVENT_PATH": filepath.Join("testdata", "push_12.json")}
			r := runProgram(t, d.srv.Client(), env)
			assertNoSecret(t, d.webhook(), r)
			got := d.received()
			if len(got) != tt.wantRequests {
				t.Errorf("discord received %d requests, want %d", len(got), tt.wantRequests)
			}
			if tt.wantErr == "" {
				if r.err != nil {
					t.Fatalf("run: %v", r.err)
				}
				if len(got) > 1 && tt.answers[0].status == 429 && !bytes.Equal(got[0], got[1]) {
					t.Errorf("the retry sent a different body")
				}
				return
			}
			if r.err == nil || !strings.Contains(r.err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", r.err, tt.wantErr)
			}
		})
	}
}

func TestUnreachableWebhook(t *testing.T) {
	d := newFakeDiscord(t)
	webhook := d.webhook()
	d.srv.Close() // nothing listens on the port any more
	tests := []struct {
		name    string
		webhook string
		wantErr string
	}{
		{name: "connection refused", webhook: webhook, wantErr: "send message 1 of 2: post to discord webhook: dial tcp"},
		{name: "not a URL", webhook: "discord" + webhookPath, wantErr: "the WEBHOOK secret is not an http(s) URL"},
		{name: "unparsable", webhook: "https://exa mple.com" + webhookPath + "%zz", wantErr: "the WEBHOOK secret is not an http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"WEBHOOK": tt.webhook, "GITHUB_EVENT_PATH": filepath.Join("testdata", "push_12.json")}
			r := runProgram(t, nil, env)
			if r.err == nil || !strings.Contains(r.err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", r.err, tt.wantErr)
			}
			assertNoSecret(t, tt.webhook, r)
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{name: "no event", args: []string{"-dry-run"}, wantErr: "pass -event FILE or set GITHUB_EVENT_PATH"},
		{name: "missing event file", args: []string{"-dry-run", "-event", filepath.Join("testdata", "absent.json")}, wantErr: "read push event"},
		{name: "event not JSON", args: []string{"-dry-run", "-event", "main.go"}, wantErr: "decode push event"},
		{name: "stray argument", args: []string{"-dry-run", "push.json"}, wantErr: `unexpected argument "push.json"`},
		{name: "unknown flag", args: []string{"-bogus"}, wantErr: "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runProgram(t, nil, tt.env, tt.args...)
			if r.err == nil || !strings.Contains(r.err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", r.err, tt.wantErr)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	const hook = "https://discord.example/api/webhooks/42/AbCdEfGhIjKl-token"
	tests := []struct {
		name, text, want string
	}{
		{name: "whole URL", text: `Post "` + hook + `": EOF`, want: `Post "<webhook>": EOF`},
		{name: "token alone", text: "bad token AbCdEfGhIjKl-token here", want: "bad token <token> here"},
		{name: "URL with a query", text: hook + "?wait=true failed", want: "<webhook>?wait=true failed"},
		{name: "nothing secret", text: "connection refused", want: "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redact(tt.text, hook); got != tt.want {
				t.Errorf("redact(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}
