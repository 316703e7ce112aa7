package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/llm"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// reply scripts one chat of a fakeBackend.
type reply struct {
	startErr error         // Chat fails
	text     []string      // deltas
	call     bool          // a tool call follows the text
	midErr   error         // the stream fails after the text
	ttft     time.Duration // the clock advances this much before the first delta
	block    chan struct{} // the stream waits for this before finishing
}

// fakeBackend is an in-memory llm.Backend with a clock-driven latency.
type fakeBackend struct {
	name, url string
	clock     *clock

	mu      sync.Mutex
	models  []llm.Model
	loaded  []llm.Instance
	script  []reply
	down    bool
	loads   []string
	unloads []string
	chats   []string
	reqs    []llm.Request
	loadErr map[string]error // Load fails for these models
}

func newFake(name string, c *clock, models ...llm.Model) *fakeBackend {
	return &fakeBackend{name: name, url: "http://" + name + ".test", clock: c, models: models}
}

func (f *fakeBackend) Name() string     { return f.name }
func (f *fakeBackend) Endpoint() string { return f.url }

func (f *fakeBackend) unreachable() error {
	return &llm.Error{Kind: llm.ErrUnreachable, Msg: f.name + " is not reachable"}
}

func (f *fakeBackend) Models(ctx context.Context) ([]llm.Model, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, f.unreachable()
	}
	return slices.Clone(f.models), nil
}

func (f *fakeBackend) Loaded(ctx context.Context) ([]llm.Instance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, f.unreachable()
	}
	return slices.Clone(f.loaded), nil
}

func (f *fakeBackend) Load(ctx context.Context, model string, opts llm.LoadOptions) (llm.Instance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return llm.Instance{}, f.unreachable()
	}
	for _, in := range f.loaded {
		if in.Model == model {
			return in, nil
		}
	}
	if err := f.loadErr[model]; err != nil {
		return llm.Instance{}, err
	}
	for _, m := range f.models {
		if m.Name == model {
			in := llm.Instance{Model: model, ID: model, SizeBytes: m.SizeBytes, VRAMBytes: m.SizeBytes, ContextLength: opts.ContextLength}
			f.loaded = append(f.loaded, in)
			f.loads = append(f.loads, model)
			return in, nil
		}
	}
	return llm.Instance{}, &llm.ModelNotFoundError{Backend: f.name, Model: model}
}

func (f *fakeBackend) Unload(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loaded = slices.DeleteFunc(f.loaded, func(in llm.Instance) bool {
		if in.ID == id || in.Model == id {
			f.unloads = append(f.unloads, in.ID)
			return true
		}
		return false
	})
	return nil
}

// preload marks a model loaded by the owner, outside Mai.
func (f *fakeBackend) preload(model string) {
	if _, err := f.Load(context.Background(), model, llm.LoadOptions{}); err != nil {
		panic(err)
	}
	f.mu.Lock()
	f.loads = f.loads[:len(f.loads)-1]
	f.mu.Unlock()
}

func (f *fakeBackend) queue(r ...reply) {
	f.mu.Lock()
	f.script = append(f.script, r...)
	f.mu.Unlock()
}

func (f *fakeBackend) Chat(ctx context.Context, req llm.Request) (llm.Stream, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, f.unreachable()
	}
	f.chats = append(f.chats, req.Model)
	f.reqs = append(f.reqs, req)
	r := reply{text: []string{"answer from " + req.Model}}
	if len(f.script) > 0 {
		r, f.script = f.script[0], f.script[1:]
	}
	if r.startErr != nil {
		return nil, r.startErr
	}
	return &fakeStream{ctx: ctx, r: r, clock: f.clock, model: req.Model}, nil
}

func (f *fakeBackend) Embed(ctx context.Context, model string, inputs []string) ([][]float32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, f.unreachable()
	}
	f.chats = append(f.chats, "embed "+model)
	out := make([][]float32, len(inputs))
	for i := range inputs {
		out[i] = []float32{float32(len(model)), float32(i)}
	}
	return out, nil
}

func (f *fakeBackend) record() (loads, unloads, chats []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.loads), slices.Clone(f.unloads), slices.Clone(f.chats)
}

type fakeStream struct {
	ctx   context.Context
	r     reply
	clock *clock
	model string
	i     int
	ended bool
}

func (s *fakeStream) Next() (llm.Event, error) {
	if s.ended {
		return llm.Event{}, io.EOF
	}
	if err := s.ctx.Err(); err != nil {
		return llm.Event{}, err
	}
	if s.i < len(s.r.text) {
		if s.i == 0 {
			s.clock.Add(s.r.ttft)
		}
		s.i++
		return llm.Event{Kind: llm.EventText, Text: s.r.text[s.i-1]}, nil
	}
	if s.r.call {
		s.r.call = false
		return llm.Event{Kind: llm.EventToolCall, ToolCall: llm.ToolCall{ID: "1", Name: "run", Arguments: []byte("{}")}}, nil
	}
	if s.r.midErr != nil {
		s.ended = true
		return llm.Event{}, s.r.midErr
	}
	if s.r.block != nil {
		select {
		case <-s.r.block:
		case <-s.ctx.Done():
			return llm.Event{}, s.ctx.Err()
		}
	}
	s.ended = true
	return llm.Event{Kind: llm.EventDone, Stats: llm.Stats{Model: s.model, FinishReason: "stop"}}, nil
}

func (s *fakeStream) Close() error { return nil }

// setup is a router over fake backends sharing one GPU pool of poolGiB.
type setup struct {
	t      *testing.T
	clock  *clock
	r      *Router
	fakes  []*fakeBackend
	logged []Switch
}

func newSetup(t *testing.T, poolGiB float64, prefs []string, fakes ...*fakeBackend) *setup {
	t.Helper()
	s := &setup{t: t, fakes: fakes}
	cfg := Config{
		Pools:         []Pool{{Name: "gpu", Bytes: int64(poolGiB * gib)}},
		ContextLength: 4096,
		DrainTimeout:  time.Second,
		OnSwitch:      func(sw Switch) { s.logged = append(s.logged, sw) },
	}
	var kinds []string
	for _, f := range fakes {
		cfg.Endpoints = append(cfg.Endpoints, Endpoint{Backend: f, Pool: "gpu"})
		kinds = append(kinds, f.name)
		s.clock = f.clock
	}
	cfg.Preferences = ParsePreferences(prefs, kinds)
	cfg.Now = s.clock.Now
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.r = r
	return s
}

// chat runs one chat to its end and returns the answer as llm.Collect
// assembles it, and the notices of every restart.
func (s *setup) chat() (text string, notices []string, err error) {
	s.t.Helper()
	st, err := s.r.Chat(s.t.Context(), llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}})
	if err != nil {
		return "", nil, err
	}
	rec := &Notices{Stream: st}
	msg, _, err := llm.Collect(rec)
	return msg.Content, rec.Texts, err
}

// Notices passes a stream's events on and keeps the text of its notices
// and restarts. It is exported for the tests of package router_test.
type Notices struct {
	llm.Stream
	Texts []string
}

func (r *Notices) Next() (llm.Event, error) {
	ev, err := r.Stream.Next()
	if err == nil && (ev.Kind == llm.EventRestart || ev.Kind == llm.EventNotice) {
		r.Texts = append(r.Texts, ev.Text)
	}
	return ev, err
}

func (s *setup) mustChat(wantModel string) {
	s.t.Helper()
	text, notices, err := s.chat()
	if err != nil {
		s.t.Fatalf("chat: %v", err)
	}
	if text != "answer from "+wantModel || len(notices) != 0 {
		s.t.Fatalf("chat answered %q with notices %q, want the answer from %s", text, notices, wantModel)
	}
}

func (s *setup) active() string {
	c, _ := s.r.Active()
	return c.Ref()
}

func causes(sw []Switch) []string {
	var out []string
	for _, s := range sw {
		out = append(out, fmt.Sprintf("%s→%s (%s)", s.From, s.To, s.Cause))
	}
	return out
}

func TestInitialChoiceAndNoDoubleLoad(t *testing.T) {
	c := newClock()
	ollama := newFake("ollama", c, chatModel("qwen2.5:14b", 14, 9), chatModel("llama3.2:3b", 3, 2))
	s := newSetup(t, 8, nil, ollama)
	s.mustChat("llama3.2:3b") // the 14B does not fit in 8 GiB
	c.Add(time.Minute)        // past the resident cache: the listing is asked again
	s.mustChat("llama3.2:3b")
	loads, _, chats := ollama.record()
	if !slices.Equal(loads, []string{"llama3.2:3b"}) || len(chats) != 2 {
		t.Errorf("loads %v, chats %v", loads, chats)
	}
	if got := causes(s.r.Switches()); !slices.Equal(got, []string{"→ollama:llama3.2:3b (initial)"}) || len(s.logged) != 1 {
		t.Errorf("switches = %v, logged %d", got, len(s.logged))
	}
}

func TestConcurrentFirstChatsLoadOnce(t *testing.T) {
	c := newClock()
	ollama := newFake("ollama", c, chatModel("llama3.2:3b", 3, 2))
	s := newSetup(t, 8, nil, ollama)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, _, errs[i] = s.chat() })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if loads, _, _ := ollama.record(); len(loads) != 1 || len(s.r.Switches()) != 1 {
		t.Errorf("loads %v, switches %v", loads, s.r.Switches())
	}
}

func TestPreferencesAndNoModel(t *testing.T) {
	c := newClock()
	ollama := newFake("ollama", c, chatModel("qwen2.5:14b", 14, 9), chatModel("llama3.2:3b", 3, 2))
	lms := newFake("lmstudio", c, chatModel("qwen/qwen3-8b", 8, 5))
	s := newSetup(t, 24, []string{"lmstudio:qwen/qwen3-8b", "ollama:llama3.2:3b"}, ollama, lms)
	s.mustChat("qwen/qwen3-8b")

	tiny := newSetup(t, 1, nil, newFake("ollama", c, chatModel("qwen2.5:14b", 14, 9)))
	_, _, err := tiny.chat()
	if !errors.Is(err, ErrNoModel) || !strings.Contains(err.Error(), "needs") {
		t.Errorf("nothing fits: %v", err)
	}
	none := newSetup(t, 8, nil, newFake("ollama", c))
	if _, _, err := none.chat(); !errors.Is(err, ErrNoModel) || !strings.Contains(err.Error(), "no models") {
		t.Errorf("nothing installed: %v", err)
	}
}

func TestSwitchMakesRoomOnTheOtherBackend(t *testing.T) {
	c := newClock()
	ollama := newFake("ollama", c, chatModel("qwen2.5:14b", 14, 9), chatModel("llama3.2:3b", 3, 2))
	lms := newFake("lmstudio", c, chatModel("qwen/qwen3-8b", 8, 5), chatModel("owner/model", 1, 1))
	lms.preload("owner/model") // the owner's, never unloaded by Mai
	s := newSetup(t, 12, []string{"ollama:qwen2.5:14b"}, ollama, lms)
	s.mustChat("qwen2.5:14b")
	if err := s.r.Switch(t.Context(), "lmstudio:qwen/qwen3-8b"); err != nil {
		t.Fatal(err)
	}
	if _, unloads, _ := ollama.record(); !slices.Equal(unloads, []string{"qwen2.5:14b"}) {
		t.Errorf("ollama unloads = %v, want the 14B Mai loaded", unloads)
	}
	if _, unloads, _ := lms.record(); len(unloads) != 0 {
		t.Errorf("the owner's model was unloaded: %v", unloads)
	}
	s.mustChat("qwen/qwen3-8b")
	if got := causes(s.r.Switches()); !slices.Equal(got, []string{"→ollama:qwen2.5:14b (initial)", "ollama:qwen2.5:14b→lmstudio:qwen/qwen3-8b (request)"}) {
		t.Errorf("switches = %v", got)
	}
	if p := s.r.Plan(t.Context()); !p.Pinned || p.Active != "lmstudio:qwen/qwen3-8b" {
		t.Errorf("plan after the owner's switch: active %q pinned %v", p.Active, p.Pinned)
	}

	// Unknown and unfitting names are refused with the reason.
	var nf *llm.ModelNotFoundError
	if err := s.r.Switch(t.Context(), "nope"); !errors.As(err, &nf) || !slices.Contains(nf.Available, "ollama:llama3.2:3b") ||
		!strings.HasPrefix(err.Error(), `lmstudio or ollama has no model "nope"; available: `) {
		t.Errorf("unknown model: %v", err)
	}
	lms.mu.Lock()
	lms.models = append(lms.models, chatModel("huge", 70, 40))
	lms.mu.Unlock()
	c.Add(2 * modelsTTL)
	if err := s.r.Switch(t.Context(), "lmstudio:huge"); err == nil || !strings.Contains(err.Error(), "needs") {
		t.Errorf("model too big: %v", err)
	}
}

func TestEvictionWaitsForRunningAnswers(t *testing.T) {
	for _, tt := range []struct {
		name    string
		release bool // the answer finishes; otherwise the drain deadline passes
	}{{"answer finishes", true}, {"deadline passes", false}} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			ollama := newFake("ollama", c, chatModel("qwen2.5:14b", 14, 9), chatModel("llama3.2:3b", 3, 2))
			s := newSetup(t, 12, []string{"ollama:qwen2.5:14b"}, ollama)
			s.r.cfg.DrainTimeout = 200 * time.Millisecond
			block := make(chan struct{})
			ollama.queue(reply{text: []string{"long"}, block: block})
			st, err := s.r.Chat(t.Context(), llm.Request{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := st.Next(); err != nil {
				t.Fatal(err)
			}
			ollama.mu.Lock()
			ollama.models = append(ollama.models, chatModel("other:7b", 7, 5))
			ollama.mu.Unlock()
			c.Add(2 * modelsTTL)
			switched := make(chan error, 1)
			go func() { switched <- s.r.Switch(context.Background(), "ollama:other:7b") }()
			select {
			case err := <-switched:
				t.Fatalf("switch did not wait for the running answer: %v", err)
			case <-time.After(50 * time.Millisecond):
			}
			if _, unloads, _ := ollama.record(); len(unloads) != 0 {
				t.Fatalf("unloaded while answering: %v", unloads)
			}
			if tt.release {
				close(block)
				if ev, err := st.Next(); err != nil || ev.Kind != llm.EventDone {
					t.Fatalf("end of answer: %+v %v", ev, err)
				}
			}
			if err := <-switched; err != nil {
				t.Fatal(err)
			}
			if _, unloads, _ := ollama.record(); !slices.Equal(unloads, []string{"qwen2.5:14b"}) {
				t.Errorf("unloads = %v", unloads)
			}
		})
	}
}

func TestFailover(t *testing.T) {
	truncated := &llm.Error{Kind: llm.ErrStreamTruncated, Msg: "cut"}
	bad := &llm.Error{Kind: llm.ErrBadResponse, Msg: "HTTP 500"}
	tests := []struct {
		name        string
		primary     []reply
		down        bool
		chats       int
		wantNotice  string
		wantActive  string
		wantCauses  []string
		wantLastErr bool
	}{
		{
			name: "unreachable switches at once", down: true, chats: 1,
			wantNotice: "ollama:qwen2.5:14b is not reachable; continuing with lmstudio:qwen/qwen3-8b.",
			wantActive: "lmstudio:qwen/qwen3-8b",
			wantCauses: []string{"→ollama:qwen2.5:14b (initial)", "ollama:qwen2.5:14b→lmstudio:qwen/qwen3-8b (failure)"},
		},
		{
			name: "cut mid-answer retries but stays", primary: []reply{{text: []string{"par"}, midErr: truncated}}, chats: 1,
			wantNotice: "ollama:qwen2.5:14b stopped in the middle of the answer; starting the answer again with lmstudio:qwen/qwen3-8b.",
			wantActive: "ollama:qwen2.5:14b",
			wantCauses: []string{"→ollama:qwen2.5:14b (initial)"},
		},
		{
			name:       "three failures in a row switch",
			primary:    []reply{{startErr: bad}, {startErr: bad}, {startErr: bad}},
			chats:      3,
			wantNotice: "ollama:qwen2.5:14b failed",
			wantActive: "lmstudio:qwen/qwen3-8b",
			wantCauses: []string{"→ollama:qwen2.5:14b (initial)", "ollama:qwen2.5:14b→lmstudio:qwen/qwen3-8b (failure)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			ollama := newFake("ollama", c, chatModel("qwen2.5:14b", 14, 9))
			lms := newFake("lmstudio", c, chatModel("qwen/qwen3-8b", 8, 5))
			s := newSetup(t, 24, []string{"ollama:qwen2.5:14b", "lmstudio:qwen/qwen3-8b"}, ollama, lms)
			s.mustChat("qwen2.5:14b")
			c.Add(time.Minute)
			ollama.queue(tt.primary...)
			if tt.down {
				ollama.mu.Lock()
				ollama.down = true
				ollama.mu.Unlock()
			}
			for i := range tt.chats {
				text, notices, err := s.chat()
				if err != nil {
					t.Fatalf("chat %d: %v", i, err)
				}
				if text != "answer from qwen/qwen3-8b" || len(notices) != 1 || !strings.HasPrefix(notices[0], tt.wantNotice) {
					t.Fatalf("chat %d: text %q, notices %q", i, text, notices)
				}
				c.Add(time.Second)
			}
			if s.active() != tt.wantActive {
				t.Errorf("active = %s, want %s", s.active(), tt.wantActive)
			}
			if got := causes(s.r.Switches()); !slices.Equal(got, tt.wantCauses) {
				t.Errorf("switches = %v, want %v", got, tt.wantCauses)
			}
		})
	}
}

// The caller builds its request for the model chosen, before the stream
// starts and again for the model a failover moves to; the consumer is told
// to discard the partial answer, and the final stats say it failed over.
func TestChatWithBuildsPerModel(t *testing.T) {
	c := newClock()
	ollama := newFake("ollama", c, chatModel("qwen2.5:14b", 14, 9))
	small := chatModel("qwen/qwen3-8b", 8, 5)
	small.ContextLength = 2048 // below the configured 4096: loaded with 2048
	lms := newFake("lmstudio", c, small)
	s := newSetup(t, 24, []string{"ollama:qwen2.5:14b"}, ollama, lms)
	ollama.queue(reply{text: []string{"par", "tial"}, midErr: &llm.Error{Kind: llm.ErrStreamTruncated, Msg: "cut"}})
	var built []string
	st, err := s.r.ChatWith(t.Context(), func(ch Choice) (llm.Request, error) {
		built = append(built, fmt.Sprintf("%s %d", ch.Ref(), ch.ContextLength))
		return llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "for " + ch.Ref()}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if want := []string{"ollama:qwen2.5:14b 4096"}; !slices.Equal(built, want) {
		t.Fatalf("built before the stream = %v, want %v", built, want)
	}
	var kinds []string
	var restart llm.Restart
	var stats llm.Stats
	for {
		ev, err := st.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, ev.Kind.String()+" "+ev.Text)
		switch ev.Kind {
		case llm.EventRestart:
			restart = ev.Restart
		case llm.EventDone:
			stats = ev.Stats
		}
	}
	want := []string{
		"text par", "text tial",
		"restart ollama:qwen2.5:14b stopped in the middle of the answer; starting the answer again with lmstudio:qwen/qwen3-8b.",
		"text answer from qwen/qwen3-8b", "done ",
	}
	if !slices.Equal(kinds, want) {
		t.Errorf("events = %q\nwant %q", kinds, want)
	}
	if restart != (llm.Restart{From: "ollama:qwen2.5:14b", To: "lmstudio:qwen/qwen3-8b", ContextLength: 2048, Discarded: true}) {
		t.Errorf("restart = %+v", restart)
	}
	if stats.FailedOver != "ollama:qwen2.5:14b" || stats.Model != "qwen/qwen3-8b" {
		t.Errorf("final stats = %+v", stats)
	}
	if want := []string{"ollama:qwen2.5:14b 4096", "lmstudio:qwen/qwen3-8b 2048"}; !slices.Equal(built, want) {
		t.Errorf("built = %v, want %v", built, want)
	}
	for _, f := range []*fakeBackend{ollama, lms} {
		f.mu.Lock()
		req := f.reqs[0]
		f.mu.Unlock()
		if req.Messages[0].Content != "for "+f.name+":"+req.Model || req.Options.ContextLength == 0 {
			t.Errorf("%s got %+v: the request built for it, at its loaded context", f.name, req)
		}
	}

	// A build that fails is the caller's error: no failover.
	boom := errors.New("no room for the prompt")
	_, err = s.r.ChatWith(t.Context(), func(Choice) (llm.Request, error) { return llm.Request{}, boom })
	if !errors.Is(err, boom) {
		t.Errorf("build error = %v", err)
	}
	if _, _, chats := lms.record(); len(chats) != 1 {
		t.Errorf("lmstudio chats = %v after a failed build", chats)
	}
}

// On a server of unknown memory a model is tried; a load that fails there
// makes it "does not fit there": the answer moves on at once, and the plan
// says why.
func TestUnknownPoolFailedLoad(t *testing.T) {
	c := newClock()
	lan := newFake("ollama", c, chatModel("qwen2.5:72b", 72, 40))
	lan.loadErr = map[string]error{"qwen2.5:72b": &llm.Error{Kind: llm.ErrBadResponse, Msg: "model requires more system memory (42 GiB) than is available"}}
	local := newFake("lmstudio", c, chatModel("qwen/qwen3-8b", 8, 5))
	r, err := New(Config{
		Endpoints:   []Endpoint{{Backend: lan, Pool: "lan"}, {Backend: local, Pool: "gpu"}},
		Pools:       []Pool{{Name: "lan", Unknown: true}, {Name: "gpu", Bytes: 12 * gib}},
		Preferences: []Preference{{Backend: "ollama", Model: "qwen2.5:72b"}},
		Now:         c.Now, ContextLength: 4096,
	})
	if err != nil {
		t.Fatal(err)
	}
	if p := r.Plan(t.Context()); !p.Candidates[0].Fits || !strings.HasPrefix(p.Candidates[0].Reason, "may fit") || !p.Pools[0].Unknown {
		t.Fatalf("before trying: %+v %+v", p.Candidates[0], p.Pools[0])
	}
	st, err := r.Chat(t.Context(), llm.Request{})
	if err != nil {
		t.Fatal(err)
	}
	msg, _, err := llm.Collect(st)
	if err != nil || msg.Content != "answer from qwen/qwen3-8b" {
		t.Fatalf("answer %q, %v", msg.Content, err)
	}
	sw := r.Switches()
	if len(sw) != 2 || sw[1].Cause != CauseFailure || sw[1].To != "lmstudio:qwen/qwen3-8b" {
		t.Errorf("switches = %+v", sw)
	}
	if p := r.Plan(t.Context()); p.Candidates[0].Fits || !strings.HasPrefix(p.Candidates[0].Reason, "failed to load") {
		t.Errorf("after the failed load: %+v", p.Candidates[0])
	}
	c.Add(noFitTTL)
	if p := r.Plan(t.Context()); !p.Candidates[0].Fits {
		t.Errorf("tried again after %s: %+v", noFitTTL, p.Candidates[0])
	}
}

func TestFailoverOnlyOnce(t *testing.T) {
	c := newClock()
	boom := &llm.Error{Kind: llm.ErrBadResponse, Msg: "boom"}
	ollama := newFake("ollama", c, chatModel("qwen2.5:14b", 14, 9))
	lms := newFake("lmstudio", c, chatModel("qwen/qwen3-8b", 8, 5))
	s := newSetup(t, 24, nil, ollama, lms)
	ollama.queue(reply{startErr: boom})
	lms.queue(reply{text: []string{"x"}, midErr: boom})
	_, notices, err := s.chat()
	if !errors.Is(err, llm.ErrBadResponse) || len(notices) != 1 {
		t.Fatalf("err %v, notices %q", err, notices)
	}
	// A tool call already asked for is never asked for twice.
	c.Add(time.Minute)
	ollama.queue(reply{call: true, midErr: boom})
	_, notices, err = s.chat()
	if !errors.Is(err, llm.ErrBadResponse) || len(notices) != 0 {
		t.Fatalf("after a tool call: err %v, notices %q", err, notices)
	}
	if _, _, chats := lms.record(); len(chats) != 1 {
		t.Errorf("lmstudio chats = %v, want only the first failover", chats)
	}
}

func TestLatencyDowngradeAndUpgrade(t *testing.T) {
	c := newClock()
	ollama := newFake("ollama", c, chatModel("qwen2.5:14b", 14, 9), chatModel("llama3.2:3b", 3, 2))
	s := newSetup(t, 24, nil, ollama)
	s.mustChat("qwen2.5:14b")
	c.Add(time.Minute)
	ollama.queue(reply{text: []string{"answer from qwen2.5:14b"}, ttft: 6 * time.Second}, reply{text: []string{"answer from qwen2.5:14b"}, ttft: 7 * time.Second})
	s.mustChat("qwen2.5:14b")
	s.mustChat("qwen2.5:14b")
	s.mustChat("llama3.2:3b") // downgraded before this answer
	if got := causes(s.r.Switches()); len(got) != 2 || got[1] != "ollama:qwen2.5:14b→ollama:llama3.2:3b (latency)" {
		t.Fatalf("switches = %v", got)
	}
	// The 14B still fits; after 5 minutes of that, and answers every 30 s,
	// the router goes back up.
	for range 10 {
		c.Add(31 * time.Second)
		s.mustChat("llama3.2:3b")
	}
	c.Add(31 * time.Second)
	s.mustChat("qwen2.5:14b")
	if got := causes(s.r.Switches()); len(got) != 3 || got[2] != "ollama:llama3.2:3b→ollama:qwen2.5:14b (upgrade)" {
		t.Errorf("switches = %v", got)
	}
	if loads, unloads, _ := ollama.record(); !slices.Equal(loads, []string{"qwen2.5:14b", "llama3.2:3b"}) || len(unloads) != 0 {
		t.Errorf("loads %v unloads %v: both fit, nothing to load twice or unload", loads, unloads)
	}
}

func TestCancelIsNotAFailure(t *testing.T) {
	c := newClock()
	ollama := newFake("ollama", c, chatModel("qwen2.5:14b", 14, 9))
	lms := newFake("lmstudio", c, chatModel("qwen/qwen3-8b", 8, 5))
	s := newSetup(t, 24, nil, ollama, lms)
	block := make(chan struct{})
	ollama.queue(reply{text: []string{"a"}, block: block})
	ctx, cancel := context.WithCancel(t.Context())
	st, err := s.r.Chat(ctx, llm.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Next(); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := st.Next(); !errors.Is(err, context.Canceled) {
		t.Errorf("after cancel: %v", err)
	}
	st.Close()
	if _, _, chats := lms.record(); len(chats) != 0 {
		t.Errorf("a cancelled answer was retried elsewhere: %v", chats)
	}
	s.r.mu.Lock()
	running, failures := len(s.r.running), s.r.track.failures
	s.r.mu.Unlock()
	if running != 0 || failures != 0 {
		t.Errorf("running %d, failures %d", running, failures)
	}
}

func TestPlan(t *testing.T) {
	c := newClock()
	ollama := newFake("ollama", c, chatModel("qwen2.5:14b", 14, 9), chatModel("llama3.2:3b", 3, 2))
	lms := newFake("lmstudio", c, chatModel("qwen/qwen3-8b", 8, 5))
	lms.preload("qwen/qwen3-8b")
	s := newSetup(t, 12, nil, ollama, lms)
	s.mustChat("qwen/qwen3-8b") // loaded already: preferred over loading the 14B, which does not fit beside it
	p := s.r.Plan(t.Context())
	if p.Active != "lmstudio:qwen/qwen3-8b" || len(p.Endpoints) != 2 || len(p.Pools) != 1 || len(p.Switches) != 1 {
		t.Fatalf("plan = %+v", p)
	}
	if pool := p.Pools[0]; pool.Used != 5*gib || pool.Free != 7*gib {
		t.Errorf("pool = %+v", pool)
	}
	js, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"active":"lmstudio:qwen/qwen3-8b"`, `"owned_by_mai":false`, `"model":"qwen/qwen3-8b"`, `"cause":"initial"`, `"fits":false`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("plan JSON lacks %s: %s", want, js)
		}
	}
	if n := len(p.Endpoints[0].Installed); n != 2 {
		t.Errorf("ollama installed = %d models", n)
	}
	if l := p.Endpoints[1].Loaded; len(l) != 1 || l[0].OwnedByMai || l[0].Bytes != 5*gib {
		t.Errorf("lmstudio loaded = %+v", l)
	}
	want := []string{"ollama:qwen2.5:14b false", "lmstudio:qwen/qwen3-8b true", "ollama:llama3.2:3b true"}
	var got []string
	for _, cp := range p.Candidates {
		got = append(got, fmt.Sprintf("%s %v", cp.Ref, cp.Fits))
	}
	if !slices.Equal(got, want) {
		t.Errorf("candidates = %v, want %v", got, want)
	}
	ollama.mu.Lock()
	ollama.down = true
	ollama.mu.Unlock()
	if p := s.r.Plan(t.Context()); p.Endpoints[0].Reachable || !strings.Contains(p.Endpoints[0].Error, "not reachable") {
		t.Errorf("down endpoint = %+v", p.Endpoints[0])
	}
}

func TestNewChecksPools(t *testing.T) {
	c := newClock()
	_, err := New(Config{Endpoints: []Endpoint{{Backend: newFake("ollama", c), Pool: "nope"}}})
	if err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown pool: %v", err)
	}
	if _, err := New(Config{}); err == nil {
		t.Error("no endpoints accepted")
	}
}
