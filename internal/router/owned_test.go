package router_test

import (
	"path/filepath"
	"testing"

	"github.com/maicompanion/mai/internal/llm/lmstudio"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
	"github.com/maicompanion/mai/internal/router"
	"github.com/maicompanion/mai/internal/store"
	"github.com/maicompanion/mai/internal/switchlog"
)

// A restarted Mai still knows which instances it loaded: it unloads them to
// make room and for the owner, and does not take them for someone else's.
func TestOwnedInstancesSurviveRestart(t *testing.T) {
	srv := lmstudiotest.New(t,
		lmstudiotest.Model{Key: "qwen/qwen3-14b", SizeBytes: 9 * gib, ParamsString: "14B"},
		lmstudiotest.Model{Key: "qwen/qwen3-4b", SizeBytes: 3 * gib, ParamsString: "4B"},
	)
	db, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "mai.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ledger := switchlog.New(db.DB)
	start := func() *router.Router {
		r, err := router.New(router.Config{
			Endpoints:     []router.Endpoint{{Backend: lmstudio.New(lmstudio.Config{Endpoint: srv.URL}), Pool: "gpu"}},
			Pools:         []router.Pool{{Name: "gpu", Bytes: 12 * gib}},
			ContextLength: 4096, Ledger: ledger,
		})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if err := start().Switch(t.Context(), "lmstudio:qwen/qwen3-14b"); err != nil {
		t.Fatal(err)
	}
	if in, err := ledger.Instances(t.Context()); err != nil || len(in) != 1 || in[0].Model != "qwen/qwen3-14b" || in[0].Endpoint != srv.URL {
		t.Fatalf("ledger after the load = %+v, %v", in, err)
	}

	// The restart: the 14B is Mai's, so switching to the 4B unloads it.
	r := start()
	if p := r.Plan(t.Context()); len(p.Endpoints[0].Loaded) != 1 || !p.Endpoints[0].Loaded[0].OwnedByMai {
		t.Fatalf("after a restart the 14B should still be Mai's: %+v", p.Endpoints[0].Loaded)
	}
	if err := r.Switch(t.Context(), "lmstudio:qwen/qwen3-4b"); err != nil {
		t.Fatal(err)
	}
	if in := srv.Instances(); srv.Unloads() != 1 || len(in) != 1 || in[0].Model != "qwen/qwen3-4b" {
		t.Fatalf("unloads %d, instances %+v", srv.Unloads(), in)
	}
	n, err := start().UnloadOwned(t.Context())
	if err != nil || n != 1 || len(srv.Instances()) != 0 {
		t.Fatalf("unload what Mai loaded: %d, %v, left %+v", n, err, srv.Instances())
	}
	if in, err := ledger.Instances(t.Context()); err != nil || len(in) != 0 {
		t.Errorf("ledger after unloading = %+v, %v", in, err)
	}

	// Unloaded behind Mai's back (a keep-alive, the owner): a report leaves
	// the ledger alone, the next decision forgets the instance.
	r = start()
	if err := r.Switch(t.Context(), "lmstudio:qwen/qwen3-4b"); err != nil {
		t.Fatal(err)
	}
	if err := lmstudio.New(lmstudio.Config{Endpoint: srv.URL}).Unload(t.Context(), "qwen/qwen3-4b"); err != nil {
		t.Fatal(err)
	}
	r.Plan(t.Context())
	if in, _ := ledger.Instances(t.Context()); len(in) != 1 {
		t.Errorf("a plan changed the ledger: %+v", in)
	}
	if n, err := r.UnloadOwned(t.Context()); err != nil || n != 0 {
		t.Errorf("unloaded %d, %v: nothing of Mai's is loaded", n, err)
	}
	if in, _ := ledger.Instances(t.Context()); len(in) != 0 {
		t.Errorf("a gone instance stays in the ledger: %+v", in)
	}
}
