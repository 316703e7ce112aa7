package chat_test

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/chat"
	"github.com/maicompanion/mai/internal/chat/chattest"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
	"github.com/maicompanion/mai/internal/llm/ollama"
	"github.com/maicompanion/mai/internal/llm/ollama/ollamatest"
	"github.com/maicompanion/mai/internal/memory"
)

var shared = &ollamatest.Shared{}

func TestMain(m *testing.M) { os.Exit(ollamatest.Main(m, shared)) }

// ollamaCore is a core over the real Ollama behind a recording proxy, on
// the database at path (reopened: a restart).
func ollamaCore(t *testing.T, path string, proxy *chattest.Proxy) (*chat.Core, *memory.Store) {
	t.Helper()
	be, err := ollama.New(proxy.URL, ollama.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := newRouter(t, []string{"ollama:" + ollamatest.ChatModel}, be)
	mem := openMemory(t, path)
	return newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: mem, FactsEvery: -1}), mem
}

// lastChat returns the system prompt and the last user turn of the last
// chat the proxy saw.
func lastChat(t *testing.T, p *chattest.Proxy) (system, user string) {
	t.Helper()
	chats := p.Chats()
	if len(chats) == 0 {
		t.Fatal("no chat reached Ollama")
	}
	var req struct {
		Messages []struct{ Role, Content string }
	}
	if err := json.Unmarshal(chats[len(chats)-1], &req); err != nil {
		t.Fatal(err)
	}
	n := len(req.Messages)
	if n < 2 || req.Messages[0].Role != "system" || req.Messages[n-1].Role != "user" {
		t.Fatalf("not system … user: %+v", req.Messages)
	}
	return req.Messages[0].Content, req.Messages[n-1].Content
}

// A fact told and a thing said in one session reach the model in the next,
// after the core restarts and after /clear: the tiny model answers random
// words, so "recalled" means present in the context sent to Ollama: facts
// in the system prompt, recalled memories with the question they answer (so
// the system prompt, and the server's prompt cache, stay the same).
func TestRecallAcrossRestartRealOllama(t *testing.T) {
	srv := shared.Server(t)
	proxy := chattest.NewProxy(t, srv.URL(), 0)
	path := dbPath(t)
	c1, _ := ollamaCore(t, path, proxy)
	for _, text := range []string{"/remember my passport is in the blue drawer", "I adopted a tortoise named Bartholomew"} {
		if ev, err := send(t, c1, "owner", text); err != nil {
			t.Fatalf("%s: %v (%v)", text, err, ev.kinds())
		}
	}
	c2, mem := ollamaCore(t, path, proxy)
	if _, err := send(t, c2, "owner", "/clear"); err != nil {
		t.Fatal(err)
	}
	ev, err := send(t, c2, "owner", "where is my passport, and how is Bartholomew?")
	if err != nil {
		t.Fatal(err)
	}
	if ev.done() == nil || ev.done().Model != ollamatest.ChatModel {
		t.Fatalf("no answer from the real model: %v", ev.kinds())
	}
	sys, user := lastChat(t, proxy)
	for _, want := range []string{"You are Mai, the test persona.", "passport is in the blue drawer"} {
		if !strings.Contains(sys, want) {
			t.Errorf("the system prompt lacks %q:\n%s", want, sys)
		}
	}
	for _, want := range []string{"tortoise named Bartholomew", "where is my passport, and how is Bartholomew?"} {
		if !strings.Contains(user, want) {
			t.Errorf("the last user turn lacks %q:\n%s", want, user)
		}
	}
	ms, ds := stored(t, mem, c2, "owner")
	if len(ms) != 2 || ms[1].Model != ollamatest.ChatModel || ds[ms[1].ID].CompletionTokens == 0 {
		t.Errorf("stored after /clear = %+v %+v", ms, ds)
	}
}

// Cancelling mid-stream ends the answer at once against the real server.
func TestCancelMidStreamRealOllama(t *testing.T) {
	srv := shared.Server(t)
	proxy := chattest.NewProxy(t, srv.URL(), 20*time.Millisecond)
	c, mem := ollamaCore(t, dbPath(t), proxy)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ev := &events{}
	ev.on = func(e chat.Event) {
		if e.Kind == chat.EventText {
			cancel()
		}
	}
	begin := time.Now()
	err := c.Send(ctx, chat.Message{User: "owner", Text: "tell me a long story", MaxTokens: 2000}, ev.emit)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d > 20*time.Second {
		t.Errorf("cancel took %s", d)
	}
	k := ev.kinds()
	if slices.Contains(k, chat.EventDone) || !strings.Contains(ev.text(chat.EventNotice), "stopped") {
		t.Errorf("events = %v", k)
	}
	ms, _ := stored(t, mem, c, "owner")
	if len(ms) != 2 || ms[1].Role != memory.RoleAssistant || ms[1].Content == "" {
		t.Errorf("the partial answer was not kept: %+v", ms)
	}
}

// Tool use stored in one turn reaches the real Ollama in the next as its
// native tool messages — the assistant's tool_calls with the arguments as
// an object, then a "tool" message naming its tool — and Ollama answers
// them. The tiny model cannot call tools itself, so the first turn is
// answered by the fake LM Studio over the same database.
func TestToolTurnsReachRealOllama(t *testing.T) {
	srv := shared.Server(t)
	proxy := chattest.NewProxy(t, srv.URL(), 0)
	path := dbPath(t)
	lms, r := fakeLMStudio(t)
	first := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: openMemory(t, path), FactsEvery: -1})
	lms.Script(
		lmstudiotest.Reply{ToolCalls: []lmstudiotest.ToolCall{{ID: "call-1", Name: "remember", Arguments: `{"statement":"owns a tortoise"}`}}},
		lmstudiotest.Reply{Chunks: []string{"noted"}},
	)
	if _, err := send(t, first, "owner", "remember that I have a tortoise"); err != nil {
		t.Fatal(err)
	}
	c, _ := ollamaCore(t, path, proxy)
	ev, err := send(t, c, "owner", "what pet do I have?")
	if err != nil {
		t.Fatalf("%v (%v)", err, ev.kinds())
	}
	if ev.done() == nil || ev.done().Model != ollamatest.ChatModel {
		t.Fatalf("no answer from the real model: %v", ev.kinds())
	}
	chats := proxy.Chats()
	var req struct{ Messages []ollamaMessage }
	if err := json.Unmarshal(chats[len(chats)-1], &req); err != nil {
		t.Fatal(err)
	}
	msgs := req.Messages
	i := slices.IndexFunc(msgs, func(m ollamaMessage) bool { return len(m.ToolCalls) > 0 })
	if i < 0 || i+1 >= len(msgs) {
		t.Fatalf("no tool calls reached Ollama: %s", chats[len(chats)-1])
	}
	if fn := msgs[i].ToolCalls[0].Function; msgs[i].Role != "assistant" || fn.Name != "remember" || fn.Arguments["statement"] != "owns a tortoise" {
		t.Errorf("tool call sent = %+v", msgs[i])
	}
	if res := msgs[i+1]; res.Role != "tool" || res.ToolName != "remember" || res.Content != "remembered" {
		t.Errorf("tool result sent = %+v", res)
	}
}

// ollamaMessage is a message of Ollama's /api/chat as the proxy saw it.
type ollamaMessage struct {
	Role, Content string
	ToolName      string `json:"tool_name"`
	ToolCalls     []struct {
		Function struct {
			Name      string
			Arguments map[string]any
		}
	} `json:"tool_calls"`
}
