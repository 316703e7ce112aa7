package memory

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/store"
	"github.com/maicompanion/mai/internal/testenv"
)

func TestCompressTierBoundaries(t *testing.T) {
	ctx := context.Background()
	// A Wednesday noon: its day is [Wed 00:00, Thu 00:00), its ISO week
	// [Mon 00:00, next Mon 00:00).
	msgAt := time.Date(2026, 1, 14, 12, 0, 0, 0, time.UTC)
	dayEnd := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	weekEnd := time.Date(2026, 1, 19, 0, 0, 0, 0, time.UTC)
	type want struct{ keypoints, condensed, archived int }
	tests := []struct {
		name string
		now  time.Time
		want want
	}{
		{"day not yet 7 days old", dayEnd.Add(KeyPointsAge - time.Millisecond), want{}},
		{"day exactly 7 days old", dayEnd.Add(KeyPointsAge), want{keypoints: 1}},
		{"week not yet 30 days old", weekEnd.Add(CondenseAge - time.Millisecond), want{keypoints: 1}},
		{"week exactly 30 days old", weekEnd.Add(CondenseAge), want{condensed: 1}},
		{"day not yet 90 days old", dayEnd.Add(ArchiveAge - time.Millisecond), want{condensed: 1}},
		{"day exactly 90 days old", dayEnd.Add(ArchiveAge), want{condensed: 1, archived: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{t: msgAt}
			s := newStore(t, Options{Now: clk.Now})
			conv := startConv(t, s, "u")
			orig := appendMsgs(t, s, conv,
				Message{Content: "We talked about the lighthouse keeper's cat.", Time: msgAt},
				Message{Role: RoleAssistant, Content: "The cat is called Marmalade and hates fog.", Time: msgAt.Add(time.Minute)},
			)
			clk.t = tc.now
			r, err := s.Compress(ctx, CompressOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var day, cond int
			if err := s.DB().QueryRow(`SELECT (SELECT count(*) FROM summaries WHERE tier = 'day'), (SELECT count(*) FROM summaries WHERE tier = 'condensed')`).Scan(&day, &cond); err != nil {
				t.Fatal(err)
			}
			var archivedRows int
			if err := s.DB().QueryRow(`SELECT count(*) FROM messages WHERE archive_id IS NOT NULL AND content = ''`).Scan(&archivedRows); err != nil {
				t.Fatal(err)
			}
			if day != tc.want.keypoints || cond != tc.want.condensed || archivedRows != tc.want.archived || r.ArchivedMessages != archivedRows {
				t.Fatalf("got %d day, %d condensed, %d archived; want %+v (report %+v)", day, cond, archivedRows, tc.want, r)
			}
			// Nothing is lost: the originals come back, archived or not.
			ms, err := s.Messages(ctx, conv, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			for i, m := range ms {
				if m.Content != orig[i].Content {
					t.Errorf("message %d = %q, want %q", i, m.Content, orig[i].Content)
				}
			}
			if tc.want.archived > 0 {
				var summaryBytes int64
				if err := s.DB().QueryRow(`SELECT sum(length(CAST(content AS BLOB))) FROM summaries`).Scan(&summaryBytes); err != nil {
					t.Fatal(err)
				}
				if r.HotBytesAfter != summaryBytes || r.ArchiveBytesAfter == 0 {
					t.Errorf("bytes hot %d → %d, archive %d → %d", r.HotBytesBefore, r.HotBytesAfter, r.ArchiveBytesBefore, r.ArchiveBytesAfter)
				}
				// The summary still finds the archived conversation.
				mem, err := s.Recall(ctx, "u", "Marmalade", 5)
				if err != nil || len(mem) == 0 || mem[0].Kind != KindSummary {
					t.Errorf("recall of an archived day: %+v %v", mem, err)
				}
			}
			// A second pass has nothing left to do.
			again, err := s.Compress(ctx, CompressOptions{})
			if err != nil || len(again.Steps) != 0 {
				t.Fatalf("second pass: %+v %v", again.Steps, err)
			}
		})
	}
}

func TestCompressDryRunChangesNothing(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	s := newStore(t, Options{Now: func() time.Time { return now }})
	seedHistory(t, s, now, 200)
	before := exportString(t, s, "")
	r, err := s.Compress(ctx, CompressOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.KeyPoints == 0 || r.Condensed == 0 || r.Archived == 0 || r.HotBytesAfter >= r.HotBytesBefore {
		t.Fatalf("dry run found nothing to do: %+v", r)
	}
	if after := exportString(t, s, ""); after != before {
		t.Fatal("a dry run changed the database")
	}
	real, err := s.Compress(ctx, CompressOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(real.Steps, r.Steps) {
		t.Errorf("the dry run listed %d steps, the pass did %d", len(r.Steps), len(real.Steps))
	}
}

// seedHistory writes two users' conversations, one every few days over
// the given number of days before now.
func seedHistory(t testing.TB, s *Store, now time.Time, days int) {
	t.Helper()
	for _, user := range []string{"alice", "bob"} {
		for d := days; d >= 0; d -= 3 {
			at := now.Add(-time.Duration(d)*24*time.Hour + 10*time.Hour)
			conv := startConv(t, s, user)
			var ms []Message
			for i := range 6 {
				role := RoleUser
				if i%2 == 1 {
					role = RoleAssistant
				}
				ms = append(ms, Message{Role: role, Time: at.Add(time.Duration(i) * time.Minute),
					Content: fmt.Sprintf("%s day %d turn %d: the %s was %s. Remember the number %d.", user, d, i,
						[]string{"garden", "train", "concert", "recipe"}[(d+i)%4], []string{"lovely", "late", "loud", "salty"}[i%4], d*10+i)})
			}
			appendMsgs(t, s, conv, ms...)
		}
	}
}

func exportString(t testing.TB, s *Store, user string) string {
	t.Helper()
	var b strings.Builder
	if _, err := s.Export(context.Background(), &b, user); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// compressedState is everything a pass produces, without database ids.
func compressedState(t testing.TB, s *Store) []string {
	t.Helper()
	var out []string
	rows, err := s.DB().Query(`SELECT 'summary', c.user_id || ' ' || c.started_ms, x.tier, x.period, x.content FROM summaries x JOIN conversations c ON c.id = x.conversation_id
UNION ALL SELECT 'archive', c.user_id || ' ' || c.started_ms, a.day, a.messages, a.raw_bytes FROM archive a JOIN conversations c ON c.id = a.conversation_id
UNION ALL SELECT 'message', user_id, created_ms, archive_id IS NOT NULL, length(content) FROM messages`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var a, b, c, d, e string
		if err := rows.Scan(&a, &b, &c, &d, &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join([]string{a, b, c, d, e}, "|"))
	}
	sort.Strings(out)
	return out
}

func TestCompressInterrupted(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	ref := newStore(t, Options{Now: func() time.Time { return now }})
	seedHistory(t, ref, now, 200)
	full, err := ref.Compress(ctx, CompressOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := compressedState(t, ref)
	wantExport := exportString(t, ref, "")
	stop := errors.New("stopped")
	for _, at := range []int{1, len(full.Steps) / 3, len(full.Steps) / 2, len(full.Steps) - 1} {
		for _, how := range []string{"error", "cancel"} {
			t.Run(fmt.Sprintf("%s after step %d", how, at), func(t *testing.T) {
				s := newStore(t, Options{Now: func() time.Time { return now }})
				seedHistory(t, s, now, 200)
				before := exportString(t, s, "")
				cctx, cancel := context.WithCancel(ctx)
				defer cancel()
				n := 0
				_, err := s.Compress(cctx, CompressOptions{AfterStep: func(Step) error {
					n++
					if n == at {
						if how == "cancel" {
							cancel()
							return nil
						}
						return stop
					}
					return nil
				}})
				if err == nil {
					t.Fatal("the interrupted pass reported success")
				}
				if got := exportMessages(before); got != exportMessages(exportString(t, s, "")) {
					t.Fatal("an interrupted pass changed the messages")
				}
				r, err := s.Compress(ctx, CompressOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if len(r.Steps) != len(full.Steps)-at {
					t.Errorf("the resumed pass did %d steps, want %d", len(r.Steps), len(full.Steps)-at)
				}
				if got := compressedState(t, s); !reflect.DeepEqual(got, want) {
					t.Errorf("after resuming, the state differs from an uninterrupted pass (%d vs %d rows)", len(got), len(want))
				}
				if got := exportString(t, s, ""); got != wantExport {
					t.Error("after resuming, the export differs from an uninterrupted pass")
				}
			})
		}
	}
}

// exportMessages keeps only the message lines of an export.
func exportMessages(export string) string {
	var b strings.Builder
	for _, l := range strings.Split(export, "\n") {
		if strings.HasPrefix(l, `{"type":"message"`) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

const helperEnv = "MAI_MEMORY_COMPRESS_HELPER_DB"

var helperNow = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// TestCompressHelperProcess is the child of TestCompressKilled: it runs a
// pass on the database named in the environment, printing each committed
// step, slowly enough to be killed in the middle.
func TestCompressHelperProcess(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		return // runs only as TestCompressKilled's child process
	}
	db, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	s := New(db, Options{Now: func() time.Time { return helperNow }})
	_, err = s.Compress(context.Background(), CompressOptions{AfterStep: func(st Step) error {
		fmt.Printf("step %s %s\n", st.Tier, st.Period)
		time.Sleep(20 * time.Millisecond)
		return nil
	}})
	fmt.Println("done", err)
	os.Exit(0)
}

func TestCompressKilled(t *testing.T) {
	testenv.Short(t, "starts a child process")
	ctx := context.Background()
	ref := newStore(t, Options{Now: func() time.Time { return helperNow }})
	seedHistory(t, ref, helperNow, 200)
	full, err := ref.Compress(ctx, CompressOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := compressedState(t, ref)

	path := filepath.Join(t.TempDir(), "mai.db")
	db, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := New(db, Options{Now: func() time.Time { return helperNow }})
	seedHistory(t, s, helperNow, 200)
	db.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestCompressHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	steps := 0
	killAt := len(full.Steps) / 2
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "step ") {
			steps++
		}
		if steps == killAt {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	cmd.Wait()
	if steps != killAt {
		t.Fatalf("the child printed %d steps before ending, want to kill it at %d", steps, killAt)
	}

	db, err = store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s = New(db, Options{Now: func() time.Time { return helperNow }})
	r, err := s.Compress(ctx, CompressOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The child may have committed one more step after printing the last
	// one it printed and before the signal landed.
	if n := len(r.Steps); n != len(full.Steps)-killAt && n != len(full.Steps)-killAt-1 {
		t.Errorf("the resumed pass did %d steps, want about %d", n, len(full.Steps)-killAt)
	}
	if got := compressedState(t, s); !reflect.DeepEqual(got, want) {
		t.Errorf("after a SIGKILL and a second pass, the state differs from an uninterrupted pass (%d vs %d rows)", len(got), len(want))
	}
	var bad string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&bad); err != nil || bad != "ok" {
		t.Errorf("integrity_check: %s %v", bad, err)
	}
}

// failingChat fails every request, counting them.
type failingChat struct{ calls int }

func (f *failingChat) Chat(context.Context, llm.Request) (llm.Stream, error) {
	f.calls++
	return nil, errors.New("connection refused")
}

// TestModelSummarizerPausesAfterFailures: three failures in a row, and the
// model is not asked again for ten minutes.
func TestModelSummarizerPausesAfterFailures(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	chat := &failingChat{}
	m := NewModelSummarizer(chat)
	m.Now = c.Now
	req := SummaryRequest{Style: StyleKeyPoints, Messages: []Message{{Role: RoleUser, Content: "hello"}}}
	for range 5 {
		if _, _, err := m.Summarize(ctx, req); err == nil {
			t.Fatal("a failing model summarised")
		}
	}
	if chat.calls != 3 {
		t.Errorf("asked %d times, want 3 before the pause", chat.calls)
	}
	c.t = c.t.Add(11 * time.Minute)
	if _, _, err := m.Summarize(ctx, req); err == nil || chat.calls != 4 {
		t.Errorf("after the pause: %v, %d calls", err, chat.calls)
	}
}
