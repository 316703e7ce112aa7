package router_test

import (
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/llm/lmstudio"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
	"github.com/maicompanion/mai/internal/router"
)

func withTools() llm.Request {
	req := hi()
	req.Tools = []llm.Tool{{Name: "recall", Description: "search memory", Parameters: []byte(`{"type":"object"}`)}}
	return req
}

func lmRouter(t *testing.T, poolGiB int64, models ...lmstudiotest.Model) (*router.Router, *lmstudiotest.Server) {
	t.Helper()
	srv := lmstudiotest.New(t, models...)
	r, err := router.New(router.Config{
		Endpoints:     []router.Endpoint{{Backend: lmstudio.New(lmstudio.Config{Endpoint: srv.URL}), Pool: "gpu"}},
		Pools:         []router.Pool{{Name: "gpu", Bytes: poolGiB * gib}},
		ContextLength: 4096,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, srv
}

func chatOK(t *testing.T, r *router.Router, req llm.Request) []string {
	t.Helper()
	s, err := r.Chat(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	text, notices, err := collect(t, s)
	if err != nil || text == "" {
		t.Fatalf("chat = %q, %v", text, err)
	}
	return notices
}

func activeRef(r *router.Router) string {
	c, _ := r.Active()
	return c.Ref()
}

// A request with tools moves the router from the best model, which takes
// none, to the best tool-capable one that fits; one without tools does not.
func TestToolsPreferAToolCapableModel(t *testing.T) {
	r, _ := lmRouter(t, 12,
		lmstudiotest.Model{Key: "big-no-tools", SizeBytes: 6 * gib, ParamsString: "14B"},
		lmstudiotest.Model{Key: "small-tools", SizeBytes: 3 * gib, ParamsString: "4B", ToolUse: true},
	)
	if n := chatOK(t, r, hi()); len(n) != 0 || activeRef(r) != "lmstudio:big-no-tools" {
		t.Fatalf("without tools: %s, notices %q", activeRef(r), n)
	}
	if n := chatOK(t, r, withTools()); len(n) != 0 || activeRef(r) != "lmstudio:small-tools" {
		t.Fatalf("with tools: %s, notices %q", activeRef(r), n)
	}
	sw := r.Switches()
	if last := sw[len(sw)-1]; last.Cause != router.CauseTools || last.From != "lmstudio:big-no-tools" {
		t.Errorf("switch = %+v", last)
	}
}

// When no tool-capable model fits, the active one answers and the owner is
// told once; a model the owner chose is kept, and that is said too.
func TestToolsWithoutAToolCapableModelIsSaid(t *testing.T) {
	r, _ := lmRouter(t, 6,
		lmstudiotest.Model{Key: "no-tools", SizeBytes: 3 * gib, ParamsString: "4B"},
		lmstudiotest.Model{Key: "huge-tools", SizeBytes: 20 * gib, ParamsString: "70B", ToolUse: true},
	)
	n := chatOK(t, r, withTools())
	if len(n) != 1 || !strings.Contains(n[0], "no model that takes tools is loaded or fits (lmstudio:huge-tools") ||
		!strings.Contains(n[0], "lmstudio:no-tools answers without them") || activeRef(r) != "lmstudio:no-tools" {
		t.Fatalf("notices %q, active %s", n, activeRef(r))
	}
	if n := chatOK(t, r, withTools()); len(n) != 0 {
		t.Errorf("told again: %q", n)
	}

	r2, _ := lmRouter(t, 12,
		lmstudiotest.Model{Key: "big-no-tools", SizeBytes: 6 * gib, ParamsString: "14B"},
		lmstudiotest.Model{Key: "small-tools", SizeBytes: 3 * gib, ParamsString: "4B", ToolUse: true},
	)
	if err := r2.Switch(t.Context(), "lmstudio:big-no-tools"); err != nil {
		t.Fatal(err)
	}
	n = chatOK(t, r2, withTools())
	if len(n) != 1 || !strings.Contains(n[0], "chosen by the owner") || activeRef(r2) != "lmstudio:big-no-tools" {
		t.Errorf("pinned: notices %q, active %s", n, activeRef(r2))
	}
}
