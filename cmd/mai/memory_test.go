package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/lockfile"
	"github.com/maicompanion/mai/internal/memory"
	"github.com/maicompanion/mai/internal/store"
)

// Discord user ids of the two users in seedMemory.
const (
	alice = "100000000000000001"
	bob   = "100000000000000002"
)

// seedMemory writes a little history for alice and bob into the database
// that 'mai' uses in dir and returns its path.
func seedMemory(t *testing.T, dir string) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(dir, "data", "mai.db")
	db, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := memory.New(db, memory.Options{})
	old := time.Now().Add(-120 * 24 * time.Hour)
	for user, name := range map[string]string{alice: "alice", bob: "bob"} {
		conv, err := s.StartConversation(ctx, user, "discord")
		if err != nil {
			t.Fatal(err)
		}
		ms := []memory.Message{
			{ConversationID: conv, Role: memory.RoleUser, Content: name + " keeps the passport in the blue drawer.", Time: old},
			{ConversationID: conv, Role: memory.RoleAssistant, Content: "Noted: the blue drawer.", Time: old.Add(time.Minute)},
			{ConversationID: conv, Role: memory.RoleUser, Content: "Remind me to water the ferns.", Time: time.Now().Add(-time.Hour)},
		}
		if _, err := s.AppendBatch(ctx, ms); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Remember(ctx, memory.Fact{User: user, Subject: "home", Statement: "keeps the passport in the blue drawer"}); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestMemoryExportForgetImportRoundTrip(t *testing.T) {
	dir := t.TempDir()
	seedMemory(t, dir)
	if r := runMai(t, dir, nil, "memory", "compress"); r.code != 0 || !strings.Contains(r.stdout, "archived") {
		t.Fatalf("compress: %+v", r)
	}
	before := runMai(t, dir, nil, "memory", "export", "--user", alice)
	if before.code != 0 || !strings.Contains(before.stdout, "alice keeps the passport") {
		t.Fatalf("export: %+v", before)
	}
	file := filepath.Join(dir, "alice.jsonl")
	if r := runMai(t, dir, nil, "memory", "export", "--output", file, "--user", alice); r.code != 0 {
		t.Fatalf("export --output: %+v", r)
	}
	if b, _ := os.ReadFile(file); string(b) != before.stdout {
		t.Fatal("export --output differs from export to standard output")
	}
	if r := runMai(t, dir, nil, "memory", "forget", "--user", alice); r.code != 0 || !strings.Contains(r.stdout, "forgot 3 messages") {
		t.Fatalf("forget: %+v", r)
	}
	if r := runMai(t, dir, nil, "memory", "search", "passport", "--user", alice, "--json"); r.code != 0 || strings.Contains(r.stdout, "alice keeps") {
		t.Fatalf("search after forget: %+v", r)
	}
	if r := runMai(t, dir, nil, "memory", "import", file); r.code != 0 || !strings.Contains(r.stdout, "imported 3 messages") {
		t.Fatalf("import: %+v", r)
	}
	after := runMai(t, dir, nil, "memory", "export", "--user", alice)
	if after.stdout != before.stdout {
		t.Fatalf("export → forget → import is not exact:\nbefore %s\nafter  %s", before.stdout, after.stdout)
	}
	if r := runMai(t, dir, nil, "memory", "import", file); r.code != 1 || !strings.Contains(r.stderr, "already has history") || !strings.Contains(r.stderr, "--merge") {
		t.Fatalf("importing twice: %+v", r)
	}
}

func TestMemorySearchAndFacts(t *testing.T) {
	dir := t.TempDir()
	seedMemory(t, dir)
	// Flags after the query, FTS5 operators in it.
	r := runMai(t, dir, nil, "memory", "search", `"blue drawer" OR (passport*`, "--user", bob, "--k", "2", "--json")
	var out struct {
		User    string                `json:"user"`
		Results []memory.Recollection `json:"results"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil {
		t.Fatalf("search --json: %+v", r)
	}
	if out.User != bob || len(out.Results) != 2 || !strings.HasPrefix(out.Results[0].Content, "bob keeps the passport") {
		t.Fatalf("search results: %+v", out)
	}
	r = runMai(t, dir, map[string]string{"DISCORD_USER_ID": alice}, "memory", "search", "ferns")
	if r.code != 0 || !strings.Contains(r.stdout, "water the ferns") || !strings.Contains(r.stdout, "SCORE") {
		t.Fatalf("search for the owner: %+v", r)
	}
	r = runMai(t, dir, nil, "memory", "facts", "--user", alice, "--json")
	var facts []memory.Fact
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &facts) != nil || len(facts) != 1 {
		t.Fatalf("facts: %+v", r)
	}
	id := facts[0].ID
	if r := runMai(t, dir, nil, "memory", "forget", "--fact", jsonNumber(id)); r.code != 0 {
		t.Fatalf("forget --fact: %+v", r)
	}
	if r := runMai(t, dir, nil, "memory", "forget", "--fact", jsonNumber(id)); r.code != 1 || !strings.Contains(r.stderr, "no fact") {
		t.Fatalf("forgetting a fact twice: %+v", r)
	}
	if r := runMai(t, dir, nil, "memory", "facts", "--user", alice); !strings.Contains(r.stdout, "no facts") {
		t.Fatalf("facts after forget: %+v", r)
	}
}

func jsonNumber(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestMemoryStatsAndCompressDryRun(t *testing.T) {
	dir := t.TempDir()
	seedMemory(t, dir)
	r := runMai(t, dir, nil, "memory", "compress", "--dry-run", "--json")
	var rep memory.CompressReport
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rep) != nil || !rep.DryRun || rep.ArchivedMessages != 4 {
		t.Fatalf("compress --dry-run: %+v", r)
	}
	r = runMai(t, dir, nil, "memory", "stats", "--json")
	var st memory.Stats
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &st) != nil {
		t.Fatalf("stats: %+v", r)
	}
	if st.Users != 2 || st.Messages != 6 || st.ArchivedMessages != 0 || st.Facts != 2 || st.Oldest == nil {
		t.Fatalf("stats after a dry run: %+v", st)
	}
	if r := runMai(t, dir, nil, "memory", "stats"); r.code != 0 || !strings.Contains(r.stdout, "messages") {
		t.Fatalf("stats text: %+v", r)
	}
}

func TestMemoryImportReportsBadLines(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(file, []byte(`{"type":"user","user":"zed","time":"2026-01-01T00:00:00.000Z"}
{"type":"conversation","ref":1,"time":"2026-01-01T00:00:00.000Z"}
this is not json
{"type":"message","ref":1,"conversation":1,"role":"user","content":"hi","time":"2026-01-01T00:00:00.000Z"}
{"type":"message","ref":2,"conversation":9,"role":"user","content":"hi","time":"2026-01-01T00:00:00.000Z"}
`), 0o600)
	r := runMai(t, dir, nil, "memory", "import", file)
	if r.code != 1 || !strings.Contains(r.stderr, "line 3:") || !strings.Contains(r.stderr, "line 5:") || strings.Contains(r.stderr, "line 4:") {
		t.Fatalf("import of bad lines: %+v", r)
	}
	if r := runMai(t, dir, nil, "memory", "stats", "--json"); !strings.Contains(r.stdout, `"messages": 0`) {
		t.Fatalf("a rejected import left data: %s", r.stdout)
	}
}

func TestMemoryBackupAndRestore(t *testing.T) {
	dir := t.TempDir()
	seedMemory(t, dir)
	backup := filepath.Join(dir, "copy.db")
	if r := runMai(t, dir, nil, "memory", "backup", backup); r.code != 0 || strings.TrimSpace(r.stdout) != backup {
		t.Fatalf("backup: %+v", r)
	}
	if r := runMai(t, dir, nil, "memory", "backup", backup); r.code != 1 || !strings.Contains(r.stderr, "already exists") {
		t.Fatalf("backup over an existing file: %+v", r)
	}
	if r := runMai(t, dir, nil, "memory", "backup"); r.code != 0 || !strings.Contains(r.stdout, filepath.Join("data", "backups", memory.ManualDir, "mai-")) {
		t.Fatalf("backup to the default place: %+v", r)
	}
	if r := runMai(t, dir, nil, "memory", "forget", "--user", bob); r.code != 0 || !strings.Contains(r.stderr, "1 backup file(s)") {
		t.Fatalf("forget with a backup in the data directory: %+v", r)
	}
	notDB := filepath.Join(dir, "notes.txt")
	os.WriteFile(notDB, []byte("not a database"), 0o600)
	if r := runMai(t, dir, nil, "memory", "restore", notDB); r.code != 1 || !strings.Contains(r.stderr, "not a Mai memory database") {
		t.Fatalf("restore of a text file: %+v", r)
	}
	lock, err := lockfile.Acquire(filepath.Join(dir, "data", "mai.pid"))
	if err != nil {
		t.Fatal(err)
	}
	if r := runMai(t, dir, nil, "memory", "restore", backup); r.code != 1 || !strings.Contains(r.stderr, "mai serve is running") {
		t.Fatalf("restore with the daemon running: %+v", r)
	}
	lock.Release()
	if r := runMai(t, dir, nil, "memory", "restore", backup); r.code != 0 || !strings.Contains(r.stdout, "kept as") {
		t.Fatalf("restore: %+v", r)
	}
	if r := runMai(t, dir, nil, "memory", "search", "passport", "--user", bob); !strings.Contains(r.stdout, "bob keeps the passport") {
		t.Fatalf("bob's history was not restored: %+v", r)
	}
}

func TestMemoryUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"memory"},
		{"memory", "frobnicate"},
		{"memory", "search"},
		{"memory", "search", "x", "--k", "0"},
		{"memory", "forget"},
		{"memory", "forget", "--user", "a", "--fact", "1"},
		{"memory", "forget", "--before", "2025-01-01"},
		{"memory", "forget", "--user", "a", "--before", "last tuesday"},
		{"memory", "import"},
		{"memory", "restore"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			if r := runMai(t, "", nil, args...); r.code != 2 {
				t.Errorf("exit %d, want 2: %+v", r.code, r)
			}
		})
	}
}
