package router_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
	"github.com/maicompanion/mai/internal/router"
)

func seeRequest() llm.Request {
	return llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "what is it?", Images: []llm.Image{{MIME: "image/png", Data: []byte("\x89PNG")}}}}}
}

// An image moves the answer to the vision model, loaded within the pool
// like any switch: the text model Mai loaded is unloaded to make room,
// and the vision model is loaded once however many images follow.
func TestVisionRequestLoadsTheVisionModel(t *testing.T) {
	r, srv := lmRouter(t, 12,
		lmstudiotest.Model{Key: "qwen/qwen3-14b", SizeBytes: 9 * gib, ParamsString: "14B"},
		lmstudiotest.Model{Key: "qwen/qwen2.5-vl-7b", SizeBytes: 6 * gib, ParamsString: "7B", Vision: true},
	)
	chatOK(t, r, hi())
	if c, _ := r.Active(); c.Ref() != "lmstudio:qwen/qwen3-14b" {
		t.Fatalf("the text model is not the first choice: %s", c.Ref())
	}
	for range 2 {
		req := seeRequest()
		s, err := r.ChatWithOptions(t.Context(), router.ChatOptions{Vision: true, Tools: true}, func(router.Choice) (llm.Request, error) { return req, nil })
		if err != nil {
			t.Fatal(err)
		}
		if text, _, err := collect(t, s); err != nil || text != "You said: what is it?" {
			t.Fatalf("answer %q, %v", text, err)
		}
	}
	if in := srv.Instances(); srv.Loads() != 2 || srv.Unloads() != 1 || len(in) != 1 || in[0].Model != "qwen/qwen2.5-vl-7b" {
		t.Fatalf("loads %d, unloads %d, instances %+v; want the text model swapped for the vision model once", srv.Loads(), srv.Unloads(), in)
	}
	reqs := srv.ChatRequests()
	last := reqs[len(reqs)-1]
	if last.Model != "qwen/qwen2.5-vl-7b" || len(last.Messages[0].Images) != 1 || string(last.Messages[0].Images[0].Data) != "\x89PNG" {
		t.Fatalf("the vision model got %+v", last)
	}
	if sw := r.Switches(); len(sw) != 2 || sw[1].Cause != router.CauseVision {
		t.Fatalf("switches %+v", sw)
	}
}

func TestVisionRequestWithoutVisionModel(t *testing.T) {
	r, _ := lmRouter(t, 12, lmstudiotest.Model{Key: "qwen/qwen3-8b", SizeBytes: 5 * gib})
	if ok, err := r.Sees(t.Context()); ok || err != nil {
		t.Fatalf("Sees = %v, %v with no vision model", ok, err)
	}
	_, err := r.ChatWithOptions(t.Context(), router.ChatOptions{Vision: true}, func(router.Choice) (llm.Request, error) { return seeRequest(), nil })
	var nv *router.NoVisionError
	if !errors.As(err, &nv) || !errors.Is(err, router.ErrNoVision) || len(nv.Reasons) != 0 {
		t.Fatalf("err = %v", err)
	}

	// Installed but too large for the pool: the reason says so.
	r, _ = lmRouter(t, 12,
		lmstudiotest.Model{Key: "qwen/qwen3-8b", SizeBytes: 5 * gib},
		lmstudiotest.Model{Key: "qwen/qwen2.5-vl-72b", SizeBytes: 40 * gib, Vision: true},
	)
	if ok, err := r.Sees(t.Context()); !ok || err != nil {
		t.Fatalf("Sees = %v, %v with a vision model installed", ok, err)
	}
	_, err = r.ChatWithOptions(t.Context(), router.ChatOptions{Vision: true}, func(router.Choice) (llm.Request, error) { return seeRequest(), nil })
	if !errors.As(err, &nv) || len(nv.Reasons) != 1 || !strings.HasPrefix(nv.Reasons[0], "lmstudio:qwen/qwen2.5-vl-72b ") {
		t.Fatalf("err = %v", err)
	}
}
