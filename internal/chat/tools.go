package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/memory"
	"github.com/maicompanion/mai/internal/risk"
	"github.com/maicompanion/mai/internal/sandbox"
)

// maxToolOutput caps what a tool result gives back to the model.
const maxToolOutput = 4 << 10

// tools returns the tools offered to models that take them.
func (c *Core) tools() []llm.Tool {
	var ts []llm.Tool
	if c.cfg.Code != nil {
		ts = append(ts, llm.Tool{
			Name:        "run_code",
			Description: "Run a short Python or shell program in a sandbox without network, and get its output. Risky code waits for the owner's approval; dangerous code never runs.",
			Parameters:  json.RawMessage(`{"type":"object","properties":{"language":{"type":"string","enum":["python","sh"]},"code":{"type":"string"}},"required":["language","code"]}`),
		})
	}
	if c.cfg.Changes != nil {
		ts = append(ts, llm.Tool{
			Name: "propose_change",
			Description: "Propose a change to your own workspace (persona.md, skills/, the risk policy): whole new file contents. " +
				"It is reviewed, checked and committed only after the owner approves it.",
			Parameters: json.RawMessage(`{"type":"object","properties":{"subject":{"type":"string","description":"one line, the commit's subject"},` +
				`"rationale":{"type":"string"},"files":{"type":"array","items":{"type":"object","properties":{"path":{"type":"string"},` +
				`"content":{"type":"string"},"delete":{"type":"boolean"}},"required":["path"]}}},"required":["subject","files"]}`),
		})
	}
	return append(ts,
		llm.Tool{
			Name:        "remember",
			Description: "Remember a durable fact or preference about the owner for later conversations.",
			Parameters:  json.RawMessage(`{"type":"object","properties":{"subject":{"type":"string"},"statement":{"type":"string"}},"required":["statement"]}`),
		},
		llm.Tool{
			Name:        "recall",
			Description: "Search earlier conversations with the owner.",
			Parameters:  json.RawMessage(`{"type":"object","properties":{"query":{"type":"string"}},"required":["query"]}`),
		})
}

// toolLoop runs the tool calls of one turn, within MaxToolCalls, and tells
// a model that sent malformed arguments once before giving up.
type toolLoop struct {
	c     *Core
	s     *session
	conv  int64
	reply int64 // the message answered
	emit  func(Event)
	ids   int   // call ids given to calls that came without one
	last  int64 // the latest tool turn stored
	calls int
	bad   bool // the model already sent malformed arguments once
	over  bool // the limit was reached: the next answer is the last
	// malformed lists this round's calls whose arguments were not JSON.
	malformed []int
}

// errMalformed ends a turn whose model sent malformed tool arguments twice.
var errMalformed = errors.New("the model sent malformed tool calls twice; the turn ends here (try again, or another model with /switch)")

// run executes res's calls and stores them and their results, which the
// next round's context brings back to the model.
func (l *toolLoop) run(ctx context.Context, res streamed) error {
	for i, c := range res.calls {
		// Malformed arguments are sent back as {} (a server would reject
		// the request, and storing them as JSON would fail); the tool
		// result says what was wrong.
		if !json.Valid(c.Arguments) {
			res.calls[i].Arguments = json.RawMessage("{}")
			l.malformed = append(l.malformed, i)
		}
		// Ollama's native API does not number calls: an id pairs each
		// result with its call when they go back to the model, in this
		// answer and in later turns.
		if c.ID == "" {
			l.ids++
			res.calls[i].ID = fmt.Sprintf("call_%d_%d", l.reply, l.ids)
		}
	}
	stored, err := l.c.store(ctx, l.conv, 0, callJSON(res.calls), memory.TurnDetail{Kind: memory.TurnToolCall, ToolName: res.calls[0].Name, ToolCallID: res.calls[0].ID}, res.stats.Model)
	if err != nil {
		return err
	}
	l.last = stored.ID
	for i, call := range res.calls {
		if slices.Contains(l.malformed, i) {
			call.Arguments = nil
		}
		var out string
		if l.calls >= l.c.cfg.MaxToolCalls {
			out = fmt.Sprintf("not run: the limit of %d tool calls a turn is reached; answer with what you have", l.c.cfg.MaxToolCalls)
			l.over = true
		} else {
			l.calls++
			var malformed bool
			out, malformed = l.c.runTool(ctx, l.s, l.conv, call, l.emit)
			if malformed {
				if l.bad {
					return errMalformed
				}
				l.bad = true
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		stored, err := l.c.store(ctx, l.conv, 0, call.Name+": "+out, memory.TurnDetail{Kind: memory.TurnToolResult, ToolName: call.Name, ToolCallID: call.ID}, "")
		if err != nil {
			return err
		}
		l.last = stored.ID
	}
	l.malformed = l.malformed[:0]
	return nil
}

// runTool runs one call and returns what the model is told; malformed says
// the arguments could not be read.
func (c *Core) runTool(ctx context.Context, s *session, conv int64, call llm.ToolCall, emit func(Event)) (string, bool) {
	var args struct {
		Language, Code, Subject, Statement, Query, Rationale string
		Files                                                []ChangeFile
	}
	if len(call.Arguments) == 0 || json.Unmarshal(call.Arguments, &args) != nil {
		emit(Event{Kind: EventTool, Tool: &ToolActivity{Name: call.Name, Status: "failed", Line: "the model sent arguments that are not a JSON object"}})
		return "error: your arguments are not a valid JSON object; call the tool again with a JSON object matching its parameters", true
	}
	switch call.Name {
	case "run_code":
		if c.cfg.Code == nil {
			return "error: code execution is off", false
		}
		if err := c.codeUnavailable(); err != nil {
			emit(Event{Kind: EventTool, Tool: &ToolActivity{Name: "run_code", Status: "failed", Line: capText(err.Error(), 300)}})
			return "error: " + err.Error(), false
		}
		lang, _ := runLanguage(args.Language)
		return c.runCode(ctx, lang, args.Code, emit), false
	case "propose_change":
		if c.cfg.Changes == nil {
			return "error: changes to the workspace are off", false
		}
		return c.proposeChange(ctx, conv, ChangeRequest{Subject: args.Subject, Rationale: args.Rationale, Files: args.Files}, emit), false
	case "remember":
		id, err := c.cfg.Memory.Remember(ctx, memory.Fact{User: s.user, Subject: args.Subject, Statement: args.Statement, Confidence: 0.9, Sources: c.lastUserMessage(ctx, conv)})
		if err != nil {
			return "error: " + err.Error(), false
		}
		emit(Event{Kind: EventTool, Tool: &ToolActivity{Name: "remember", Status: "done", Line: fmt.Sprintf("remembered fact %d", id)}})
		return "remembered", false
	case "recall":
		mems, err := c.cfg.Memory.Recall(ctx, s.user, args.Query, 5)
		if err != nil {
			return "error: " + err.Error(), false
		}
		var b strings.Builder
		for _, m := range mems {
			fmt.Fprintf(&b, "[%s] %s: %s\n", m.Time.Format("2006-01-02"), m.Role, m.Content)
		}
		emit(Event{Kind: EventTool, Tool: &ToolActivity{Name: "recall", Status: "done", Line: fmt.Sprintf("recalled %d memories", len(mems))}})
		if b.Len() == 0 {
			return "nothing found", false
		}
		return capText(b.String(), maxToolOutput), false
	}
	return fmt.Sprintf("error: there is no tool %q", call.Name), false
}

// lastUserMessage returns the id of the conversation's latest user message,
// the provenance of a fact the model remembers.
func (c *Core) lastUserMessage(ctx context.Context, conv int64) []int64 {
	ms, err := c.cfg.Memory.Messages(ctx, conv, 0, 0)
	if err != nil {
		return nil
	}
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Role == memory.RoleUser {
			return []int64{ms[i].ID}
		}
	}
	return nil
}

// runCode sends code through the sandbox's gate and returns the result for
// the model; the owner sees one status line. lang "" means the code is in a
// language the sandbox cannot run: the verdict is given anyway.
func (c *Core) runCode(ctx context.Context, lang, code string, emit func(Event)) string {
	if lang == "" {
		v := risk.Analyze(ctx, "", []byte(code))
		line := fmt.Sprintf("cannot run this here: the sandbox runs Python and shell (this looks like %s, risk %s)", langName(v.Lang), v.Level)
		emit(Event{Kind: EventTool, Tool: &ToolActivity{Name: "run_code", Status: "refused", Line: line}})
		return line
	}
	if err := c.ensureImage(ctx, emit); err != nil {
		emit(Event{Kind: EventTool, Tool: &ToolActivity{Name: "run_code", Status: "failed", Line: capText(err.Error(), 300)}})
		return "error: the sandbox is not ready: " + err.Error()
	}
	emit(Event{Kind: EventTool, Tool: &ToolActivity{Name: "run_code", Status: "running", Line: "running " + lang + " in the sandbox"}})
	start := time.Now()
	res, err := c.cfg.Code.Run(ctx, sandbox.Job{Language: lang, Files: map[string][]byte{entryFor(lang): []byte(code)}})
	if re, ok := sandbox.IsRefused(err); ok {
		line := "refused: " + re.Error()
		emit(Event{Kind: EventTool, Tool: &ToolActivity{Name: "run_code", Status: "refused", Line: capText(line, 300)}})
		return "the code was not run. " + line
	}
	if err != nil {
		emit(Event{Kind: EventTool, Tool: &ToolActivity{Name: "run_code", Status: "failed", Line: capText(err.Error(), 300)}})
		return "error: " + err.Error()
	}
	line := fmt.Sprintf("ran %s: exit %d in %s", lang, res.ExitCode, time.Since(start).Round(10*time.Millisecond))
	switch {
	case res.TimedOut:
		line += " (timed out)"
	case res.OOMKilled:
		line += " (out of memory)"
	}
	emit(Event{Kind: EventTool, Tool: &ToolActivity{Name: "run_code", Status: "done", Line: line, Output: res.Stdout + res.Stderr}})
	var b strings.Builder
	fmt.Fprintf(&b, "exit code %d\n", res.ExitCode)
	if res.Stdout != "" {
		fmt.Fprintf(&b, "stdout:\n%s\n", res.Stdout)
	}
	if res.Stderr != "" {
		fmt.Fprintf(&b, "stderr:\n%s\n", res.Stderr)
	}
	if res.TimedOut {
		b.WriteString("the program was stopped: it ran out of time\n")
	}
	return capText(b.String(), maxToolOutput)
}

// ensureImage pulls the sandbox image on first use, reporting progress as
// notices (one per finished layer).
func (c *Core) ensureImage(ctx context.Context, emit func(Event)) error {
	c.mu.Lock()
	ok := c.imageOK
	c.mu.Unlock()
	if ok {
		return nil
	}
	done := -1
	err := c.cfg.Code.EnsureImage(ctx, "", func(p sandbox.PullProgress) {
		if p.LayersDone != done {
			done = p.LayersDone
			emit(Event{Kind: EventNotice, Text: fmt.Sprintf("pulling the sandbox image %s: %d of %d layers", p.Image, p.LayersDone, p.Layers)})
		}
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.imageOK = true
	c.mu.Unlock()
	return nil
}

func entryFor(lang string) string {
	if lang == "python" {
		return "main.py"
	}
	return "main.sh"
}

func langName(l risk.Lang) string {
	if l == "" {
		return "an unknown language"
	}
	return string(l)
}

// runLanguage maps a fence tag or tool argument to a sandbox language: ""
// with ok when the tag names a language the sandbox cannot run, and ok false
// for no tag (detect it).
func runLanguage(tag string) (lang string, ok bool) {
	switch strings.ToLower(strings.TrimSpace(tag)) {
	case "":
		return "", false
	case "python", "py", "python3":
		return "python", true
	case "sh", "bash", "shell":
		return "sh", true
	}
	return "", true
}

// capText cuts s to at most n bytes, at a character boundary, saying so.
func capText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "\n… (cut)"
}

// proposeChange sends the model's change through the self-modification
// pipeline, with the owner's last message as the request; the owner sees
// one status line.
func (c *Core) proposeChange(ctx context.Context, conv int64, req ChangeRequest, emit func(Event)) string {
	if ms, err := c.cfg.Memory.Messages(ctx, conv, 0, 0); err == nil {
		for i := len(ms) - 1; i >= 0; i-- {
			if ms[i].Role == memory.RoleUser {
				req.Request, req.MessageID = ms[i].Content, ms[i].ID
				break
			}
		}
	}
	emit(Event{Kind: EventTool, Tool: &ToolActivity{Name: "propose_change", Status: "running", Line: "proposing: " + capText(req.Subject, 100)}})
	out, err := c.cfg.Changes.ProposeChange(ctx, req)
	if err != nil {
		emit(Event{Kind: EventTool, Tool: &ToolActivity{Name: "propose_change", Status: "refused", Line: capText(err.Error(), 300)}})
		return "the change was not proposed: " + err.Error()
	}
	emit(Event{Kind: EventTool, Tool: &ToolActivity{Name: "propose_change", Status: "done", Line: capText(out, 300)}})
	return capText(out, maxToolOutput)
}

// codeUnavailable says why the code runner cannot run code now, when it
// can say so (Availability); nil when it can or cannot tell.
func (c *Core) codeUnavailable() error {
	if a, ok := c.cfg.Code.(Availability); ok {
		return a.Unavailable()
	}
	return nil
}
