package discord

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/discord/discordtest"
	"github.com/maicompanion/mai/internal/llm/ollama/ollamatest"
	"github.com/maicompanion/mai/internal/store"
)

// The child process of TestCrashMidAnswer: a bot with a slow answer, until
// it is killed.
const crashChildEnv = "MAI_DISCORD_TEST_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		os.Exit(crashChild(dir, os.Getenv("MAI_DISCORD_TEST_URL")))
	}
	os.Exit(ollamatest.Main(m, sharedOllama))
}

func crashChild(dir, url string) int {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(dir, "mai.db"), store.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s, err := NewSession(discordtest.Token, url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s.LogLevel = -1
	evs, _ := words(200)
	b := New(s, db.DB, &scriptChat{events: evs, pause: 50 * time.Millisecond}, Options{Owner: ownerID, EditInterval: 200 * time.Millisecond})
	if err := b.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestCrashMidAnswer(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command(exe, "-test.run=^$")
	child.Env = append(os.Environ(), crashChildEnv+"="+dir, "MAI_DISCORD_TEST_URL="+fake.URL)
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	waitFor(t, "the child bot to connect", fake.Connected)
	ch := fake.DMChannel(ownerID)
	fake.SendDM(ownerID, "tell me a long story")
	waitFor(t, "a partly streamed answer", func() bool {
		m := fake.BotMessages(ch)
		return len(m) == 1 && m[0].EditedTimestamp != nil && len(m[0].Content) > 40
	})
	if err := child.Process.Kill(); err != nil { // SIGKILL: no cleanup at all
		t.Fatal(err)
	}
	child.Wait()
	partial := fake.BotMessages(ch)[0]
	if strings.Count(partial.Content, "word") >= 200 {
		t.Fatalf("the answer was complete before the kill; the test needs it interrupted")
	}

	db := openDB(t, dir)
	evs, want := words(200)
	evs = append(evs, Event{Kind: EventDone})
	chat := &scriptChat{events: evs, pause: time.Millisecond}
	startBot(t, fake, db, chat, Options{EditInterval: 200 * time.Millisecond})
	final := "-# ↻ regenerated after a restart\n" + want
	waitFor(t, "the answer finished in the same message", func() bool {
		m := fake.BotMessages(ch)
		return len(m) >= 1 && m[0].Content == final
	})
	time.Sleep(500 * time.Millisecond) // anything sent twice would show by now
	m := fake.BotMessages(ch)
	if len(m) != 1 || m[0].ID != partial.ID {
		t.Fatalf("after the restart the channel holds %d bot messages (%q), want the one message %s", len(m), contents(m), partial.ID)
	}
	if got := chat.sent(); len(got) != 1 || got[0] != "tell me a long story" {
		t.Fatalf("restarted chat core got %q", got)
	}
}
