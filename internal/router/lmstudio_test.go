package router_test

import (
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/llm/lmstudio"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
	"github.com/maicompanion/mai/internal/router"
)

const gib = 1 << 30

// collect reads a router stream to its end as llm.Collect does, and
// returns the notices of its restarts too.
func collect(t *testing.T, s llm.Stream) (text string, notices []string, err error) {
	t.Helper()
	rec := &router.Notices{Stream: s}
	msg, _, err := llm.Collect(rec)
	return msg.Content, rec.Texts, err
}

func hi() llm.Request {
	return llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}
}

// Two LM Studio servers, one on this machine's GPU and one on another
// machine, through the real client.
func TestRouterOverLMStudio(t *testing.T) {
	local := lmstudiotest.New(t,
		lmstudiotest.Model{Key: "qwen/qwen3-14b", SizeBytes: 9 * gib, ParamsString: "14B", MaxContextLength: 32768},
		lmstudiotest.Model{Key: "qwen/qwen3-4b", SizeBytes: 3 * gib, ParamsString: "4B", MaxContextLength: 32768},
	)
	lan := lmstudiotest.New(t, lmstudiotest.Model{Key: "google/gemma-3-4b", SizeBytes: 3 * gib, ParamsString: "4B"})
	r, err := router.New(router.Config{
		Endpoints: []router.Endpoint{
			{Backend: lmstudio.New(lmstudio.Config{Endpoint: local.URL}), Pool: "local"},
			{Backend: lmstudio.New(lmstudio.Config{Endpoint: lan.URL}), Pool: "lan"},
		},
		Pools:         []router.Pool{{Name: "local", Bytes: 12 * gib}, {Name: "lan", Bytes: 8 * gib}},
		ContextLength: 4096,
	})
	if err != nil {
		t.Fatal(err)
	}

	// The largest model that fits is loaded once, then reused.
	for range 2 {
		s, err := r.Chat(t.Context(), hi())
		if err != nil {
			t.Fatal(err)
		}
		text, notices, err := collect(t, s)
		if err != nil || text != "You said: hi" || len(notices) != 0 {
			t.Fatalf("chat = %q %q %v", text, notices, err)
		}
	}
	if local.Loads() != 1 || local.Instances()[0].Model != "qwen/qwen3-14b" || local.Instances()[0].ContextLength != 4096 {
		t.Fatalf("local loads %d, instances %+v", local.Loads(), local.Instances())
	}

	// Switching to the 4B on the same GPU: the 14B does not leave room, and
	// Mai loaded it, so Mai unloads it.
	if err := r.Switch(t.Context(), "lmstudio:qwen/qwen3-4b"); err != nil {
		t.Fatal(err)
	}
	if in := local.Instances(); local.Unloads() != 1 || len(in) != 1 || in[0].Model != "qwen/qwen3-4b" {
		t.Fatalf("after switch: unloads %d, instances %+v", local.Unloads(), in)
	}

	// The local server cuts the answer: it restarts on the other machine,
	// with a notice.
	local.Script(lmstudiotest.Reply{Chunks: []string{"par", "tial"}, CutAfter: 1, Abort: true})
	s, err := r.Chat(t.Context(), hi())
	if err != nil {
		t.Fatal(err)
	}
	text, notices, err := collect(t, s)
	if err != nil || text != "You said: hi" || len(notices) != 1 ||
		!strings.Contains(notices[0], "lmstudio:google/gemma-3-4b") {
		t.Fatalf("failover: %q %q %v", text, notices, err)
	}
	if lan.Loads() != 1 {
		t.Errorf("lan loads = %d", lan.Loads())
	}

	// The local server goes away: the router moves to the other machine for good.
	local.Close()
	s, err = r.Chat(t.Context(), hi())
	if err != nil {
		t.Fatal(err)
	}
	if text, notices, err := collect(t, s); err != nil || text != "You said: hi" || len(notices) != 1 || !strings.Contains(notices[0], "not reachable") {
		t.Fatalf("unreachable: %q %q %v", text, notices, err)
	}
	if c, _ := r.Active(); c.Ref() != "lmstudio:google/gemma-3-4b" {
		t.Errorf("active = %s", c.Ref())
	}
	sw := r.Switches()
	if len(sw) != 3 || sw[2].Cause != router.CauseFailure || !strings.Contains(sw[2].Reason, "not reachable") {
		t.Errorf("switches = %+v", sw)
	}
	p := r.Plan(t.Context())
	if p.Endpoints[0].Reachable || !p.Endpoints[1].Reachable || p.Active != "lmstudio:google/gemma-3-4b" {
		t.Errorf("plan = %+v", p)
	}
}
