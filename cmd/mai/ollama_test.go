package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/llm/ollama/ollamatest"
	"github.com/maicompanion/mai/internal/memory"
	"github.com/maicompanion/mai/internal/store"
)

// The "done when", against a real Ollama with tiny models: models
// list shows them, chat --once streams an answer, status shows the plan.
func TestRealOllamaListChatStatus(t *testing.T) {
	srv := ollamatest.Start(t)
	dir := t.TempDir()
	env := map[string]string{
		"MAI_DATA_DIR":       filepath.Join(dir, "data"),
		"OLLAMA_ENDPOINT":    srv.URL(),
		"LMSTUDIO_ENDPOINT":  "http://127.0.0.1:9",
		"GPU_VRAM_AVAILABLE": "4",
		"MAI_MODELS":         "ollama:" + ollamatest.ChatModel,
	}
	r := runMai(t, dir, env, "models", "list")
	for _, m := range []string{ollamatest.ChatModel, ollamatest.EmbedModel} {
		if r.code != 0 || !strings.Contains(r.stdout, "ollama:"+m) {
			t.Errorf("models list lacks %s: %+v", m, r)
		}
	}
	c := runMai(t, dir, env, "chat", "--once", "hi", "--max-tokens", "12", "--stats")
	if c.code != 0 || strings.TrimSpace(c.stdout) == "" || !strings.Contains(c.stderr, ollamatest.ChatModel) {
		t.Fatalf("chat --once: %+v", c)
	}
	st := runMai(t, dir, env, "status", "--json")
	var rep statusReport
	if err := json.Unmarshal([]byte(st.stdout), &rep); err != nil || st.code != 0 {
		t.Fatalf("%v %+v", err, st)
	}
	var loaded []string
	for _, ep := range rep.Plan.Endpoints {
		for _, in := range ep.Loaded {
			loaded = append(loaded, in.Model)
		}
	}
	// The chat core recalls by meaning too, so the embedding model answered
	// the query's embedding.
	slices.Sort(loaded)
	if want := []string{ollamatest.ChatModel, ollamatest.EmbedModel}; !slices.Equal(loaded, want) {
		t.Errorf("loaded after chat = %v, want %v", loaded, want)
	}
	if len(rep.Switches) == 0 || rep.Switches[0].To != "ollama:"+ollamatest.ChatModel {
		t.Errorf("the first choice should be stored: %+v", rep.Switches)
	}
}

// TestServeEmbedsAndSummarisesWithOllama: the daemon embeds the stored
// messages in the background (at least the two the compression pass does
// not archive; it may have embedded the others before it archived them) with the router's embedding model and writes
// its compression summaries with the chat model; then stats show no
// backlog, and a search whose words match nothing still finds memories by
// their vectors.
func TestServeEmbedsAndSummarisesWithOllama(t *testing.T) {
	srv := ollamatest.Start(t)
	dir := t.TempDir()
	seedMemory(t, dir)
	data := filepath.Join(dir, "data")
	env := map[string]string{
		"MAI_DATA_DIR":       data,
		"OLLAMA_ENDPOINT":    srv.URL(),
		"LMSTUDIO_ENDPOINT":  "http://127.0.0.1:9",
		"GPU_VRAM_AVAILABLE": "4",
		"MAI_MODELS":         "ollama:" + ollamatest.ChatModel,
	}
	if r := runMai(t, dir, env, "memory", "stats"); r.code != 0 || !strings.Contains(r.stdout, "wait for an embedding model") {
		t.Fatalf("stats before the daemon: %+v", r)
	}
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	cmd, out := maiProcess(t, dir, envList, "serve")
	logPath := filepath.Join(data, ".logs", "mai.log")
	waitFor(t, func() bool {
		b, _ := os.ReadFile(logPath)
		return bytes.Contains(b, []byte(`"task":"embed"`)) && bytes.Contains(b, []byte("memory compression pass"))
	})
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	log, _ := os.ReadFile(logPath)
	if !bytes.Contains(log, []byte(`"task":"embed","done":`)) {
		t.Fatalf("nothing was embedded:\n%s\n%s", log, out)
	}
	r := runMai(t, dir, env, "memory", "stats", "--json")
	var st struct {
		Embeddings int64
		Embedding  struct {
			Model   string
			Pending int64
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || st.Embeddings < 2 || st.Embedding.Model != "ollama:"+ollamatest.EmbedModel || st.Embedding.Pending != 0 {
		t.Fatalf("stats after the daemon: %+v %v %+v", st, err, r)
	}
	r = runMai(t, dir, env, "memory", "search", "zzxq", "--user", alice)
	if r.code != 0 || !strings.Contains(r.stdout, "water the ferns") {
		t.Errorf("search by vectors alone: %+v", r)
	}
	// `mai memory compress` summarises with the chat model too.
	rw, err := store.Open(context.Background(), filepath.Join(data, "mai.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.New(rw, memory.Options{})
	conv, err := mem.StartConversation(context.Background(), alice, "discord")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mem.Append(context.Background(), memory.Message{ConversationID: conv, Role: memory.RoleUser, Content: "The plumber comes on Tuesday.", Time: time.Now().Add(-10 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	rw.Close()
	if r := runMai(t, dir, env, "memory", "compress"); r.code != 0 || !strings.Contains(r.stdout, "1 conversation-days to key points") {
		t.Fatalf("compress: %+v", r)
	}
	db, err := store.OpenReadOnly(context.Background(), filepath.Join(data, "mai.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var days int
	if err := db.QueryRow(`SELECT count(*) FROM summaries WHERE tier = 'day' AND model = ?`, ollamatest.ChatModel).Scan(&days); err != nil || days != 1 {
		t.Errorf("key points by the chat model: %d, %v", days, err)
	}
	var models []string
	rows, err := db.Query(`SELECT DISTINCT model FROM summaries`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var m string
		rows.Scan(&m)
		models = append(models, m)
	}
	rows.Close()
	if len(models) != 1 || models[0] != ollamatest.ChatModel {
		t.Errorf("summaries written by %q, want the chat model %s", models, ollamatest.ChatModel)
	}
}
