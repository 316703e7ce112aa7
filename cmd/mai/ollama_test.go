package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/llm/ollama/ollamatest"
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
	if len(loaded) != 1 || loaded[0] != ollamatest.ChatModel {
		t.Errorf("loaded after chat = %v", loaded)
	}
	if len(rep.Switches) == 0 || rep.Switches[0].To != "ollama:"+ollamatest.ChatModel {
		t.Errorf("the first choice should be stored: %+v", rep.Switches)
	}
}
