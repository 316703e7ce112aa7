package chat_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/chat"
	"github.com/maicompanion/mai/internal/llm/lmstudio"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
	"github.com/maicompanion/mai/internal/memory"
)

// A turn stores the message, sends the persona and the message to the
// model, streams the answer as events and stores it with its model and
// statistics.
func TestTurnStoresAnswerWithModelAndStats(t *testing.T) {
	srv, r := fakeLMStudio(t)
	mem := openMemory(t, dbPath(t))
	c := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: mem})
	srv.Script(lmstudiotest.Reply{Chunks: []string{"Hello", " there"}})
	ev, err := send(t, c, "u1", "hi Mai")
	if err != nil {
		t.Fatal(err)
	}
	if got := ev.text(chat.EventText); got != "Hello there" {
		t.Errorf("streamed %q", got)
	}
	st := ev.done()
	if st == nil || st.Model != "big" || st.ContextWindow != 4096 || st.ContextTokens <= 0 {
		t.Fatalf("stats = %+v", st)
	}
	reqs := srv.ChatRequests()
	if len(reqs) != 1 {
		t.Fatalf("%d chat requests", len(reqs))
	}
	msgs := reqs[0].Messages
	if msgs[0].Role != "system" || !strings.HasPrefix(msgs[0].Content, persona) || msgs[len(msgs)-1].Content != "hi Mai" {
		t.Errorf("context sent = %+v", msgs)
	}
	if len(reqs[0].Tools) != 2 { // remember, recall: no code runner here
		t.Errorf("tools offered = %d, want 2", len(reqs[0].Tools))
	}
	ms, ds := stored(t, mem, c, "u1")
	if len(ms) != 2 || ms[0].Role != memory.RoleUser || ms[1].Role != memory.RoleAssistant || ms[1].Content != "Hello there" || ms[1].Model != "big" || ms[1].ReplyTo != ms[0].ID {
		t.Fatalf("stored = %+v", ms)
	}
	if d := ds[ms[1].ID]; d.Kind != memory.TurnAnswer || d.ContextWindow != 4096 || d.CompletionTokens != 2 {
		t.Errorf("detail = %+v", d)
	}
	if st.RecentTurns != 1 || st.Summaries != 0 {
		t.Errorf("first turn kept %d recent turns and %d summaries, want 1 and 0", st.RecentTurns, st.Summaries)
	}
	// The second turn's context holds the first exchange and the new message.
	srv.Script(lmstudiotest.Reply{Chunks: []string{"Fine."}})
	if ev, err = send(t, c, "u1", "how are you?"); err != nil {
		t.Fatal(err)
	}
	if st := ev.done(); st == nil || st.RecentTurns != 3 {
		t.Errorf("second turn stats = %+v, want 3 recent turns", st)
	}
}

// An empty message is refused and stores nothing; a megabyte is cut to the
// limit with a notice and never sent whole.
func TestEmptyAndHugeMessages(t *testing.T) {
	srv, r := fakeLMStudio(t)
	mem := openMemory(t, dbPath(t))
	c := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: mem})
	for _, text := range []string{"", "  \n\t "} {
		ev, err := send(t, c, "u1", text)
		if !errors.Is(err, chat.ErrEmpty) || !slices.Contains(ev.kinds(), chat.EventError) {
			t.Errorf("%q: err %v, events %v", text, err, ev.kinds())
		}
	}
	if n := len(srv.ChatRequests()); n != 0 {
		t.Fatalf("empty messages reached the model %d times", n)
	}
	huge := strings.Repeat("é", 1<<19) // 1 MiB of two-byte characters
	ev, err := send(t, c, "u1", huge)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ev.text(chat.EventNotice), "only its first") {
		t.Errorf("no truncation notice: %v", ev.kinds())
	}
	ms, _ := stored(t, mem, c, "u1")
	if len(ms[0].Content) > chat.DefaultMaxInputBytes || !strings.HasPrefix(huge, ms[0].Content) {
		t.Errorf("stored %d bytes", len(ms[0].Content))
	}
	for _, m := range srv.ChatRequests()[0].Messages {
		if len(m.Content) >= 1<<20 {
			t.Errorf("a %d-byte message was sent to the model", len(m.Content))
		}
	}
}

// A backend that dies mid-answer: the front end is told to discard the
// partial text, the answer comes from the next model, and the partial
// answer is kept in memory marked as failed over.
func TestFailoverKeepsThePartialAnswerMarked(t *testing.T) {
	srv, r := fakeLMStudio(t)
	mem := openMemory(t, dbPath(t))
	c := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: mem})
	srv.Script(
		lmstudiotest.Reply{Chunks: []string{"half", " an", " answer"}, CutAfter: 2, Abort: true},
		lmstudiotest.Reply{Chunks: []string{"whole answer"}},
	)
	ev, err := send(t, c, "u1", "tell me")
	if err != nil {
		t.Fatal(err)
	}
	k := ev.kinds()
	i := slices.Index(k, chat.EventRestart)
	if i < 0 || !slices.Contains(k[:i], chat.EventText) || !slices.Contains(k[i:], chat.EventText) {
		t.Fatalf("events = %v, want text, restart, text", k)
	}
	if st := ev.done(); st == nil || !st.FailedOver || st.Model != "small" {
		t.Errorf("stats = %+v", st)
	}
	ms, ds := stored(t, mem, c, "u1")
	if len(ms) != 3 || ms[1].Content != "half an" || !ds[ms[1].ID].FailedOver || ms[2].Content != "whole answer" {
		t.Fatalf("stored = %+v %+v", ms, ds)
	}
}

// A model that sends malformed tool-call arguments is told once; the
// second time the turn ends with a clear message.
func TestMalformedToolCallToldOnceThenEnds(t *testing.T) {
	srv, r := fakeLMStudio(t)
	mem := openMemory(t, dbPath(t))
	c := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: mem})
	srv.Script(
		lmstudiotest.Reply{ToolCalls: []lmstudiotest.ToolCall{{ID: "c1", Name: "recall", Arguments: `{"query": oops`}}},
		lmstudiotest.Reply{ToolCalls: []lmstudiotest.ToolCall{{ID: "c2", Name: "recall", Arguments: `not json`}}},
		lmstudiotest.Reply{Chunks: []string{"never asked for"}},
	)
	_, err := send(t, c, "u1", "find it")
	if err == nil || !strings.Contains(err.Error(), "malformed tool calls twice") {
		t.Fatalf("err = %v", err)
	}
	reqs := srv.ChatRequests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	last := reqs[1].Messages[len(reqs[1].Messages)-1]
	if last.Role != "tool" || last.ToolCallID != "c1" || !strings.Contains(last.Content, "not a valid JSON object") {
		t.Errorf("the model was not told: %+v", last)
	}
}

// A model that keeps calling tools is cut off: MaxToolCalls run, the next
// call is answered "not run", and the last round offers no tools.
func TestToolLoopIsBounded(t *testing.T) {
	srv, r := fakeLMStudio(t)
	mem := openMemory(t, dbPath(t))
	c := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: mem, MaxToolCalls: 2})
	call := func(id string) lmstudiotest.Reply {
		return lmstudiotest.Reply{ToolCalls: []lmstudiotest.ToolCall{{ID: id, Name: "recall", Arguments: `{"query":"cats"}`}}}
	}
	srv.Script(call("a"), call("b"), call("c"), lmstudiotest.Reply{Chunks: []string{"enough"}})
	ev, err := send(t, c, "u1", "loop forever")
	if err != nil {
		t.Fatal(err)
	}
	reqs := srv.ChatRequests()
	if len(reqs) != 4 || len(reqs[2].Tools) == 0 || len(reqs[3].Tools) != 0 {
		t.Fatalf("%d requests; tools in the last = %d", len(reqs), len(reqs[len(reqs)-1].Tools))
	}
	if st := ev.done(); st == nil || st.ToolCalls != 2 {
		t.Errorf("stats = %+v", st)
	}
	if n := strings.Count(ev.text(chat.EventTool), "recalled"); n != 2 {
		t.Errorf("%d recalls ran, want 2", n)
	}
	last := reqs[3].Messages[len(reqs[3].Messages)-1]
	if !strings.Contains(last.Content, "limit of 2 tool calls") {
		t.Errorf("last tool result = %q", last.Content)
	}
}

// Every FactsEvery user turns the model extracts facts; they are stored
// with the user messages as provenance, once, and /facts and /forget fact
// show and remove them.
func TestLearnedFactsWithProvenance(t *testing.T) {
	srv, r := fakeLMStudio(t)
	mem := openMemory(t, dbPath(t))
	c := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: mem, FactsEvery: 2})
	facts := `Sure: [{"subject": "pet", "statement": "Has a grey cat called Ziggurat", "confidence": 0.8}]`
	srv.Script(
		lmstudiotest.Reply{Chunks: []string{"nice"}},
		lmstudiotest.Reply{Chunks: []string{"lovely"}},
		lmstudiotest.Reply{Chunks: []string{facts}},
		lmstudiotest.Reply{Chunks: []string{"ok"}},
		lmstudiotest.Reply{Chunks: []string{"ok"}},
		lmstudiotest.Reply{Chunks: []string{facts}}, // the same fact again
	)
	for _, text := range []string{"my cat is called Ziggurat", "she is grey", "hello", "again"} {
		if _, err := send(t, c, "u1", text); err != nil {
			t.Fatal(err)
		}
	}
	reqs := srv.ChatRequests()
	if len(reqs) != 6 || !strings.Contains(reqs[2].Messages[0].Content, "extract durable facts") {
		t.Fatalf("%d requests; the third's system prompt: %q", len(reqs), reqs[min(2, len(reqs)-1)].Messages[0].Content)
	}
	fs, err := mem.Facts(context.Background(), "u1")
	if err != nil || len(fs) != 1 {
		t.Fatalf("facts = %+v, %v", fs, err)
	}
	ms, _ := stored(t, mem, c, "u1")
	f := fs[0]
	if f.Subject != "pet" || f.Statement != "Has a grey cat called Ziggurat" || f.Confidence != 0.8 || !slices.Equal(f.Sources, []int64{ms[0].ID, ms[2].ID}) {
		t.Errorf("fact = %+v; user messages %d, %d", f, ms[0].ID, ms[2].ID)
	}
	ev, _ := send(t, c, "u1", "/facts")
	if !strings.Contains(ev.text(chat.EventReply), "Ziggurat") {
		t.Errorf("/facts = %q", ev.text(chat.EventReply))
	}
	if _, err := send(t, c, "u1", "/forget fact "+strconv.FormatInt(f.ID, 10)); err != nil {
		t.Fatal(err)
	}
	if fs, _ := mem.Facts(context.Background(), "u1"); len(fs) != 0 {
		t.Errorf("facts after /forget fact: %+v", fs)
	}
}

// /stop ends the running answer at once; what was shown is kept; a message
// sent meanwhile waits its turn and is answered after.
func TestStopAndQueue(t *testing.T) {
	srv, r := fakeLMStudio(t)
	mem := openMemory(t, dbPath(t))
	c := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: mem})
	srv.SetChunkDelay(30 * time.Millisecond)
	long := make([]string, 200)
	for i := range long {
		long[i] = "word "
	}
	srv.Script(lmstudiotest.Reply{Chunks: long}, lmstudiotest.Reply{Chunks: []string{"second"}})
	first := &events{}
	started := make(chan struct{})
	var once bool
	first.on = func(ev chat.Event) {
		if ev.Kind == chat.EventText && !once {
			once = true
			close(started)
		}
	}
	done := make(chan error, 1)
	go func() { done <- c.Send(context.Background(), chat.Message{User: "u1", Text: "talk a lot"}, first.emit) }()
	<-started
	second := &events{}
	queued := make(chan error, 1)
	go func() {
		queued <- c.Send(context.Background(), chat.Message{User: "u1", Text: "and then?"}, second.emit)
	}()
	waitUntil(t, func() bool { return strings.Contains(second.text(chat.EventNotice), "queued") })
	begin := time.Now()
	if ev, _ := send(t, c, "u1", "/stop"); slices.Contains(ev.kinds(), chat.EventError) {
		t.Fatalf("/stop: %v", ev.text(chat.EventError))
	}
	if err := <-done; err != nil {
		t.Fatalf("stopped turn: %v", err)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("stop took %s", d)
	}
	if err := <-queued; err != nil || second.text(chat.EventText) != "second" {
		t.Fatalf("queued turn: %v, %q", err, second.text(chat.EventText))
	}
	ms, _ := stored(t, mem, c, "u1")
	var roles []string
	for _, m := range ms {
		roles = append(roles, string(m.Role)+":"+strings.Fields(m.Content + " x")[0])
	}
	if len(ms) != 4 || ms[0].Content != "talk a lot" || !strings.HasPrefix(ms[1].Content, "word") || len(ms[1].Content) >= 5*len(long) || ms[2].Content != "and then?" || ms[3].Content != "second" {
		t.Errorf("stored = %v", roles)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 30 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// /clear starts a new conversation and keeps the old one; /forget deletes
// the current one for real; /forget all asks first.
// forgets records what the chat core reports forgotten (Config.Forgot).
type forgets struct {
	mu   sync.Mutex
	what []string
}

func (f *forgets) record(_ context.Context, user, what string, details map[string]any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.what = append(f.what, fmt.Sprintf("%s %s %v", user, what, details["messages"]))
	return nil
}

func (f *forgets) list() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.what, "; ")
}

func TestClearAndForget(t *testing.T) {
	_, r := fakeLMStudio(t)
	mem := openMemory(t, dbPath(t))
	var fg forgets
	c := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: mem, Forgot: fg.record})
	ctx := context.Background()
	if _, err := send(t, c, "u1", "first conversation"); err != nil {
		t.Fatal(err)
	}
	old, _ := c.Conversation(ctx, "u1")
	if _, err := send(t, c, "u1", "/clear"); err != nil {
		t.Fatal(err)
	}
	cur, _ := c.Conversation(ctx, "u1")
	if cur == old {
		t.Fatal("/clear kept the conversation")
	}
	if ms, _ := mem.Messages(ctx, old, 0, 0); len(ms) != 2 {
		t.Errorf("the old conversation has %d messages after /clear", len(ms))
	}
	if _, err := send(t, c, "u1", "second conversation"); err != nil {
		t.Fatal(err)
	}
	if _, err := send(t, c, "u1", "/forget"); err != nil {
		t.Fatal(err)
	}
	if ms, _ := mem.Messages(ctx, cur, 0, 0); len(ms) != 0 {
		t.Errorf("/forget left %d messages", len(ms))
	}
	got, _ := mem.Recall(ctx, "u1", "second conversation", 5)
	for _, m := range got {
		if m.ConversationID == cur {
			t.Errorf("recall still finds the forgotten conversation: %+v", m)
		}
	}
	ev, _ := send(t, c, "u1", "/forget all")
	if !strings.Contains(ev.text(chat.EventReply), "/forget all yes") {
		t.Fatalf("/forget all did not ask: %q", ev.text(chat.EventReply))
	}
	if ms, _ := mem.Messages(ctx, old, 0, 0); len(ms) != 2 {
		t.Fatal("/forget all deleted before confirmation")
	}
	if _, err := send(t, c, "u1", "/forget all yes"); err != nil {
		t.Fatal(err)
	}
	if ms, _ := mem.Messages(ctx, old, 0, 0); len(ms) != 0 {
		t.Errorf("/forget all yes left %d messages", len(ms))
	}
	// Each forgetting is reported for the audit log, with what it deleted.
	if want := fmt.Sprintf("u1 conversation:%d 2; u1 all 2", cur); fg.list() != want {
		t.Errorf("forgettings reported: %q, want %q", fg.list(), want)
	}
}

// /regenerate replaces the last answer in memory.
func TestRegenerateReplacesTheAnswer(t *testing.T) {
	srv, r := fakeLMStudio(t)
	mem := openMemory(t, dbPath(t))
	c := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: mem})
	srv.Script(lmstudiotest.Reply{Chunks: []string{"first try"}}, lmstudiotest.Reply{Chunks: []string{"second try"}})
	if _, err := send(t, c, "u1", "a question"); err != nil {
		t.Fatal(err)
	}
	ev, err := send(t, c, "u1", "/regenerate")
	if err != nil || ev.text(chat.EventText) != "second try" {
		t.Fatalf("/regenerate: %v %q", err, ev.text(chat.EventText))
	}
	ms, _ := stored(t, mem, c, "u1")
	if len(ms) != 2 || ms[0].Content != "a question" || ms[1].Content != "second try" || ms[1].ReplyTo != ms[0].ID {
		t.Errorf("stored = %+v", ms)
	}
	got, _ := mem.Recall(context.Background(), "u1", "first try", 5)
	for _, m := range got {
		if strings.Contains(m.Content, "first") {
			t.Errorf("the replaced answer is still recalled: %+v", m)
		}
	}
}

// A model that takes no tools is offered none, and the owner is told once.
func TestModelWithoutToolsIsSaid(t *testing.T) {
	srv := lmstudiotest.New(t, lmstudiotest.Model{Key: "plain", SizeBytes: 2 * gib, ParamsString: "3B"})
	r := newRouter(t, nil, lmstudio.New(lmstudio.Config{Endpoint: srv.URL}))
	c := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: openMemory(t, dbPath(t))})
	for i := range 2 {
		ev, err := send(t, c, "u1", "hello")
		if err != nil {
			t.Fatal(err)
		}
		told := strings.Contains(ev.text(chat.EventNotice), "lmstudio:plain does not take tools")
		if told != (i == 0) {
			t.Errorf("turn %d: told %v", i, told)
		}
	}
	for _, req := range srv.ChatRequests() {
		if len(req.Tools) != 0 {
			t.Errorf("tools offered to a model without them: %d", len(req.Tools))
		}
	}
}

// /forget last deletes the latest message and its answer, and nothing
// before; with nothing left, it says so.
func TestForgetLastExchange(t *testing.T) {
	srv, r := fakeLMStudio(t)
	mem := openMemory(t, dbPath(t))
	c := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: mem})
	srv.Script(lmstudiotest.Reply{Chunks: []string{"one"}}, lmstudiotest.Reply{Chunks: []string{"two"}})
	for _, q := range []string{"first", "second"} {
		if _, err := send(t, c, "u1", q); err != nil {
			t.Fatal(err)
		}
	}
	ev, err := send(t, c, "u1", "/forget last")
	if err != nil || !strings.HasPrefix(ev.text(chat.EventReply), "forgot your last message and its answer") {
		t.Fatalf("/forget last: %q, %v", ev.text(chat.EventReply), err)
	}
	ms, _ := stored(t, mem, c, "u1")
	if len(ms) != 2 || ms[0].Content != "first" || ms[1].Content != "one" {
		t.Fatalf("stored = %+v", ms)
	}
	if _, err := send(t, c, "u1", "/forget last"); err != nil {
		t.Fatal(err)
	}
	if _, err := send(t, c, "u1", "/forget last"); err == nil || !strings.Contains(err.Error(), "no message of yours") {
		t.Fatalf("forgetting an empty conversation's last exchange: %v", err)
	}
}

// ForgetExchange forgets the exchange a stored message belongs to, found
// by its answer as well, and says where it continued from.
func TestForgetExchangeInTheMiddle(t *testing.T) {
	srv, r := fakeLMStudio(t)
	mem := openMemory(t, dbPath(t))
	var fg forgets
	c := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: mem, Forgot: fg.record})
	srv.Script(lmstudiotest.Reply{Chunks: []string{"one"}}, lmstudiotest.Reply{Chunks: []string{"two"}}, lmstudiotest.Reply{Chunks: []string{"three"}})
	for _, q := range []string{"first", "second", "third"} {
		if _, err := send(t, c, "u1", q); err != nil {
			t.Fatal(err)
		}
	}
	ms, _ := stored(t, mem, c, "u1")
	if len(ms) != 6 || ms[3].Content != "two" {
		t.Fatalf("stored = %+v", ms)
	}
	ctx := context.Background()
	if _, err := c.ForgetExchange(ctx, "u2", ms[3].ID); !errors.Is(err, chat.ErrNoExchange) {
		t.Fatalf("another user forgot u1's exchange: %v", err)
	}
	parent, err := c.ForgetExchange(ctx, "u1", ms[3].ID) // by its answer
	if err != nil || parent != ms[1].ID {
		t.Fatalf("ForgetExchange = %d, %v; want it to continue from %d", parent, err, ms[1].ID)
	}
	left, _ := stored(t, mem, c, "u1")
	var texts []string
	for _, m := range left {
		texts = append(texts, m.Content)
	}
	if strings.Join(texts, "|") != "first|one|third|three" {
		t.Fatalf("left %q", texts)
	}
	if parent, err := c.ForgetExchange(ctx, "u1", ms[4].ID); err != nil || parent != 0 {
		t.Fatalf("forgetting the last exchange = %d, %v; want 0 (the end)", parent, err)
	}
	if _, err := c.ForgetExchange(ctx, "u1", ms[4].ID); !errors.Is(err, chat.ErrNoExchange) {
		t.Fatalf("forgetting it again: %v", err)
	}
	if want := fmt.Sprintf("u1 exchange:%d 2; u1 exchange:%d 2", ms[2].ID, ms[4].ID); fg.list() != want {
		t.Errorf("forgettings reported: %q, want %q", fg.list(), want)
	}
}
