package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/moby/moby/client"

	"github.com/maicompanion/mai/internal/chat/chattest"
	"github.com/maicompanion/mai/internal/discord"
	"github.com/maicompanion/mai/internal/discord/discordtest"
	"github.com/maicompanion/mai/internal/llm/ollama/ollamatest"
	"github.com/maicompanion/mai/internal/memory"
	"github.com/maicompanion/mai/internal/sandbox"
	"github.com/maicompanion/mai/internal/store"
	"github.com/maicompanion/mai/internal/testenv"
)

// The whole product as its owner runs it: the mai binary built from this
// package, `mai serve` as a separate process over the real Docker engine,
// the real Ollama with a tiny model (behind a proxy that records what Mai
// sends and paces the answer like a GPU) and the fake Discord, in one
// scenario across two restarts, one of them a crash:
//
//	a DM gets a streamed reply that ends as the answer Mai stored;
//	/run of HIGH-risk code asks for approval, the owner's 👍 runs it;
//	mai selfmod propose (another process) is approved in Discord and
//	committed with every trailer;
//	a fact told before a restart is in the context sent to the model after;
//	an answer interrupted by kill -9 is finished after the restart, in the
//	same Discord message, once;
//	mai audit verify passes, and nothing is left behind: no container or
//	volume of these processes, no extra worktree, no temporary file.
func TestSystem(t *testing.T) {
	testenv.Short(t, "runs the whole product: mai serve three times with the real Docker sandbox and Ollama")
	sys := newSystem(t)
	ch := sys.fake.DMChannel(discordOwner)

	// Daemon 1.
	d := sys.serve()

	// a. A DM gets a streamed reply; its final text is the stored answer.
	sys.proxy.SetPace(60 * time.Millisecond)
	sys.answered(sys.fake.SendDM(discordOwner, "tell me about tortoises"))
	answer := sys.lastAnswer()
	if answer.Model != sys.model || answer.Tokens < 15 {
		t.Fatalf("answer by %q with %d tokens; the test needs a long enough answer of the real model", answer.Model, answer.Tokens)
	}
	reply := sys.onlyMessageWith(ch, answer.Content)
	if !sys.finalText(reply.Content, answer.Content) {
		t.Errorf("Discord shows %q\nthe stored answer is %q", reply.Content, answer.Content)
	}
	if n := sys.edits(reply.ID); n < 3 {
		t.Errorf("%d edits of a paced answer of %d tokens, want at least 3", n, answer.Tokens)
	}
	sys.proxy.SetPace(0)

	// b. /run of HIGH-risk code: an approval embed; the owner's 👍 runs it
	// in the sandbox and the result comes back in the DM.
	run := sys.fake.SendDM(discordOwner, highRun)
	runEmbed := approvalEmbed(t, sys.fake, ch, 1)
	sys.fake.React(discordOwner, ch, runEmbed, discord.EmojiApprove)
	ran := replyContaining(t, sys.fake, ch, "ran python: exit 0")
	if !strings.Contains(ran, "```\nran-after-approval\n```") {
		t.Errorf("the program's output is not in the reply: %q", ran)
	}
	m := regexp.MustCompile(`approval request (\w+)`).FindStringSubmatch(ran)
	if m == nil {
		t.Fatalf("the reply does not name the approval request: %q", ran)
	}
	runReq := m[1]
	sys.answered(run)

	// c. A persona change proposed with the CLI, beside the daemon: a
	// self-modification embed; 👍 commits it with every trailer.
	writeFile(t, sys.dir, "warm.md", "You are Mai, and warm.\n")
	prop, propOut := sys.start("selfmod", "propose", "--repo", "workspace", "--message", "a warmer persona", "warm.md:persona.md")
	var changeEmbed string
	waitLong(t, "the self-modification embed", func() bool {
		for _, m := range sys.fake.BotMessages(ch) {
			if m.ID != runEmbed && len(m.Embeds) == 1 && len(m.Reactions) == 2 {
				changeEmbed = m.ID
			}
		}
		return changeEmbed != ""
	})
	sys.fake.React(discordOwner, ch, changeEmbed, discord.EmojiApprove)
	if err := waitExit(prop, 2*time.Minute); err != nil || !strings.Contains(propOut.String(), "committed ") {
		t.Fatalf("mai selfmod propose: %v\n%s", err, propOut)
	}
	req := regexp.MustCompile(`waits for approval request (\S+):`).FindStringSubmatch(propOut.String())
	if req == nil {
		t.Fatalf("no approval request in:\n%s", propOut)
	}
	sys.checkCommit(req[1])

	// d, first half: the owner tells a fact.
	sys.answered(sys.fake.SendDM(discordOwner, "/remember my passport is in the blue drawer"))
	replyContaining(t, sys.fake, ch, "remembered (fact ")
	stopWith(t, d.cmd, d.out, syscall.SIGTERM, 90*time.Second)
	waitFor(t, func() bool { return !sys.fake.Connected() })

	// Daemon 2, over a slow model.
	sys.proxy.SetPace(150 * time.Millisecond)
	d = sys.serve()
	before := len(sys.proxy.Chats())
	seen := map[string]bool{}
	for _, m := range sys.fake.BotMessages(ch) {
		seen[m.ID] = true
	}
	const question = "where is my passport?"
	questionDM := sys.fake.SendDM(discordOwner, question)

	// d. The fact, told before the restart, is in the context sent to the
	// model — in the system prompt, where what Mai knows goes — and so is
	// the persona committed in c.
	var system string
	waitLong(t, "the question at the model", func() bool {
		for _, body := range sys.proxy.Chats()[before:] {
			if s, ok := systemPromptFor(t, body, question); ok {
				system = s
				return true
			}
		}
		return false
	})
	for _, want := range []string{"passport is in the blue drawer", "You are Mai, and warm."} {
		if !strings.Contains(system, want) {
			t.Errorf("the system prompt sent after the restart lacks %q:\n%s", want, system)
		}
	}

	// e. kill -9 while the answer streams into Discord.
	var partial discordgo.Message
	waitLong(t, "a partly streamed answer", func() bool {
		for _, m := range sys.fake.BotMessages(ch) {
			if !seen[m.ID] && m.Content != "" && m.EditedTimestamp != nil {
				partial = m
				return true
			}
		}
		return false
	})
	if err := d.cmd.Process.Kill(); err != nil { // SIGKILL: no cleanup at all
		t.Fatal(err)
	}
	d.cmd.Wait()
	if sys.unfinishedReplies() == 0 {
		t.Fatal("the answer was finished before the kill; the test needs it interrupted (a slower pace)")
	}
	waitFor(t, func() bool { return !sys.fake.Connected() })

	// Daemon 3 finishes the answer in the same message, exactly once.
	sys.proxy.SetPace(0)
	d = sys.serve()
	sys.answered(questionDM)
	answer = sys.lastAnswer()
	if got := sys.onlyMessageWith(ch, answer.Content); got.ID != partial.ID || !sys.finalText(got.Content, "-# ↻ regenerated after a restart\n"+answer.Content) {
		t.Errorf("after the restart message %s shows %q; want the interrupted message %s finished with the stored answer %q", got.ID, got.Content, partial.ID, answer.Content)
	}
	for _, m := range sys.fake.BotMessages(ch) {
		if m.ID != partial.ID && strings.Contains(m.Content, "regenerated") {
			t.Errorf("a second message %s with the regenerated answer: %q", m.ID, m.Content)
		}
	}
	if asked, answered := sys.turnsAfter(question); asked != 1 || answered != 1 {
		t.Errorf("memory holds the question %d times and %d answers to it; want each once", asked, answered)
	}
	stopWith(t, d.cmd, d.out, syscall.SIGTERM, 90*time.Second)

	// f. The audit log verifies.
	if r := sys.run("audit", "verify"); r.code != 0 {
		t.Errorf("mai audit verify: %+v", r)
	}
	// It holds what happened, in order: who asked, who approved, what ran.
	owner := "discord:" + discordOwner
	sys.auditShows("mai approval.request "+runReq, owner+" approval.approve "+runReq, "mai sandbox.run "+runReq,
		"local approval.request "+req[1], owner+" approval.approve "+req[1], owner+" selfmod.commit "+req[1])

	// g. Nothing left behind.
	sys.nothingLeft()

	// And all along Mai kept to Discord's rate limits and kept the bot
	// token out of its log.
	if n := sys.fake.RateLimited(); n != 0 {
		var limited []string
		for _, c := range sys.fake.Calls() {
			if c.Status == 429 {
				limited = append(limited, c.At.Format("15:04:05.000")+" "+c.Route)
			}
		}
		t.Errorf("Discord answered %d requests with 429: %q", n, limited)
	}
	if b, err := os.ReadFile(filepath.Join(sys.data, ".logs", "mai.log")); err != nil || bytes.Contains(b, []byte(discordtest.Token)) {
		t.Errorf("the log is unreadable (%v) or holds the bot token", err)
	}
}

// system is one data directory, its environment, and every mai process the
// scenario started.
type system struct {
	t      *testing.T
	bin    string // the mai binary
	dir    string // the working directory and HOME
	data   string // MAI_DATA_DIR
	tmp    string // TMPDIR of every mai process
	env    map[string]string
	model  string // the chat model's Ollama name
	proxy  *chattest.Proxy
	fake   *discordtest.Server
	pids   []int // of every mai process started
	serves int
}

// serveProc is one `mai serve` process.
type serveProc struct {
	cmd *exec.Cmd
	out *bytes.Buffer
}

func newSystem(t *testing.T) *system {
	t.Helper()
	sbEnv, _ := sandboxEnv(t)
	srv := ollamatest.Start(t)
	sys := &system{t: t, bin: benchBinary(t), dir: t.TempDir(), model: answeringModel(t, srv)}
	sys.proxy = chattest.NewProxy(t, srv.URL(), 0)
	sys.fake = discordtest.New(discordtest.Options{})
	t.Cleanup(sys.fake.Close)
	sys.env = chatEnv(sys.dir, sys.proxy)
	for k, v := range sbEnv {
		sys.env[k] = v
	}
	sys.data, sys.tmp = sys.env["MAI_DATA_DIR"], filepath.Join(sys.dir, "tmp")
	if err := os.Mkdir(sys.tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	e := sys.env
	e["MAI_MODELS"], e["TMPDIR"] = "ollama:"+sys.model, sys.tmp
	e["DISCORD_BOT_TOKEN"], e["DISCORD_USER_ID"], e["DISCORD_API_URL"] = discordtest.Token, discordOwner, sys.fake.URL
	e["DISCORD_EDIT_INTERVAL"] = "300ms"
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		e["DOCKER_HOST"] = h
	}
	return sys
}

// answeringModel registers, on srv, the tiny chat model with an answer
// length of its own, so that Mai's answers end as a real model's do (the
// tiny model never ends one by itself); it returns its name.
func answeringModel(t *testing.T, srv *ollamatest.Server) string {
	t.Helper()
	const name = "mai-tiny-answer:latest"
	mf := filepath.Join(t.TempDir(), "Modelfile")
	if err := os.WriteFile(mf, []byte("FROM "+ollamatest.ChatModel+"\nPARAMETER num_predict 48\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := srv.Run(ctx, "create", name, "-f", mf); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return name
}

// start runs the mai binary with args in the background.
func (s *system) start(args ...string) (*exec.Cmd, *bytes.Buffer) {
	s.t.Helper()
	cmd, out := startMai(s.t, s.bin, s.dir, envList(s.env), args...)
	s.pids = append(s.pids, cmd.Process.Pid)
	return cmd, out
}

// run runs the mai binary with args and waits for it.
func (s *system) run(args ...string) result {
	s.t.Helper()
	return execMai(s.t, s.bin, s.dir, envList(s.env), "", args...)
}

// serve starts `mai serve` and waits until it is on Discord.
func (s *system) serve() serveProc {
	s.t.Helper()
	s.serves++
	cmd, out := s.start("serve")
	n := s.serves
	s.t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
		if s.t.Failed() {
			s.t.Logf("mai serve #%d:\n%s", n, out)
		}
	})
	if n == 1 {
		s.t.Cleanup(func() {
			if b, err := os.ReadFile(filepath.Join(s.data, ".logs", "mai.log")); err == nil && s.t.Failed() {
				s.t.Logf("mai.log:\n%s", b)
			}
		})
	}
	waitLong(s.t, "mai serve on Discord", s.fake.Connected)
	return serveProc{cmd, out}
}

// db opens the database read-only for one look; the caller closes it.
func (s *system) db() *store.DB {
	s.t.Helper()
	db, err := store.OpenReadOnly(context.Background(), filepath.Join(s.data, "mai.db"), store.Options{})
	if err != nil {
		s.t.Fatal(err)
	}
	return db
}

// answered waits until the reply to the owner's DM is finished, and every
// reply and message is delivered.
func (s *system) answered(dm *discordgo.Message) {
	s.t.Helper()
	db := s.db()
	defer db.Close()
	waitLong(s.t, "the reply to "+dm.Content, func() bool {
		var replied, open, pending int
		db.QueryRow(`SELECT count(*) FROM discord_replies WHERE dm_id = ? AND done = 1`, dm.ID).Scan(&replied)
		db.QueryRow(`SELECT count(*) FROM discord_replies WHERE done = 0`).Scan(&open)
		db.QueryRow(`SELECT count(*) FROM discord_outbox WHERE state = 'pending'`).Scan(&pending)
		return replied == 1 && open == 0 && pending == 0
	})
}

// unfinishedReplies counts the Discord replies not finished.
func (s *system) unfinishedReplies() int {
	s.t.Helper()
	db := s.db()
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM discord_replies WHERE done = 0`).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

// messages returns the owner's latest conversation as memory holds it.
func (s *system) messages() []memory.Message {
	s.t.Helper()
	db := s.db()
	defer db.Close()
	mem := memory.New(db, memory.Options{})
	ctx := context.Background()
	conv, err := mem.LatestConversation(ctx, discordOwner)
	if err != nil {
		s.t.Fatal(err)
	}
	ms, err := mem.Messages(ctx, conv.ID, 0, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	return ms
}

// lastAnswer is the last answer stored for the owner.
func (s *system) lastAnswer() memory.Message {
	s.t.Helper()
	ms := s.messages()
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Role == memory.RoleAssistant {
			return ms[i]
		}
	}
	s.t.Fatal("no answer stored")
	return memory.Message{}
}

// turnsAfter counts the owner's messages that are text, and the answers
// that follow the first of them.
func (s *system) turnsAfter(text string) (asked, answered int) {
	for _, m := range s.messages() {
		switch {
		case m.Role == memory.RoleUser && m.Content == text:
			asked++
		case m.Role == memory.RoleAssistant && asked > 0:
			answered++
		}
	}
	return asked, answered
}

// onlyMessageWith returns the one bot message in ch that contains text.
func (s *system) onlyMessageWith(ch, text string) discordgo.Message {
	s.t.Helper()
	var found []discordgo.Message
	for _, m := range s.fake.BotMessages(ch) {
		if strings.Contains(m.Content, text) {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		s.t.Fatalf("%d bot messages contain %q, want 1", len(found), text)
	}
	return found[0]
}

// finalText reports whether content is body and then the footer line,
// which names the model.
func (s *system) finalText(content, body string) bool {
	footer, ok := strings.CutPrefix(content, body+"\n-# "+s.model+" · ")
	return ok && !strings.Contains(footer, "\n")
}

// edits counts the edits of message id Discord received.
func (s *system) edits(id string) int {
	n := 0
	for _, c := range s.fake.Calls() {
		if c.Route == "PATCH /channels/{id}/messages/{m}" && strings.HasSuffix(c.Path, "/"+id) {
			n++
		}
	}
	return n
}

// checkCommit checks the workspace's last commit: the persona change,
// approved by the owner in Discord through request, with every trailer.
func (s *system) checkCommit(request string) {
	t := s.t
	t.Helper()
	ws := filepath.Join(s.data, "workspace")
	if b, _ := os.ReadFile(filepath.Join(ws, "persona.md")); string(b) != "You are Mai, and warm.\n" {
		t.Errorf("persona.md after the commit: %q", b)
	}
	if got := gitT(t, ws, "diff", "--name-only", "HEAD~1", "HEAD"); got != "persona.md" {
		t.Errorf("the commit changed %q, want persona.md alone", got)
	}
	diff, err := exec.Command("git", "-C", ws, "diff", "--binary", "--full-index", "--no-color", "--no-ext-diff", "--no-renames", "HEAD~1", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(diff)
	trailers := gitT(t, ws, "log", "-1", "--format=%(trailers:only,unfold)")
	// The tiny model's review is no review: "none-available".
	for _, want := range []string{"Mai-Approval-Id: " + request, "Mai-Approved-By: discord:" + discordOwner + " (discord)", "Mai-Risk: LOW",
		"Mai-Review: none-available", "Mai-Change-Sha256: " + hex.EncodeToString(sum[:]), "Mai-Requested-In: cli"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).MatchString(trailers) {
			t.Errorf("trailer %q missing:\n%s", want, trailers)
		}
	}
}

// systemPromptFor returns the system prompt of a chat request body whose
// last user message is question (after any recalled memories, which ride
// before it).
func systemPromptFor(t *testing.T, body []byte, question string) (string, bool) {
	t.Helper()
	var req struct {
		Messages []struct{ Role, Content string }
	}
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatalf("a chat request that is not JSON: %v", err)
	}
	ms := req.Messages
	if len(ms) < 2 || ms[0].Role != "system" || ms[len(ms)-1].Role != "user" || !strings.HasSuffix(ms[len(ms)-1].Content, question) {
		return "", false
	}
	return ms[0].Content, true
}

// auditShows checks that `mai audit list` has entries "actor action ref"
// in this order (others may come between), ref being the approval request
// an entry names, or its subject.
func (s *system) auditShows(want ...string) {
	s.t.Helper()
	r := s.run("audit", "list", "--json")
	var entries []struct {
		Actor, Action, Subject string
		Details                map[string]any
	}
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil || r.code != 0 {
		s.t.Fatalf("mai audit list: %v %+v", err, r)
	}
	var got []string
	for _, e := range entries {
		ref := e.Subject
		if id, ok := e.Details["approval_id"].(string); ok {
			ref = id
		}
		got = append(got, e.Actor+" "+e.Action+" "+ref)
	}
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	if i < len(want) {
		s.t.Errorf("the audit log lacks %q (in this order: %q); it holds:\n%s", want[i], want, strings.Join(got, "\n"))
	}
}

// waitExit waits up to within for cmd to exit.
func waitExit(cmd *exec.Cmd, within time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(within):
		cmd.Process.Kill()
		return <-done
	}
}

// nothingLeft checks, once every mai process has ended, that none left a
// container or volume on the engine, a worktree in the workspace, or a
// temporary file in TMPDIR or the data directory.
func (s *system) nothingLeft() {
	t := s.t
	t.Helper()
	ctx := context.Background()
	cli := dockerClient(t)
	for _, pid := range s.pids {
		f := make(client.Filters).Add("label", sandbox.LabelSandbox+"=1").Add("label", sandbox.LabelPID+"="+strconv.Itoa(pid))
		cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs.Items {
			t.Errorf("container %.12s (%s, %v) of mai process %d left behind", c.ID, c.State, c.Labels, pid)
		}
		vs, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: f})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs.Items {
			t.Errorf("volume %s of mai process %d left behind", v.Name, pid)
		}
	}
	ws := filepath.Join(s.data, "workspace")
	if wts := gitT(t, ws, "worktree", "list", "--porcelain"); strings.Count(wts, "worktree ") != 1 {
		t.Errorf("worktrees besides the workspace:\n%s", wts)
	}
	// The proposals' worktrees live here while they are needed.
	es, err := os.ReadDir(filepath.Join(s.data, "selfmod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.IsDir() {
			t.Errorf("a proposal's worktree left behind: %s", e.Name())
		}
	}
	// What a mai process puts in the system's temporary directory (the
	// control socket when the data directory's path is too long for one,
	// git's and Go's scratch files) goes to its TMPDIR.
	if es, err := os.ReadDir(s.tmp); err != nil || len(es) != 0 {
		t.Errorf("TMPDIR holds %d entries (%v) after the processes ended", len(es), err)
	}
	if _, err := os.Stat(filepath.Join(s.data, "mai.sock")); err == nil {
		t.Error("the control socket outlived the daemon")
	}
	filepath.WalkDir(s.data, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n := e.Name(); strings.Contains(n, ".tmp") || strings.HasPrefix(n, store.TempBackupPrefix) || strings.HasPrefix(n, ".doctor-") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}
