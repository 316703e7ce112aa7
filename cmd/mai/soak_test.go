package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/discord/discordtest"
	"github.com/maicompanion/mai/internal/llm/ollama/ollamatest"
	"github.com/maicompanion/mai/internal/testenv"
)

// The soak: the real `mai serve` binary, as its own process, gets one DM
// every soakEvery for a while from the fake Discord, answers each with the
// real tiny Ollama model paced like a GPU, and lives through gateway drops
// and REST outages injected on a schedule. Every DM carries a marker; the
// model's own answer to it (as the proxy in front of Ollama saw it stream)
// must end up in exactly one message, finished with its footer.
const (
	// soakEvery is one DM every 2 s: Discord allows about 5 messages and 5
	// edits per 5 s in a channel, and each reply takes a send and two or
	// three edits, so faster would only measure the outbox's queue.
	soakEvery = 2 * time.Second
	// soakTokens and soakPace make an answer of about 1.4 s: longer than one
	// edit interval (1.2 s by default), so each reply is edited on the way,
	// and shorter than soakEvery, so the model keeps up with the DMs.
	soakTokens = 28
	soakPace   = 50 * time.Millisecond
	// soakSide bounds the answers that are not a DM's (see soakRequest).
	soakSide = 64
	// soakOutage is how long a REST outage lasts.
	soakOutage = 5 * time.Second
	// soakDefault is the duration without MAI_SOAK: short enough for make
	// test; `make soak` sets MAI_SOAK (10m, 2m in .ci/run).
	soakDefault = 30 * time.Second
	// soakRSSFrom is the shortest run whose RSS growth is judged: a shorter
	// one is mostly the daemon's warm-up.
	soakRSSFrom = time.Minute
)

// soakFigures is what one soak measured.
type soakFigures struct {
	Duration                      time.Duration
	DMs, Lost, Duplicated, Stray  int
	RateLimited                   int
	Drops, Outages, Resumes       int
	RSSFirstMB, RSSLastMB, RSSMax float64
	RSSGrowth                     float64 // %, last quarter's median over the first's, after warm-up
	ReplyP50, ReplyMax            time.Duration
	// ModelWait is a DM's chat request to Ollama's first line (prompt
	// evaluation on this CPU), ModelTake to its last, pacing included.
	ModelWaitP50, ModelWaitMax, ModelTakeP50, ModelTakeMax time.Duration
	// Reordered counts the DMs whose turn reached the model after a later
	// DM's: queued DMs answered out of the order they were sent.
	Reordered int
	Problems  []string // what lost or duplicated replies looked like
	Faults    []string // when each fault was injected
}

// soakDuration is MAI_SOAK (a Go duration), or soakDefault.
func soakDuration(tb testing.TB) time.Duration {
	v := os.Getenv("MAI_SOAK")
	if v == "" {
		return soakDefault
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 10*time.Second {
		tb.Fatalf("MAI_SOAK=%q: give a duration of at least 10s, e.g. MAI_SOAK=2m", v)
	}
	return d
}

// TestSoak fails when a soak of MAI_SOAK (default 30 s) loses or
// duplicates a reply, meets a 429, or — in a run of a minute or more —
// grows the daemon's resident memory by 10 % or more.
func TestSoak(t *testing.T) {
	testenv.Short(t, "runs mai serve under load for MAI_SOAK (default 30s)")
	f := runSoak(t, benchBinary(t), soakDuration(t))
	f.log(t)
	f.check(t)
}

// BenchmarkSoak is the soak as a row of the bench table (`make soak`,
// MAI_SOAK=10m; `make bench` skips it). b.N is ignored: the soak runs once.
// Its goals are counts, not timings, and benchtable fails the run when
// they are missed (the manifest marks the row Strict).
func BenchmarkSoak(b *testing.B) {
	f := runSoak(b, benchBinary(b), soakDuration(b))
	f.log(b)
	b.ReportMetric(f.Duration.Minutes(), "minutes")
	b.ReportMetric(float64(f.DMs), "dms")
	b.ReportMetric(float64(f.Lost), "lost")
	b.ReportMetric(float64(f.Duplicated+f.Stray), "duplicated")
	b.ReportMetric(float64(f.RateLimited), "429s")
	b.ReportMetric(float64(f.Reordered), "out-of-order")
	b.ReportMetric(f.RSSGrowth, "rss-growth-%")
	b.ReportMetric(f.RSSMax, "rss-max-MB")
	b.ReportMetric(float64(f.ReplyP50.Milliseconds()), "reply-p50-ms")
	b.ReportMetric(float64(f.ReplyMax.Milliseconds()), "reply-max-ms")
}

func (f soakFigures) log(tb testing.TB) {
	tb.Helper()
	tb.Logf("soak %v: %d DMs, %d lost, %d duplicated, %d stray replies, %d × 429, %d answered out of order; %d gateway drops (%d resumes), %d REST outages; "+
		"RSS %.1f → %.1f MB (%+.1f %%, max %.1f MB); reply p50 %v, max %v; model first line p50 %v, max %v, whole answer p50 %v, max %v",
		f.Duration, f.DMs, f.Lost, f.Duplicated, f.Stray, f.RateLimited, f.Reordered, f.Drops, f.Resumes, f.Outages,
		f.RSSFirstMB, f.RSSLastMB, f.RSSGrowth, f.RSSMax, f.ReplyP50.Round(time.Millisecond), f.ReplyMax.Round(time.Millisecond),
		f.ModelWaitP50.Round(time.Millisecond), f.ModelWaitMax.Round(time.Millisecond), f.ModelTakeP50.Round(time.Millisecond), f.ModelTakeMax.Round(time.Millisecond))
	tb.Logf("faults: %s", strings.Join(f.Faults, "; "))
	for _, p := range f.Problems {
		tb.Log(p)
	}
}

// check fails tb on a missed goal.
func (f soakFigures) check(tb testing.TB) {
	tb.Helper()
	if f.Lost != 0 || f.Duplicated != 0 || f.Stray != 0 || f.RateLimited != 0 {
		tb.Errorf("soak: %d lost, %d duplicated, %d stray replies, %d × 429; want none", f.Lost, f.Duplicated, f.Stray, f.RateLimited)
	}
	if f.Duration >= soakRSSFrom && f.RSSGrowth >= 10 {
		tb.Errorf("soak: resident memory grew %.1f %% (%.1f → %.1f MB); want < 10 %%", f.RSSGrowth, f.RSSFirstMB, f.RSSLastMB)
	}
}

// soakMarker finds a DM's marker in the text the model was sent.
var soakMarker = regexp.MustCompile(`soak-\d{5}`)

// soakModel is a proxy in front of the real Ollama that answers like a
// chat model on a GPU: each streamed line is held back soakPace, and an
// answer ends after soakTokens tokens (the tiny test model never ends one
// by itself; the request's num_predict is set when mai set none). For each
// chat request it records the marker of the DM it answers (in its last
// user message) and the text the model streamed: what the reply must show.
type soakModel struct {
	URL string

	mu      sync.Mutex
	answers map[string][]string // marker → each answer streamed to the end
	asked   map[string]int      // marker → chat requests
	waits   []time.Duration     // each DM's chat request: arrival to Ollama's first line
	takes   []time.Duration     // … to its last line, pacing included
	log     []string            // each chat request: when, for which DM, how long
	turns   []string            // the markers of the DMs' turns, in the order they reached the model
}

func newSoakModel(tb testing.TB, target string) *soakModel {
	m := &soakModel{answers: map[string][]string{}, asked: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(m.serve(target)))
	tb.Cleanup(srv.Close)
	m.URL = srv.URL
	return m
}

func (m *soakModel) serve(target string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		arrived := time.Now()
		body, _ := io.ReadAll(r.Body)
		marker := ""
		if r.URL.Path == "/api/chat" {
			body, marker = soakRequest(body)
			if marker != "" {
				m.mu.Lock()
				m.asked[marker]++
				m.turns = append(m.turns, marker)
				m.mu.Unlock()
			}
		}
		out, err := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		out.Header = r.Header.Clone()
		out.Header.Del("Content-Length")
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		var first time.Duration
		done, evalInfo := false, ""
		if r.URL.Path == "/api/chat" {
			defer func() {
				m.mu.Lock()
				m.log = append(m.log, fmt.Sprintf("%s chat %q: %d messages, status %d, first line %v, end %v, done %v", arrived.Format("15:04:05.000"), marker,
					soakMessages(body), resp.StatusCode, first.Round(time.Millisecond), time.Since(arrived).Round(time.Millisecond), done)+evalInfo)
				m.mu.Unlock()
			}()
		}
		fl, _ := w.(http.Flusher)
		rd := bufio.NewReader(resp.Body)
		var answer strings.Builder
		for {
			line, err := rd.ReadBytes('\n')
			if len(line) > 0 && r.URL.Path == "/api/chat" {
				var l struct {
					Message    struct{ Content string } `json:"message"`
					Done       bool                     `json:"done"`
					PromptEval int                      `json:"prompt_eval_count"`
					PromptDur  time.Duration            `json:"prompt_eval_duration"`
				}
				if first == 0 {
					first = time.Since(arrived)
				}
				if json.Unmarshal(line, &l) == nil {
					answer.WriteString(l.Message.Content)
					if !l.Done {
						time.Sleep(soakPace)
					} else if marker != "" {
						m.mu.Lock()
						m.answers[marker] = append(m.answers[marker], answer.String())
						m.waits, m.takes = append(m.waits, first), append(m.takes, time.Since(arrived))
						m.mu.Unlock()
					}
					done = done || l.Done
					if l.Done {
						evalInfo = fmt.Sprintf(", prompt %d tokens in %v", l.PromptEval, l.PromptDur.Round(time.Millisecond))
					}
				}
			}
			if len(line) > 0 {
				if _, werr := w.Write(line); werr != nil {
					return
				}
				if fl != nil {
					fl.Flush()
				}
			}
			if err != nil {
				return
			}
		}
	}
}

// soakRequest bounds a chat request's answer and returns it with the
// marker of the DM it answers: "" for another request, such as the summary
// that folds old turns when the context fills. A DM's turn has the DM as its
// last message's last paragraph (after any recalled memories), which
// starts with the marker; it gets num_predict
// soakTokens when mai set none. Any other request keeps mai's num_predict
// up to soakSide: the tiny model never ends an answer by itself, so a
// summary would always fill its cap (409 tokens, 20 s at soakPace, while
// the DMs wait), where a real model writes a few sentences.
func soakRequest(body []byte) ([]byte, string) {
	var req map[string]any
	if json.Unmarshal(body, &req) != nil {
		return body, ""
	}
	marker := ""
	if msgs, _ := req["messages"].([]any); len(msgs) > 0 {
		if msg, _ := msgs[len(msgs)-1].(map[string]any); msg["role"] == "user" {
			content, _ := msg["content"].(string)
			// Memories recalled for the DM come before it, a blank line
			// between; the DM itself is one line.
			if i := strings.LastIndex(content, "\n\n"); i >= 0 {
				content = content[i+2:]
			}
			marker = soakMarker.FindString(content)
			if !strings.HasPrefix(strings.TrimSpace(content), marker) {
				marker = ""
			}
		}
	}
	opts, _ := req["options"].(map[string]any)
	if opts == nil {
		opts = map[string]any{}
	}
	n, set := opts["num_predict"].(float64)
	switch {
	case marker != "" && !set:
		opts["num_predict"] = soakTokens
	case marker == "" && (!set || n <= 0 || n > soakSide):
		opts["num_predict"] = soakSide
	}
	req["options"] = opts
	out, err := json.Marshal(req)
	if err != nil {
		return body, marker
	}
	return out, marker
}

// soakMessages counts a chat request's messages.
func soakMessages(body []byte) int {
	var req struct{ Messages []json.RawMessage }
	json.Unmarshal(body, &req)
	return len(req.Messages)
}

// answersByMarker returns each marker's answers and its number of requests.
func (m *soakModel) snapshot() (map[string][]string, map[string]int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	answers := make(map[string][]string, len(m.answers))
	for k, v := range m.answers {
		answers[k] = slices.Clone(v)
	}
	asked := make(map[string]int, len(m.asked))
	for k, v := range m.asked {
		asked[k] = v
	}
	return answers, asked
}

// soakText is the answer part of a reply's content (the lines that are
// not notes or the footer), with white space normalised: the tiny model
// never emits a newline, so its answer is one line.
func soakText(content string) string {
	var kept []string
	for _, l := range strings.Split(content, "\n") {
		if !strings.HasPrefix(l, "-# ") {
			kept = append(kept, l)
		}
	}
	return strings.Join(strings.Fields(strings.Join(kept, " ")), " ")
}

// soakFinished reports whether a reply's content ends with its footer,
// which the bot adds only once the answer is done.
func soakFinished(content string) bool {
	lines := strings.Split(content, "\n")
	last := lines[len(lines)-1]
	return strings.HasPrefix(last, "-# ") && strings.Contains(last, ollamatest.ChatModel)
}

// rssSampler reads a process's resident memory every second.
type rssSampler struct {
	mu      sync.Mutex
	samples []float64
	stop    chan struct{}
	done    chan struct{}
}

func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				if mb, err := rssMB(pid); err == nil {
					s.mu.Lock()
					s.samples = append(s.samples, mb)
					s.mu.Unlock()
				}
			}
		}
	}()
	return s
}

func (s *rssSampler) finish() []float64 {
	close(s.stop)
	<-s.done
	return s.samples
}

// rssGrowth compares the median of the last quarter of the samples taken
// after the warm-up (the first fifth of the run, at least 15 s) with the
// median of their first quarter, in %.
func rssGrowth(samples []float64, run time.Duration) (first, last, growth float64) {
	warm := int(max(run/5, 15*time.Second) / time.Second)
	if warm >= len(samples)-4 {
		warm = len(samples) / 2
	}
	s := samples[warm:]
	if len(s) < 4 {
		return 0, 0, 0
	}
	q := len(s) / 4
	med := func(v []float64) float64 {
		v = slices.Clone(v)
		slices.Sort(v)
		return v[len(v)/2]
	}
	first, last = med(s[:q]), med(s[len(s)-q:])
	return first, last, (last - first) / first * 100
}

// soakServe starts bin as `mai serve` over the fake Discord and the model
// proxy, with the sandbox off (no Docker socket): the soak is about chat.
func soakServe(tb testing.TB, bin string, fake *discordtest.Server, model *soakModel) (*exec.Cmd, *bytes.Buffer, string) {
	tb.Helper()
	dir := tb.TempDir()
	data := filepath.Join(dir, "data")
	env := map[string]string{
		"HOME": dir, "PATH": os.Getenv("PATH"), "XDG_RUNTIME_DIR": dir,
		"MAI_DATA_DIR":       data,
		"OLLAMA_ENDPOINT":    model.URL,
		"LMSTUDIO_ENDPOINT":  "http://127.0.0.1:9",
		"GPU_VRAM_AVAILABLE": "4",
		"MAI_MODELS":         "ollama:" + ollamatest.ChatModel,
		// Facts would be a second model call every few DMs, not a reply.
		"MAI_FACTS_EVERY":   "0",
		"DOCKER_HOST":       "unix://" + filepath.Join(dir, "no-docker.sock"),
		"DISCORD_BOT_TOKEN": discordtest.Token, "DISCORD_USER_ID": discordOwner, "DISCORD_API_URL": fake.URL,
	}
	cmd := exec.Command(bin, "serve")
	cmd.Dir, cmd.Env = dir, envList(env)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, &out, data
}

// soakFault is one injected failure.
type soakFault int

const (
	faultDrop   soakFault = iota // the gateway connection is cut
	faultOutage                  // REST fails for soakOutage
	faultBoth                    // REST fails and the gateway is cut at its start
)

// runSoak runs the soak for d with the mai binary bin and returns its figures.
func runSoak(tb testing.TB, bin string, d time.Duration) soakFigures {
	tb.Helper()
	if _, err := os.Stat("/proc/self/status"); err != nil {
		testenv.Missing(tb, "/proc", err.Error(), "run the soak on Linux, where resident memory is read from /proc")
	}
	ollama := ollamatest.Start(tb)
	model := newSoakModel(tb, ollama.URL())
	fake := discordtest.New(discordtest.Options{})
	tb.Cleanup(fake.Close)
	cmd, out, data := soakServe(tb, bin, fake, model)
	dump := func() {
		tb.Logf("mai serve:\n%s", out)
		if b, err := os.ReadFile(filepath.Join(data, ".logs", "mai.log")); err == nil {
			tb.Logf("mai.log (last 8 KB):\n%s", b[max(0, len(b)-8192):])
		}
	}
	for deadline := time.Now().Add(time.Minute); !fake.Connected(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			dump()
			tb.Fatal("mai serve did not connect to the fake Discord in a minute")
		}
	}
	ch := fake.DMChannel(discordOwner)
	rss := sampleRSS(cmd.Process.Pid)
	f := soakFigures{Duration: d}

	// Faults every period, cycling drop → outage → both, each over before
	// the last DM so the run ends clean.
	period := min(max(d/4, 5*time.Second), 20*time.Second)
	start := time.Now()
	sent := map[string]time.Time{}
	var order []string
	tick := time.NewTicker(soakEvery)
	defer tick.Stop()
	nextFault, kind := start.Add(period), faultDrop
	var restore time.Time
	for i := 1; ; i++ {
		marker := fmt.Sprintf("soak-%05d", i)
		sent[marker] = time.Now()
		order = append(order, marker)
		fake.SendDM(discordOwner, marker+": tell me something about your day")
		if time.Since(start)+soakEvery > d {
			break
		}
		now := <-tick.C
		if !restore.IsZero() && !now.Before(restore) {
			fake.SetDown(false)
			restore = time.Time{}
		}
		if now.After(nextFault) && now.Add(soakOutage+soakEvery).Before(start.Add(d)) {
			switch kind {
			case faultDrop:
				fake.DropGateway()
				f.Drops++
				f.Faults = append(f.Faults, now.Format("15:04:05")+" gateway drop")
			case faultOutage, faultBoth:
				fake.SetDown(true)
				restore = now.Add(soakOutage)
				f.Outages++
				what := " REST outage"
				if kind == faultBoth {
					fake.DropGateway()
					f.Drops++
					what += " and gateway drop"
				}
				f.Faults = append(f.Faults, now.Format("15:04:05")+what)
			}
			nextFault, kind = nextFault.Add(period), (kind+1)%3
		}
	}
	if !restore.IsZero() {
		time.Sleep(time.Until(restore))
		fake.SetDown(false)
	}
	f.DMs = len(order)
	samples := rss.finish()
	f.RSSFirstMB, f.RSSLastMB, f.RSSGrowth = rssGrowth(samples, d)
	for _, s := range samples {
		f.RSSMax = max(f.RSSMax, s)
	}

	// The outbox drains: wait until every DM's answer shows finished and
	// Discord has heard nothing more for a few seconds. On a CPU the model
	// falls behind the DMs (see runSoak's log; the owner's DMs are answered
	// one at a time), so the wait goes on while answers keep finishing —
	// a slow reply shows in reply-max-ms, a lost one never finishes — up
	// to as long as the run again, at least two minutes.
	finished := func() (n int) {
		answers, _ := model.snapshot()
		done := map[string]bool{}
		for _, m := range fake.BotMessages(ch) {
			if soakFinished(m.Content) {
				done[soakText(m.Content)] = true
			}
		}
		for _, mk := range order {
			if a := answers[mk]; len(a) > 0 && done[strings.Join(strings.Fields(a[len(a)-1]), " ")] {
				n++
			}
		}
		return n
	}
	quiet := func() bool {
		calls := fake.Calls()
		return len(calls) == 0 || time.Since(calls[len(calls)-1].At) > 3*time.Second
	}
	deadline := time.Now().Add(max(2*time.Minute, d))
	for last, progress := -1, time.Now(); time.Now().Before(deadline) && time.Since(progress) < time.Minute; time.Sleep(250 * time.Millisecond) {
		n := finished()
		if n == len(order) && quiet() {
			break
		}
		if n != last {
			last, progress = n, time.Now()
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			dump()
			tb.Fatalf("mai serve did not stop cleanly on SIGTERM: %v", err)
		}
	case <-time.After(time.Minute):
		dump()
		tb.Fatal("mai serve did not stop within a minute of SIGTERM")
	}

	f.RateLimited, f.Resumes = fake.RateLimited(), fake.Resumes()
	f.count(model, fake, ch, order, sent)
	if f.Lost+f.Duplicated+f.Stray+f.RateLimited > 0 {
		dump()
	}
	return f
}

// count judges every DM by the messages Discord holds at the end, and
// measures reply latency from the calls that carried the finished text.
func (f *soakFigures) count(model *soakModel, fake *discordtest.Server, ch string, order []string, sent map[string]time.Time) {
	answers, asked := model.snapshot()
	byText := map[string]string{} // an answer's text → its marker
	for mk, as := range answers {
		for _, a := range as {
			byText[strings.Join(strings.Fields(a), " ")] = mk
		}
	}
	shown := map[string]int{} // marker → finished messages that show its answer
	for _, m := range fake.BotMessages(ch) {
		if !soakFinished(m.Content) {
			continue
		}
		if mk, ok := byText[soakText(m.Content)]; ok {
			shown[mk]++
		} else {
			f.Stray++
			f.Problems = append(f.Problems, fmt.Sprintf("a finished reply that answers no DM: %q", m.Content))
		}
	}
	finishedAt := map[string]time.Time{}
	calls := fake.Calls()
	for i, c := range calls {
		if c.Status == http.StatusTooManyRequests {
			var before []string
			for _, p := range calls[max(0, i-6):i] {
				before = append(before, fmt.Sprintf("%s %s %d", p.At.Format("15:04:05.000"), p.Route, p.Status))
			}
			f.Problems = append(f.Problems, fmt.Sprintf("429 at %s on %s; the calls before: %s", c.At.Format("15:04:05.000"), c.Route, strings.Join(before, ", ")))
		}
	}
	for _, c := range calls {
		if c.Status != http.StatusOK || (c.Route != "POST /channels/{id}/messages" && c.Route != "PATCH /channels/{id}/messages/{m}") {
			continue
		}
		var body struct{ Content string }
		if json.Unmarshal(c.Body, &body) != nil || !soakFinished(body.Content) {
			continue
		}
		if mk, ok := byText[soakText(body.Content)]; ok {
			if at, seen := finishedAt[mk]; !seen || c.At.Before(at) {
				finishedAt[mk] = c.At
			}
		}
	}
	var lat []time.Duration
	for _, mk := range order {
		switch {
		case shown[mk] == 0:
			f.Lost++
			f.Problems = append(f.Problems, fmt.Sprintf("%s: no finished reply (model asked %d times, answered %d)", mk, asked[mk], len(answers[mk])))
		case shown[mk] > 1 || asked[mk] > 1:
			f.Duplicated++
			f.Problems = append(f.Problems, fmt.Sprintf("%s: %d finished messages, model asked %d times", mk, shown[mk], asked[mk]))
		}
		if at, ok := finishedAt[mk]; ok {
			lat = append(lat, at.Sub(sent[mk]))
		}
	}
	f.ReplyP50, f.ReplyMax = p50max(lat)
	model.mu.Lock()
	latest := ""
	for _, mk := range model.turns {
		if mk < latest { // the markers' numbers are zero-padded
			f.Reordered++
		}
		latest = max(latest, mk)
	}
	if len(f.Problems) > 0 || os.Getenv("MAI_SOAK_LOG") == "1" {
		for _, l := range model.log {
			f.Problems = append(f.Problems, "model: "+l)
		}
	}
	f.ModelWaitP50, f.ModelWaitMax = p50max(model.waits)
	f.ModelTakeP50, f.ModelTakeMax = p50max(model.takes)
	model.mu.Unlock()
}

// p50max returns the median and the largest of ds (zero for none).
func p50max(ds []time.Duration) (time.Duration, time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2], s[len(s)-1]
}

// The soak's judge, on a channel written by hand: one DM answered once
// (after a "queued" note), one answered in two messages, one whose reply
// never got its footer, and a finished reply to no DM.
func TestSoakCount(t *testing.T) {
	fake := discordtest.New(discordtest.Options{})
	t.Cleanup(fake.Close)
	ch := fake.DMChannel(discordOwner)
	footer := "\n-# " + ollamatest.ChatModel + " · 20.0 tok/s"
	for _, content := range []string{
		"-# queued: Mai answers this after the current answer\nhello  world" + footer,
		"the model" + footer,
		"the model" + footer,
		"Mai token",
		"you and the token" + footer,
	} {
		body := strings.NewReader(fmt.Sprintf(`{"content": %q}`, content))
		req, _ := http.NewRequest(http.MethodPost, fake.URL+"/channels/"+ch+"/messages", body)
		req.Header.Set("Authorization", "Bot "+discordtest.Token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("post %q: %v %v", content, resp, err)
		}
		resp.Body.Close()
	}
	model := &soakModel{
		answers: map[string][]string{"soak-00001": {" hello world"}, "soak-00002": {"the model"}, "soak-00003": {"Mai token"}},
		asked:   map[string]int{"soak-00001": 1, "soak-00002": 1, "soak-00003": 1},
	}
	now := time.Now()
	var f soakFigures
	f.count(model, fake, ch, []string{"soak-00001", "soak-00002", "soak-00003"}, map[string]time.Time{"soak-00001": now, "soak-00002": now, "soak-00003": now})
	if f.Lost != 1 || f.Duplicated != 1 || f.Stray != 1 {
		t.Errorf("lost %d, duplicated %d, stray %d; want 1, 1, 1 (%q)", f.Lost, f.Duplicated, f.Stray, f.Problems)
	}
}
