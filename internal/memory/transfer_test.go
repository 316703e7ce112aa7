package memory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/store"
)

// richHistory gives user "alice" every kind of record: archived and hot
// messages, replies, summaries of every tier, facts with sources, and
// embeddings; and "bob" a little history that must survive alice's
// forgetting.
func richHistory(t *testing.T, s *Store, clk *clock) {
	t.Helper()
	ctx := context.Background()
	now := clk.t
	clk.t = now.Add(-200 * 24 * time.Hour)
	seedHistory(t, s, now, 200)
	clk.t = now
	conv := startConv(t, s, "alice")
	q := appendMsgs(t, s, conv, Message{Content: "Ünïcödé and \"quotes\" and <html> & a\nnewline\ttab — 日本語 🎉"})[0]
	a := appendMsgs(t, s, conv, Message{Role: RoleAssistant, Content: "a reply", ReplyTo: q.ID, Model: "llama3.2:1b", Tokens: 3, TokensExact: true})[0]
	// The chat core's details: an answer's statistics, a tool call and its
	// result.
	for _, tt := range []struct {
		m Message
		d TurnDetail
	}{
		{Message{Role: RoleAssistant, Content: "a partial answer", Model: "qwen3:8b"}, TurnDetail{Kind: TurnAnswer, PromptTokens: 41, CompletionTokens: 7,
			TokensPerSecond: 23.456789, FirstToken: 312 * time.Millisecond, FailedOver: true, ContextTokens: 1234, ContextWindow: 8192}},
		{Message{Role: RoleAssistant, Content: `[{"name":"run_code"}]`, Model: "qwen3:8b"}, TurnDetail{Kind: TurnToolCall, ToolName: "run_code", ToolCallID: "call_7"}},
		{Message{Role: RoleTool, Content: "exit code 0"}, TurnDetail{Kind: TurnToolResult, ToolName: "run_code", ToolCallID: "call_7"}},
	} {
		tt.m.ConversationID = conv
		if _, err := s.AppendTurn(ctx, tt.m, tt.d); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Remember(ctx, Fact{User: "alice", Subject: "pets", Statement: "has a cat", Confidence: 0.75, Sources: []int64{q.ID, a.ID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Remember(ctx, Fact{User: "alice", Statement: "no sources"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetEmbedding(ctx, q.ID, "embed-test", []float32{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Compress(ctx, CompressOptions{}); err != nil {
		t.Fatal(err)
	}
	// A fold of a long conversation.
	long := seedConversation(t, s, "alice", 80, now.Add(-time.Hour))
	if _, err := s.Assemble(ctx, ContextRequest{User: "alice", Conversation: long, Persona: "p", Window: 2048}); err != nil {
		t.Fatal(err)
	}
	var tiers, archived int
	if err := s.DB().QueryRow(`SELECT (SELECT count(DISTINCT tier) FROM summaries WHERE user_id = 'alice'), (SELECT count(*) FROM messages WHERE user_id = 'alice' AND archive_id IS NOT NULL)`).Scan(&tiers, &archived); err != nil {
		t.Fatal(err)
	}
	if tiers != 3 || archived == 0 {
		t.Fatalf("test setup: %d summary tiers, %d archived messages", tiers, archived)
	}
}

func TestExportForgetImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 6, 1, 9, 30, 0, 0, time.UTC)}
	s := newStore(t, Options{Now: clk.Now})
	richHistory(t, s, clk)
	bob := exportString(t, s, "bob")
	before := exportString(t, s, "alice")
	if !strings.Contains(before, `"content":"alice day 200 turn 0:`) {
		t.Fatal("the export lacks the full text of archived messages")
	}
	rep, err := s.ForgetUser(ctx, "alice", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Messages == 0 || rep.Summaries == 0 || rep.Archives == 0 || rep.Facts != 2 {
		t.Errorf("forget report %+v", rep)
	}
	var left int
	if err := s.DB().QueryRow(`SELECT (SELECT count(*) FROM messages WHERE user_id = 'alice') + (SELECT count(*) FROM summaries WHERE user_id = 'alice')
 + (SELECT count(*) FROM archive WHERE user_id = 'alice') + (SELECT count(*) FROM facts WHERE user_id = 'alice') + (SELECT count(*) FROM embeddings) + (SELECT count(*) FROM turn_details)
 + (SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'alice')`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("after forgetting alice, %d of her rows remain (%v)", left, err)
	}
	if _, err := s.Export(ctx, &bytes.Buffer{}, "alice"); !errors.Is(err, ErrNotFound) {
		t.Errorf("export of a forgotten user: %v", err)
	}
	imp, err := s.Import(ctx, strings.NewReader(before), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`{"type":"turn","message":`, `"kind":"answer","prompt_tokens":41,"completion_tokens":7,"tokens_per_second":23.456789,"first_token_ms":312,"failed_over":true,"context_tokens":1234,"context_window":8192}`,
		`"kind":"tool_result","tool_name":"run_code","tool_call_id":"call_7"}`} {
		if !strings.Contains(before, want) {
			t.Errorf("the export lacks %s", want)
		}
	}
	if imp.Users != 1 || imp.Embeddings != 1 || imp.Facts != 2 || imp.Turns != 3 {
		t.Errorf("import report %+v", imp)
	}
	if after := exportString(t, s, "alice"); after != before {
		t.Fatalf("the export after forget and import differs:\n%s", firstDiff(before, after))
	}
	if got := exportString(t, s, "bob"); got != bob {
		t.Error("bob's history changed")
	}
	// Imported history is searchable and compresses again.
	if mem, err := s.Recall(ctx, "alice", "quotes html", 3); err != nil || len(mem) == 0 {
		t.Errorf("recall after import: %v %v", mem, err)
	}
	if r, err := s.Compress(ctx, CompressOptions{}); err != nil || r.Archived == 0 {
		t.Errorf("compress after import: %+v %v", r, err)
	}
	if after := exportString(t, s, "alice"); after != before {
		t.Fatalf("the export after re-archiving differs:\n%s", firstDiff(before, after))
	}
	// Importing the same file again would double her history: refused,
	// unless merging is asked for.
	if _, err := s.Import(ctx, strings.NewReader(before), ImportOptions{}); !errors.Is(err, ErrHistoryExists) {
		t.Fatalf("second import: %v", err)
	}
	if exportString(t, s, "alice") != before {
		t.Fatal("a refused import changed alice's history")
	}
	if rep, err := s.Import(ctx, strings.NewReader(before), ImportOptions{Merge: true}); err != nil || rep.Messages != imp.Messages {
		t.Fatalf("merge: %+v %v", rep, err)
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, al[i], bl[i])
		}
	}
	return "lengths differ"
}

func TestImportRejectsMalformedLines(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, Options{})
	in := strings.Join([]string{
		`{"type":"user","user":"zed","time":"2026-01-01T00:00:00.000Z"}`,
		`{"type":"conversation","ref":1,"time":"2026-01-01T00:00:00.000Z"}`,
		`{"type":"message","ref":1,"conversation":1,"role":"user","content":"fine","time":"2026-01-01T00:00:00.000Z"}`,
		`not json`,
		`{"type":"message","ref":2,"conversation":7,"role":"user","content":"unknown conversation","time":"2026-01-01T00:00:00.000Z"}`,
		`{"type":"message","ref":3,"conversation":1,"role":"wizard","content":"bad role","time":"2026-01-01T00:00:00.000Z"}`,
		``,
		`{"type":"message","ref":4,"conversation":1,"role":"user","content":"bad time","time":"yesterday"}`,
		`{"type":"planet"}`,
		`{"type":"fact","statement":"x","confidence":2,"time":"2026-01-01T00:00:00.000Z","updated":"2026-01-01T00:00:00.000Z"}`,
		`{"type":"message","ref":5,"conversation":1,"role":"user","content":"extra field","time":"2026-01-01T00:00:00.000Z","colour":"red"}`,
		`{"type":"turn","message":1,"kind":"answer"}`,
		`{"type":"turn","message":1,"kind":"answer"}`,
		`{"type":"turn","message":9,"kind":"answer"}`,
		`{"type":"turn","message":1,"kind":"monologue"}`,
	}, "\n")
	_, err := s.Import(ctx, strings.NewReader(in), ImportOptions{})
	var ie *ImportError
	if !errors.As(err, &ie) {
		t.Fatalf("err = %v, want *ImportError", err)
	}
	var lines []int
	for _, l := range ie.Lines {
		lines = append(lines, l.Line)
	}
	if want := []int{4, 5, 6, 8, 9, 10, 11, 13, 14, 15}; !equalInts(lines, want) {
		t.Errorf("bad lines %v, want %v (%v)", lines, want, err)
	}
	var n int
	if err := s.DB().QueryRow(`SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM messages)`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("a rejected import left %d rows", n)
	}
	if !strings.Contains(err.Error(), "line 4:") || !strings.Contains(err.Error(), "nothing was imported") {
		t.Errorf("message: %v", err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// fileHolds reports whether the database file or its WAL contains secret.
func fileHolds(t *testing.T, path, secret string) bool {
	t.Helper()
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(secret)) {
			return true
		}
	}
	return false
}

func TestForgetDeletesFromTheFile(t *testing.T) {
	ctx := context.Background()
	const secret = "zanzibarquokka"
	tests := []struct {
		name   string
		forget func(s *Store, fact int64) error
	}{
		{"user", func(s *Store, _ int64) error { _, err := s.ForgetUser(ctx, "alice", time.Time{}); return err }},
		{"before", func(s *Store, _ int64) error {
			_, err := s.ForgetUser(ctx, "alice", time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC))
			return err
		}},
		{"fact", func(s *Store, fact int64) error { return s.ForgetFact(ctx, fact) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "mai.db")
			db, err := store.Open(ctx, path, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			clk := &clock{t: time.Date(2026, 6, 1, 9, 30, 0, 0, time.UTC)}
			s := New(db, Options{Now: clk.Now})
			conv := startConv(t, s, "alice")
			keep := startConv(t, s, "bob")
			appendMsgs(t, s, keep, Message{Content: "bob keeps this"})
			var fact int64
			if tc.name == "fact" {
				fact, err = s.Remember(ctx, Fact{User: "alice", Statement: "her password hint is " + secret})
			} else {
				// Enough copies to fill several pages, a fold summary, and a fact.
				var ms []Message
				for i := range 200 {
					ms = append(ms, Message{Content: "the secret word is " + secret + " number " + strings.Repeat("x", i%50)})
				}
				appendMsgs(t, s, conv, ms...)
				_, err = s.Assemble(ctx, ContextRequest{User: "alice", Conversation: conv, Window: 2048})
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
				t.Fatal(err)
			}
			if !fileHolds(t, path, secret) {
				t.Fatal("test setup: the secret is not in the file to begin with")
			}
			if err := tc.forget(s, fact); err != nil {
				t.Fatal(err)
			}
			db.Close()
			if fileHolds(t, path, secret) {
				t.Fatal("the forgotten text is still in the database file")
			}
			if !fileHolds(t, path, "bob keeps this") {
				t.Fatal("forgetting alice removed bob's message")
			}
		})
	}
}

func TestForgetBefore(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 6, 1, 9, 30, 0, 0, time.UTC)}
	s := newStore(t, Options{Now: clk.Now})
	seedHistory(t, s, clk.t, 200)
	if _, err := s.Compress(ctx, CompressOptions{}); err != nil {
		t.Fatal(err)
	}
	cut := clk.t.Add(-150 * 24 * time.Hour).Add(5 * time.Hour) // in the middle of an archived day
	if _, err := s.ForgetUser(ctx, "alice", cut); err != nil {
		t.Fatal(err)
	}
	var older, newer, summaries int
	if err := s.DB().QueryRow(`SELECT (SELECT count(*) FROM messages WHERE user_id = 'alice' AND created_ms < ?), (SELECT count(*) FROM messages WHERE user_id = 'alice'),
 (SELECT count(*) FROM summaries WHERE user_id = 'alice' AND from_ms < ?)`, toMS(cut), toMS(cut)).Scan(&older, &newer, &summaries); err != nil {
		t.Fatal(err)
	}
	if older != 0 || newer == 0 || summaries != 0 {
		t.Fatalf("after forget --before: %d older, %d kept, %d old summaries", older, newer, summaries)
	}
	// Every kept message still has its text, archived or not.
	for _, l := range strings.Split(exportMessages(exportString(t, s, "alice")), "\n") {
		if l != "" && !strings.Contains(l, `"content":"alice day`) {
			t.Fatalf("kept message lost its text: %s", l)
		}
	}
	var orphan int
	if err := s.DB().QueryRow(`SELECT count(*) FROM archive a WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.archive_id = a.id)`).Scan(&orphan); err != nil || orphan != 0 {
		t.Errorf("%d archive rows without messages", orphan)
	}
}

func TestBackupWhileWritingAndRestore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "mai.db")
	db, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := New(db, Options{})
	conv := startConv(t, s, "u")
	appendMsgs(t, s, conv, Message{Content: "before the backup"})

	// Another connection writes while the backup runs.
	writer, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	w := New(writer, Options{})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := w.Append(ctx, Message{ConversationID: conv, Role: RoleUser, Content: "written during the backup"}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	backup := filepath.Join(dir, "backup.db")
	_, err = db.Backup(ctx, backup)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckBackup(ctx, backup); err != nil {
		t.Fatal(err)
	}
	appendMsgs(t, s, conv, Message{Content: "after the backup"})

	notDB := filepath.Join(dir, "notes.txt")
	os.WriteFile(notDB, []byte("hello, not a database at all"), 0o600)
	if err := CheckBackup(ctx, notDB); !errors.Is(err, ErrNotMaiDatabase) {
		t.Errorf("a text file: %v", err)
	}
	otherDB := filepath.Join(dir, "other.db")
	odb, err := store.Open(ctx, otherDB, store.Options{Migrations: os.DirFS(t.TempDir())})
	if err != nil {
		t.Fatal(err)
	}
	odb.Close()
	if err := CheckBackup(ctx, otherDB); !errors.Is(err, ErrNotMaiDatabase) {
		t.Errorf("a SQLite file without Mai's tables: %v", err)
	}

	// A running daemon holds the lock: restore refuses and changes nothing.
	lock := filepath.Join(dir, "mai.pid")
	f, err := os.OpenFile(lock, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	f.WriteString("4242\n")
	db.Close()
	writer.Close()
	if _, err := Restore(ctx, backup, path, lock); !errors.Is(err, ErrDaemonRunning) || !strings.Contains(err.Error(), "4242") {
		t.Fatalf("restore with the daemon running: %v", err)
	}
	f.Close()
	kept, err := Restore(ctx, backup, path, lock)
	if err != nil {
		t.Fatal(err)
	}
	restored, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	ms, err := New(restored, Options{}).Messages(ctx, conv, 0, 0)
	if err != nil || len(ms) == 0 || ms[0].Content != "before the backup" || ms[len(ms)-1].Content == "after the backup" {
		t.Fatalf("restored messages: %d, %v", len(ms), err)
	}
	if err := CheckBackup(ctx, kept); err != nil {
		t.Errorf("the replaced database was not kept intact: %v", err)
	}
}

func TestBackupRotate(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	dir := filepath.Join(t.TempDir(), "backups")
	start := time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC)
	var paths []string
	for i := range 5 {
		p, err := BackupRotate(ctx, db, dir, 3, start.Add(time.Duration(i)*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	got, _ := filepath.Glob(filepath.Join(dir, "*"))
	if !equalStrings(got, paths[2:]) {
		t.Fatalf("kept %v, want the newest three %v", got, paths[2:])
	}
	if err := CheckBackup(ctx, got[2]); err != nil {
		t.Fatal(err)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
