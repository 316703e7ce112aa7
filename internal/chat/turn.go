package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/memory"
)

// turnKey carries the running session in the context given to tools, so
// that an approval asked for by the sandbox's gate reaches its front end.
type turnKey struct{}

// turn answers one message: store it, answer it, and learn facts every
// FactsEvery user turns.
func (c *Core) turn(ctx context.Context, s *session, m Message, emit func(Event)) error {
	conv, err := c.conversation(ctx, s)
	if err != nil {
		return err
	}
	text := c.limitInput(m.Text, emit)
	q := asked{conv: conv, images: c.seeable(ctx, m.Images, text, emit)}
	if strings.TrimSpace(text) == "" && len(q.images) == 0 {
		return nil // only images, and no model to see them: NoVision said so
	}
	parent := c.parent(ctx, s, m.ReplyTo, emit)
	msg, err := c.cfg.Memory.Append(ctx, memory.Message{ConversationID: conv, Role: memory.RoleUser, Content: text + imageNote(q.images), ReplyTo: parent})
	if err != nil {
		return fmt.Errorf("store the message: %w", err)
	}
	q.id, q.branch, q.text = msg.ID, parent != 0, msg.Content
	if err := c.answer(ctx, s, q, nil, emit); err != nil {
		return err
	}
	s.mu.Lock()
	s.userTurns++
	due := c.cfg.FactsEvery > 0 && s.userTurns >= c.cfg.FactsEvery
	if due {
		s.userTurns = 0
	}
	s.mu.Unlock()
	if due {
		if _, err := c.learn(ctx, s, conv, ""); err != nil {
			c.cfg.Log.Warn().Err(err).Msg("learning facts failed")
		}
	}
	c.foldAhead(ctx, s, conv)
	return nil
}

// foldAhead folds the conversation's old turns now, the answer shown,
// when the next exchange would not fit beside them (Config.FoldAhead).
func (c *Core) foldAhead(ctx context.Context, s *session, conv int64) {
	if !c.cfg.FoldAhead {
		return
	}
	s.mu.Lock()
	req := s.lastContext
	s.mu.Unlock()
	if req.Conversation != conv || req.Window <= 0 {
		return
	}
	n, err := c.cfg.Memory.FoldAhead(ctx, req)
	if err != nil {
		c.cfg.Log.Warn().Err(err).Msg("folding old turns after the answer failed; the next answer folds them")
		return
	}
	if n > 0 {
		c.cfg.Log.Debug().Int64("conversation", conv).Int("messages", n).Msg("folded old turns after the answer")
	}
}

// limitInput truncates a message over MaxInputBytes at a character
// boundary, saying so: a megabyte pasted by mistake must not go to the model.
func (c *Core) limitInput(text string, emit func(Event)) string {
	limit := c.cfg.MaxInputBytes
	if len(text) <= limit {
		return text
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	emit(Event{Kind: EventNotice, Text: fmt.Sprintf("the message is %d bytes; only its first %d were kept and sent", len(text), cut)})
	return text[:cut]
}

// asked is the stored message an answer answers.
type asked struct {
	conv, id int64
	// branch: the message replies to an earlier point of the conversation,
	// so its reply chain is the context.
	branch bool
	text   string      // as stored: what memories are recalled for
	images []llm.Image // go with the message to the model
}

// defaultWindow is assumed when a backend does not say what context a
// model is loaded with.
const defaultWindow = 4096

// answer streams the answer to q, the conversation's latest turn, running
// the tools it asks for, and stores it. extra, when set, is appended to the
// assembled context (a /run result the model should see). Every request —
// the first, each round after tool calls, a failover's restart — is
// assembled afresh when the router has chosen the model, within the context
// it is loaded with: the tool calls and results stored so far come from
// memory and count against that window.
func (c *Core) answer(ctx context.Context, s *session, q asked, extra []llm.Message, emit func(Event)) (err error) {
	conv, replyTo := q.conv, q.id
	tl := turnLog{user: s.user, start: time.Now(), outcome: "failed"}
	defer func() { c.logTurn(tl, err) }()
	tools := c.tools()
	persona, err := c.cfg.Persona()
	if err != nil {
		return fmt.Errorf("read the persona: %w", err)
	}
	s.mu.Lock()
	maxTokens := s.maxTokens
	s.mu.Unlock()
	var st Stats
	noTools := "" // the model that answers does not take tools
	loop := toolLoop{c: c, s: s, conv: conv, reply: replyTo, emit: emit}
	var last llm.Request // the last request sent, and to which model
	var lastRef string
	build := func(t Target) (llm.Request, error) {
		if t.Window <= 0 {
			t.Window = defaultWindow
		}
		creq := memory.ContextRequest{User: s.user, Conversation: conv, Persona: persona, Window: t.Window, Model: t.Ref}
		if q.branch {
			// The reply chain runs back from this answer's latest tool
			// turn, through the message answered, which stays what
			// memories are recalled for.
			creq.Branch, creq.Query = q.id, q.text
			if loop.last != 0 {
				creq.Branch = loop.last
			}
		}
		asm, err := c.cfg.Memory.Assemble(ctx, creq)
		if err != nil {
			return llm.Request{}, err
		}
		if creq.Branch == 0 {
			s.mu.Lock()
			s.lastContext = creq
			s.mu.Unlock()
		}
		st.ContextTokens, st.ContextWindow = asm.Tokens, t.Window
		st.RecentTurns, st.Summaries = asm.Recent, asm.Summaries
		var images map[int64][]llm.Image
		if len(q.images) > 0 {
			images = map[int64][]llm.Image{q.id: q.images}
		}
		req := llm.Request{Messages: append(toLLM(asm.Turns, t.Tools, images), extra...)}
		defer func() { last, lastRef = req, t.Ref }()
		if t.Tools && !loop.over {
			req.Tools = tools
		}
		if !t.Tools {
			noTools = t.Ref
		}
		req.Options.MaxTokens = maxTokens
		return req, nil
	}
	for {
		res, err := c.stream(ctx, Need{Tools: len(tools) > 0 && !loop.over, Vision: len(q.images) > 0}, build, emit)
		if noTools != "" && len(tools) > 0 {
			c.tellNoTools(s, noTools, emit)
		}
		st.FailedOver = st.FailedOver || len(res.partials) > 0
		for _, p := range res.partials {
			c.store(ctx, conv, replyTo, p.text, memory.TurnDetail{Kind: memory.TurnAnswer, FailedOver: true}, p.model)
		}
		tl.model, tl.prompt, tl.calls = res.stats.Model, res.stats.PromptTokens, loop.calls
		tl.completion += res.stats.CompletionTokens // every round of tool calls wrote some
		if tl.model == "" {
			tl.model = lastRef
		}
		if err != nil {
			if ctx.Err() != nil {
				tl.outcome = "stopped"
				return c.stopped(ctx, conv, replyTo, res, st, emit)
			}
			if res.text != "" {
				c.store(ctx, conv, replyTo, res.text, memory.TurnDetail{Kind: memory.TurnAnswer, FailedOver: true}, res.stats.Model)
			}
			return err
		}
		if len(res.calls) == 0 || loop.over {
			c.observePrompt(ctx, lastRef, last, res.stats.PromptTokens)
			if len(res.calls) > 0 {
				emit(Event{Kind: EventNotice, Text: fmt.Sprintf("stopped: the model kept asking for tools after %d calls", loop.calls)})
			}
			st.MessageID = replyTo
			if err := c.finish(ctx, s, conv, replyTo, res, st, loop.calls, emit); err != nil {
				return err
			}
			tl.outcome = "answered"
			return nil
		}
		if err := loop.run(ctx, res); err != nil {
			return err
		}
	}
}

// turnLog is what the one log line of a turn says.
type turnLog struct {
	user, model, outcome string
	prompt, completion   int
	calls                int
	start                time.Time
}

// logTurn writes the turn's one line: who, which model, tokens, how long
// and how it ended — never the message or the answer, so the log at info
// tells the story without the conversation.
func (c *Core) logTurn(tl turnLog, err error) {
	ev := c.cfg.Log.Info()
	if err != nil {
		ev = c.cfg.Log.Warn().Err(err)
	}
	ev.Str("user", tl.user).Str("model", tl.model).Int("prompt_tokens", tl.prompt).Int("completion_tokens", tl.completion).
		Int("tool_calls", tl.calls).Dur("duration", time.Since(tl.start)).Str("outcome", tl.outcome).Msg("turn")
}

// observePrompt tells memory how many tokens the backend counted for the
// last request's prompt, so it counts the next context as this model does.
func (c *Core) observePrompt(ctx context.Context, model string, req llm.Request, tokens int) {
	texts := make([]string, len(req.Messages))
	for i, m := range req.Messages {
		texts[i] = m.Content
		if len(m.ToolCalls) > 0 { // counted in memory as the stored calls
			texts[i] += callJSON(m.ToolCalls)
		}
	}
	c.cfg.Memory.ObservePrompt(ctx, model, texts, tokens)
}

// tellNoTools says once per session and model that the model answering
// cannot use tools, and what works instead.
func (c *Core) tellNoTools(s *session, model string, emit func(Event)) {
	s.mu.Lock()
	told := s.toldNoTools == model
	s.toldNoTools = model
	s.mu.Unlock()
	if !told {
		emit(Event{Kind: EventNotice, Text: model + " does not take tools: Mai cannot run code or remember on its own with it; /run and /remember still work"})
	}
}

// finish stores the answer and emits the turn's statistics.
func (c *Core) finish(ctx context.Context, s *session, conv, replyTo int64, res streamed, st Stats, calls int, emit func(Event)) error {
	st.Model, st.PromptTokens, st.CompletionTokens = res.stats.Model, res.stats.PromptTokens, res.stats.CompletionTokens
	st.TokensPerSecond, st.FirstToken, st.ToolCalls = res.stats.TokensPerSecond, res.stats.TimeToFirstToken, calls
	stored, err := c.store(ctx, conv, replyTo, res.text, memory.TurnDetail{
		Kind: memory.TurnAnswer, PromptTokens: st.PromptTokens, CompletionTokens: st.CompletionTokens,
		TokensPerSecond: st.TokensPerSecond, FirstToken: st.FirstToken, FailedOver: st.FailedOver,
		ContextTokens: st.ContextTokens, ContextWindow: st.ContextWindow,
	}, st.Model)
	if err != nil {
		return err
	}
	st.AnswerID = stored.ID
	s.mu.Lock()
	s.last = st
	s.mu.Unlock()
	emit(Event{Kind: EventDone, Stats: &st})
	return nil
}

// stopped keeps what was shown of an answer the owner stopped.
func (c *Core) stopped(ctx context.Context, conv, replyTo int64, res streamed, st Stats, emit func(Event)) error {
	if res.text != "" {
		c.store(context.WithoutCancel(ctx), conv, replyTo, res.text, memory.TurnDetail{Kind: memory.TurnAnswer, ContextTokens: st.ContextTokens, ContextWindow: st.ContextWindow}, res.stats.Model)
	}
	emit(Event{Kind: EventNotice, Text: "stopped"})
	return nil
}

// store writes one assistant or tool turn and returns it; a failure is
// logged and returned, never silent.
func (c *Core) store(ctx context.Context, conv, replyTo int64, text string, d memory.TurnDetail, model string) (memory.Message, error) {
	role := memory.RoleAssistant
	if d.Kind == memory.TurnToolResult {
		role = memory.RoleTool
	}
	m := memory.Message{ConversationID: conv, Role: role, Content: text, Model: model, ReplyTo: replyTo}
	if d.Kind == memory.TurnAnswer && d.CompletionTokens > 0 {
		m.Tokens, m.TokensExact = d.CompletionTokens, true
	}
	stored, err := c.cfg.Memory.AppendTurn(context.WithoutCancel(ctx), m, d)
	if err != nil {
		c.cfg.Log.Error().Err(err).Msg("could not store a turn")
		return stored, fmt.Errorf("store the answer: %w", err)
	}
	return stored, nil
}

// toLLM converts an assembled context. For a model that takes tools, a
// stored tool call goes back as the assistant's tool calls and its results
// as tool messages with their call ids, as both wire formats expect; a call
// none of whose results made it into the context is left out, and a
// result whose call did not becomes a plain note, since OpenAI-style
// servers reject unpaired tool messages. A model without tools gets notes.
// images go with the messages of their ids.
func toLLM(turns []memory.Turn, tools bool, images map[int64][]llm.Image) []llm.Message {
	out := make([]llm.Message, 0, len(turns)+1)
	for i := 0; i < len(turns); i++ {
		t := turns[i]
		if tools && t.Tool != nil && t.Tool.Kind == memory.TurnToolCall {
			msgs, n := toolExchange(turns[i:])
			out = append(out, msgs...)
			i += n - 1
			continue
		}
		switch {
		case t.Role == memory.RoleTool:
			out = append(out, llm.Message{Role: llm.RoleUser, Content: "[tool result] " + t.Content})
		case t.Tool != nil && t.Tool.Kind == memory.TurnToolCall:
			out = append(out, llm.Message{Role: llm.RoleAssistant, Content: "[tool call] " + t.Content})
		default:
			out = append(out, llm.Message{Role: llm.Role(t.Role), Content: t.Text(), Images: images[t.MessageID]})
		}
	}
	return out
}

// toolExchange converts the stored tool call turns[0] and the results
// that follow it, paired by call id. It returns the messages and how many
// turns it used.
func toolExchange(turns []memory.Turn) ([]llm.Message, int) {
	var calls []llm.ToolCall
	if err := json.Unmarshal([]byte(turns[0].Content), &calls); err != nil {
		return nil, 1
	}
	byID := map[string]llm.ToolCall{}
	for _, c := range calls {
		if c.ID != "" {
			byID[c.ID] = c
		}
	}
	var results []llm.Message
	var answered []llm.ToolCall
	n := 1
	for ; n < len(turns); n++ {
		r := turns[n]
		if r.Tool == nil || r.Tool.Kind != memory.TurnToolResult {
			break
		}
		call, ok := byID[r.Tool.ToolCallID]
		if !ok {
			break
		}
		delete(byID, call.ID)
		answered = append(answered, call)
		// Stored as "name: result" for people reading memory.
		results = append(results, llm.Message{Role: llm.RoleTool, Content: strings.TrimPrefix(r.Content, r.Tool.ToolName+": "), ToolCallID: call.ID})
	}
	if len(answered) == 0 {
		return nil, n
	}
	return append([]llm.Message{{Role: llm.RoleAssistant, ToolCalls: answered}}, results...), n
}

// streamed is one streamed answer.
type streamed struct {
	text     string
	calls    []llm.ToolCall
	stats    llm.Stats
	partials []partial // answers a failover broke off
}

type partial struct{ text, model string }

// stream relays one answer as events, keeping reasoning out of the text.
// After a restart (the backend failed and another model starts the answer
// again) the text so far is kept as a partial and the front end told to
// discard it.
func (c *Core) stream(ctx context.Context, need Need, build func(Target) (llm.Request, error), emit func(Event)) (streamed, error) {
	var res streamed
	st, err := c.cfg.Models.ChatWith(ctx, need, build)
	if err != nil {
		return res, err
	}
	defer st.Close()
	var b strings.Builder
	th := thinkFilter{}
	thinking := false
	for {
		ev, err := st.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			res.text = b.String()
			return res, err
		}
		switch ev.Kind {
		case llm.EventThinking:
			thinking = c.think(ev.Text, thinking, emit)
		case llm.EventText:
			visible, thought := th.feed(ev.Text)
			if thought != "" {
				thinking = c.think(thought, thinking, emit)
			}
			if visible != "" {
				b.WriteString(visible)
				emit(Event{Kind: EventText, Text: visible})
			}
		case llm.EventToolCall:
			res.calls = append(res.calls, ev.ToolCall)
		case llm.EventRestart:
			if b.Len() > 0 || len(res.calls) > 0 {
				res.partials = append(res.partials, partial{text: strings.TrimSpace(b.String()), model: modelName(ev.Restart.From)})
				b.Reset()
				res.calls = nil
				th, thinking = thinkFilter{}, false
				emit(Event{Kind: EventRestart, Text: ev.Text})
				continue
			}
			emit(Event{Kind: EventNotice, Text: ev.Text})
		case llm.EventNotice:
			emit(Event{Kind: EventNotice, Text: ev.Text})
		case llm.EventDone:
			res.stats = ev.Stats
		}
	}
	if !th.in && th.pending != "" { // a lone "<" at the very end
		b.WriteString(th.pending)
		emit(Event{Kind: EventText, Text: th.pending})
	}
	res.text = strings.TrimSpace(b.String())
	return res, nil
}

// think shows a piece of the model's thinking: the text itself with
// ShowThinking, else one empty EventThinking per answer ("thinking…").
// It reports that the model has been thinking.
func (c *Core) think(thought string, thinking bool, emit func(Event)) bool {
	if c.cfg.ShowThinking {
		emit(Event{Kind: EventThinking, Text: thought})
	} else if !thinking {
		emit(Event{Kind: EventThinking})
	}
	return true
}

// modelName returns the model of a "backend:model" reference, as the
// backends name it in their statistics.
func modelName(ref string) string {
	_, name, ok := strings.Cut(ref, ":")
	if !ok {
		return ref
	}
	return name
}

// callJSON renders tool calls for storage.
func callJSON(calls []llm.ToolCall) string {
	b, _ := json.Marshal(calls)
	return string(b)
}
