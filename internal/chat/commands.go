package chat

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/memory"
)

// Help is the text of /help.
const Help = `Commands:
  /help            this list
  /status          the model, its speed and how full the context is
  /models          installed models; the active one is marked
  /switch NAME     answer with that model from now on (pinned; /switch auto unpins)
  /stop            stop the answer being written
  /regenerate      answer the last message again, replacing the answer
  /clear           start a new conversation (the old one stays in memory)
  /forget          forget this conversation for real
  /forget last     forget your last message and its answer
  /forget fact ID  forget one fact; /forget all forgets everything (asks first)
  /remember TEXT   remember something about you
  /facts           what Mai knows about you
  /run             run the code block that follows (or Mai's last one)
  /pause           unload Mai's models (free the GPU); /resume to go on
  /audit           the audit log's head (SEQ:HASH), a copy to keep off this machine
  /exit            leave (terminal)`

// command runs a slash command.
// A command that changes state asks for the PIN first (see NeedsPIN).
func (c *Core) command(ctx context.Context, s *session, line string, m Message, emit func(Event)) error {
	name, arg, _ := strings.Cut(line, " ")
	if i := strings.IndexAny(name, "\n"); i >= 0 { // "/run\n```…"
		name, arg = name[:i], line[i+1:]
	}
	if NeedsPIN(name) && c.cfg.CheckPIN != nil {
		if err := c.cfg.CheckPIN(ctx, m.PIN); err != nil {
			return err
		}
	}
	maxTokens := m.MaxTokens
	arg = strings.TrimSpace(arg)
	reply := func(format string, a ...any) error {
		emit(Event{Kind: EventReply, Text: fmt.Sprintf(format, a...)})
		return nil
	}
	switch name {
	case "/help":
		return reply("%s", Help)
	case "/exit", "/quit":
		emit(Event{Kind: EventExit})
		return nil
	case "/stop":
		if c.Stop(s.user) {
			return nil
		}
		return reply("nothing is running")
	case "/status":
		return reply("%s", c.status(ctx, s))
	case "/models":
		names, err := c.cfg.Models.List(ctx)
		if err != nil {
			return err
		}
		return reply("%s", strings.Join(names, "\n"))
	case "/switch":
		if arg == "" {
			return errors.New("/switch needs a model name, e.g. /switch ollama:llama3.2:3b (see /models)")
		}
		return c.switchModel(ctx, arg, reply)
	case "/clear":
		id, err := c.cfg.Memory.StartConversation(ctx, s.user, c.cfg.Channel)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.conv = id
		s.mu.Unlock()
		return reply("new conversation; the earlier one stays in memory")
	case "/forget":
		return c.forget(ctx, s, arg, reply)
	case "/facts":
		return c.listFacts(ctx, s, reply)
	case "/remember":
		if arg == "" {
			return errors.New("/remember needs something to remember, e.g. /remember I am allergic to peanuts")
		}
		return c.generate(ctx, s, maxTokens, emit, func(ctx context.Context) error { return c.remember(ctx, s, arg, emit) })
	case "/regenerate":
		return c.generate(ctx, s, maxTokens, emit, func(ctx context.Context) error { return c.regenerate(ctx, s, emit) })
	case "/run":
		if err := c.codeUnavailable(); err != nil {
			return reply("I cannot run code now: %v", err)
		}
		return c.generate(ctx, s, maxTokens, emit, func(ctx context.Context) error { return c.runCommand(ctx, s, arg, emit) })
	case "/pause":
		c.mu.Lock()
		c.paused = true
		c.mu.Unlock()
		n, err := c.cfg.Models.Pause(ctx)
		if err != nil {
			return err
		}
		return reply("paused; %d model(s) unloaded. /resume when you want Mai back", n)
	case "/audit":
		return c.auditHead(ctx, reply)
	case "/resume":
		c.mu.Lock()
		c.paused = false
		c.mu.Unlock()
		return reply("resumed")
	}
	return fmt.Errorf("unknown command %s; /help lists them", name)
}

// switchModel is /switch: the owner's choice, pinned and audited through
// Config.Pin when the front end gives one; "auto" unpins.
func (c *Core) switchModel(ctx context.Context, arg string, reply func(string, ...any) error) error {
	if c.cfg.Pin == nil {
		if arg == "auto" {
			return errors.New("nothing is pinned here: the router already chooses")
		}
		if err := c.cfg.Models.Switch(ctx, arg); err != nil {
			return err
		}
		return reply("switched to %s", arg)
	}
	ref := arg
	if arg == "auto" {
		ref = ""
	}
	pinned, err := c.cfg.Pin(ctx, ref)
	if err != nil {
		return err
	}
	if pinned == "" {
		return reply("no model pinned: the router chooses the best model that fits")
	}
	return reply("switched to %s, loaded and pinned", pinned)
}

// useModel makes m.Model the active model for m (mai chat --model): a
// switch without the pin, which needs the PIN as /switch does.
func (c *Core) useModel(ctx context.Context, m Message) error {
	if c.cfg.CheckPIN != nil {
		if err := c.cfg.CheckPIN(ctx, m.PIN); err != nil {
			return err
		}
	}
	return c.cfg.Models.Switch(ctx, m.Model)
}

// NeedsPIN reports whether the command (its first word, "/forget") changes
// or deletes state the owner would not want changed behind their back, so
// that it needs the PIN when one is stored: the model answering, the
// conversation, what is remembered, whether Mai runs. Messages, /remember,
// /regenerate and /run are conversation itself (code still passes the risk
// gate and its approvals); reading commands need nothing.
func NeedsPIN(command string) bool {
	switch command {
	case "/switch", "/clear", "/forget", "/pause", "/resume":
		return true
	}
	return false
}

// Status is what /status answers for user: the model, the last answer's
// statistics, the conversation and whether an answer runs, waits or Mai is
// paused.
func (c *Core) Status(ctx context.Context, user string) string {
	return c.status(ctx, c.session(user))
}

func (c *Core) status(ctx context.Context, s *session) string {
	var b strings.Builder
	tgt, err := c.cfg.Models.Target(ctx, false)
	if err != nil {
		fmt.Fprintf(&b, "model: none (%v)\n", err)
	} else {
		fmt.Fprintf(&b, "model: %s (context %d tokens)\n", tgt.Ref, tgt.Window)
	}
	s.mu.Lock()
	last, conv, waiting, running := s.last, s.conv, s.waiting, s.cancel != nil
	s.mu.Unlock()
	if last.Model != "" {
		fmt.Fprintf(&b, "last answer: %s\n", StatusLine(last))
	}
	c.mu.Lock()
	paused := c.paused
	c.mu.Unlock()
	fmt.Fprintf(&b, "conversation: %d; answering: %t; queued: %d; paused: %t", conv, running, waiting, paused)
	return b.String()
}

// StatusLine is the one line shown after each answer.
func StatusLine(st Stats) string {
	line := fmt.Sprintf("%s · %.1f tokens/s · %d tokens", st.Model, st.TokensPerSecond, st.CompletionTokens)
	if st.ContextWindow > 0 {
		line += fmt.Sprintf(" · context %d/%d (%d%%)", st.ContextTokens, st.ContextWindow, 100*st.ContextTokens/st.ContextWindow)
	}
	if st.ToolCalls > 0 {
		line += fmt.Sprintf(" · %d tool call(s)", st.ToolCalls)
	}
	if st.FailedOver {
		line += " · failed over"
	}
	return line
}

func (c *Core) forget(ctx context.Context, s *session, arg string, reply func(string, ...any) error) error {
	switch {
	case arg == "":
		conv, err := c.conversation(ctx, s)
		if err != nil {
			return err
		}
		r, err := c.cfg.Memory.ForgetConversation(ctx, conv)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.conv = 0
		s.mu.Unlock()
		if err := c.forgot(ctx, s.user, fmt.Sprintf("conversation:%d", conv), map[string]any{"messages": r.Messages, "summaries": r.Summaries}); err != nil {
			return err
		}
		return reply("forgot this conversation: %d messages, %d summaries", r.Messages, r.Summaries)
	case arg == "last":
		id, err := c.forgetLast(ctx, s)
		if err != nil {
			return err
		}
		return reply("forgot your last message and its answer (message %d)", id)
	case strings.HasPrefix(arg, "fact"):
		id, err := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(arg, "fact")), 10, 64)
		if err != nil {
			return errors.New("/forget fact needs the fact's number from /facts, e.g. /forget fact 3")
		}
		if err := c.forgetFact(ctx, s.user, id); err != nil {
			return err
		}
		if err := c.forgot(ctx, s.user, fmt.Sprintf("fact:%d", id), nil); err != nil {
			return err
		}
		return reply("forgot fact %d", id)
	case arg == "all":
		s.mu.Lock()
		s.confirm = true
		s.mu.Unlock()
		return reply("this deletes every conversation and fact Mai has of you, for real. Type /forget all yes to do it")
	case arg == "all yes":
		s.mu.Lock()
		ok := s.confirm
		s.confirm = false
		s.mu.Unlock()
		if !ok {
			return errors.New("type /forget all first, then /forget all yes")
		}
		r, err := c.cfg.Memory.ForgetUser(ctx, s.user, time.Time{})
		if err != nil && !errors.Is(err, memory.ErrNotFound) {
			return err
		}
		if err := c.cfg.Memory.Purge(ctx); err != nil {
			return err
		}
		s.mu.Lock()
		s.conv = 0
		s.mu.Unlock()
		if err := c.forgot(ctx, s.user, "all", map[string]any{"messages": r.Messages, "summaries": r.Summaries, "facts": r.Facts}); err != nil {
			return err
		}
		return reply("forgot everything: %d messages, %d facts", r.Messages, r.Facts)
	}
	return fmt.Errorf("/forget takes nothing (this conversation), last, fact ID, or all; not %q", arg)
}

// forgot records a forgetting that is done (Config.Forgot).
func (c *Core) forgot(ctx context.Context, user, what string, details map[string]any) error {
	if c.cfg.Forgot == nil {
		return nil
	}
	if err := c.cfg.Forgot(ctx, user, what, details); err != nil {
		return fmt.Errorf("forgotten, but %w", err)
	}
	return nil
}

// forgetFact deletes one of user's facts and purges it from the files.
func (c *Core) forgetFact(ctx context.Context, user string, id int64) error {
	fs, err := c.cfg.Memory.Facts(ctx, user)
	if err != nil {
		return err
	}
	for _, f := range fs {
		if f.ID == id {
			if err := c.cfg.Memory.ForgetFact(ctx, id); err != nil {
				return err
			}
			return c.cfg.Memory.Purge(ctx)
		}
	}
	return fmt.Errorf("there is no fact %d; /facts lists them", id)
}

func (c *Core) listFacts(ctx context.Context, s *session, reply func(string, ...any) error) error {
	fs, err := c.cfg.Memory.Facts(ctx, s.user)
	if err != nil {
		return err
	}
	if len(fs) == 0 {
		return reply("Mai knows no facts about you yet; /remember TEXT tells it one")
	}
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%d. ", f.ID)
		if f.Subject != "" {
			fmt.Fprintf(&b, "%s: ", f.Subject)
		}
		fmt.Fprintf(&b, "%s (confidence %.2f)\n", f.Statement, f.Confidence)
	}
	return reply("%s", strings.TrimRight(b.String(), "\n"))
}

// runCommand runs the fenced block in arg, or the last one of Mai's
// previous answer, and lets the model comment on the result.
func (c *Core) runCommand(ctx context.Context, s *session, arg string, emit func(Event)) error {
	if c.cfg.Code == nil {
		return errors.New("code execution is off: Docker is not reachable")
	}
	conv, err := c.conversation(ctx, s)
	if err != nil {
		return err
	}
	tag, code, ok := lastBlock(arg)
	if !ok && arg != "" {
		tag, code, ok = "", arg, true
	}
	if !ok {
		ms, err := c.cfg.Memory.Messages(ctx, conv, 0, 0)
		if err != nil {
			return err
		}
		for i := len(ms) - 1; i >= 0 && !ok; i-- {
			if ms[i].Role == memory.RoleAssistant {
				tag, code, ok = lastBlock(ms[i].Content)
				break
			}
		}
		if !ok {
			return errors.New("/run needs a code block after it (```python … ```), or an answer of Mai's with one")
		}
	}
	lang, known := runLanguage(tag)
	if !known {
		v := detect(ctx, code)
		lang, _ = runLanguage(string(v))
	}
	req, err := c.cfg.Memory.Append(ctx, memory.Message{ConversationID: conv, Role: memory.RoleUser, Content: "/run\n```" + tag + "\n" + code + "\n```"})
	if err != nil {
		return err
	}
	out := c.runCode(ctx, lang, code, emit)
	if _, err := c.store(ctx, conv, req.ID, "run_code: "+out, memory.TurnDetail{Kind: memory.TurnToolResult, ToolName: "run_code"}, ""); err != nil {
		return err
	}
	return c.answer(ctx, s, asked{conv: conv, id: req.ID}, []llm.Message{{Role: llm.RoleUser, Content: "The code above was run; explain the result briefly."}}, emit)
}

// regenerate answers the conversation's last user message again: the
// answer it had (with its tool turns and any broken-off partial) is deleted
// from memory and replaced by the new one.
func (c *Core) regenerate(ctx context.Context, s *session, emit func(Event)) error {
	return c.regenerateIf(ctx, s, func(string) bool { return true }, emit)
}

// Why regenerateIf answered nothing again.
var (
	errNoMessage = errors.New("there is no message to answer again")
	errNotLast   = errors.New("chat: not the conversation's last user message")
)

// regenerateIf is regenerate when the last user message's text satisfies
// match, and errNotLast, with nothing changed, when it does not.
func (c *Core) regenerateIf(ctx context.Context, s *session, match func(last string) bool, emit func(Event)) error {
	conv, ms, last, err := c.lastExchange(ctx, s)
	if err != nil {
		return err
	}
	if !match(ms[last].Content) {
		return errNotLast
	}
	var old []int64
	for _, m := range ms[last+1:] {
		old = append(old, m.ID)
	}
	if err := c.cfg.Memory.DeleteMessages(ctx, conv, old); err != nil {
		return err
	}
	return c.answer(ctx, s, asked{conv: conv, id: ms[last].ID, branch: ms[last].ReplyTo != 0, text: ms[last].Content}, nil, emit)
}

// auditHead is /audit: the head for the owner to keep where whoever could
// rewrite the log and its key cannot reach it.
func (c *Core) auditHead(ctx context.Context, reply func(string, ...any) error) error {
	if c.cfg.AuditHead == nil {
		return errors.New("/audit is not available here")
	}
	head, sentTo, err := c.cfg.AuditHead(ctx)
	if err != nil {
		return fmt.Errorf("/audit: %w", err)
	}
	kept := "Keep a copy somewhere off this machine"
	if sentTo != "" {
		kept = "A copy went to " + sentTo
	}
	return reply("Audit log head: %s\n%s; 'mai audit verify --head %s' checks that the log was not rewritten since.", head, kept, head)
}
