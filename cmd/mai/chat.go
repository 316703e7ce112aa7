package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"

	"github.com/maicompanion/mai/internal/chat"
)

func (m *Main) runChat(ctx context.Context, args []string) error {
	fs := m.newFlagSet("chat", "chat [--once PROMPT] [--model NAME] [--max-tokens N] [--stats]",
		"  mai chat                                         # talk with Mai in the terminal; /help lists the commands\n"+
			"  mai chat --once \"What is a GGUF file?\"          # streams one answer to stdout\n"+
			"  mai chat --once \"hi\" --model ollama:llama3.2:3b  # answer with that model\n"+
			"  echo \"summarise this\" | mai chat --once -        # the prompt from stdin")
	once := fs.String("once", "", "answer this one prompt (- reads it from stdin) and exit")
	model := fs.String("model", "", "answer with this model (backend:name), without pinning it as /switch does")
	maxTokens := fs.Int("max-tokens", 0, "stop each answer after this many tokens (0: the model decides)")
	stats := fs.Bool("stats", false, "print the model, token counts and speed to stderr after each answer")
	if _, err := m.parse(fs, args, 0); err != nil {
		if errors.Is(err, errUsage) {
			return fmt.Errorf("%w; quote the prompt: mai chat --once \"...\"", err)
		}
		return err
	}
	prompt := *once
	if prompt == "-" {
		b, err := io.ReadAll(io.LimitReader(m.Stdin, 1<<20+1))
		if err != nil {
			return fmt.Errorf("read the prompt from stdin: %w", err)
		}
		prompt = string(b)
	}
	conn, remote, closeConn, err := m.connectChat(ctx)
	if err != nil {
		return err
	}
	defer closeConn()
	p := &printer{out: &answerWriter{w: m.Stdout, live: isTerminal(m.Stdout)}, errw: m.Stderr, stats: *stats}
	if *model != "" {
		if err := conn.Send(ctx, chat.Message{Model: *model}, func(chat.Event) {}); err != nil {
			return err
		}
	}
	if *once != "" {
		// Ctrl-C stops the answer and closes the request at once.
		ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		err := conn.Send(ctx, chat.Message{Text: prompt, MaxTokens: *maxTokens}, p.emit)
		p.endLine()
		return p.result(err)
	}
	if in, ok := m.Stdin.(interface{ Fd() uintptr }); ok && isTerminal(m.Stdin) && isTerminal(m.Stdout) {
		return m.terminalChat(ctx, conn, remote, int(in.Fd()), *maxTokens, *stats)
	}
	return m.pipedChat(ctx, conn, p, *maxTokens)
}

// pipedChat answers each line of a non-terminal stdin in turn.
func (m *Main) pipedChat(ctx context.Context, conn chatConn, p *printer, maxTokens int) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	sc := bufio.NewScanner(m.Stdin)
	sc.Buffer(make([]byte, 64<<10), 2<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		err := conn.Send(ctx, chat.Message{Text: sc.Text(), MaxTokens: maxTokens}, p.emit)
		p.endLine()
		if p.exit {
			return nil
		}
		if err != nil && ctx.Err() != nil {
			return err
		}
		if err != nil {
			fmt.Fprintf(m.Stderr, "mai: %v\n", err)
		}
	}
	return sc.Err()
}

// printer writes a turn's events for scripts: the answer on stdout as it
// arrives, everything else on stderr on lines of its own.
// A terminal sees the text as it arrives; when the answer restarts on
// another model it gets a notice and the whole new answer. Anything else (a
// pipe, a file) gets the final answer alone, once it is complete, so a
// failover never leaves half an answer in it.
type printer struct {
	out   *answerWriter
	errw  io.Writer
	stats bool
	exit  bool
}

// endLine ends the answer: what is held is written, the line ended.
func (p *printer) endLine() {
	p.out.end()
}

func (p *printer) side(format string, a ...any) {
	if p.out.live && p.out.wrote && !p.out.atLineStart {
		fmt.Fprintln(p.out.w)
		p.out.atLineStart = true
	}
	fmt.Fprintf(p.errw, format+"\n", a...)
}

func (p *printer) emit(ev chat.Event) {
	switch ev.Kind {
	case chat.EventText:
		p.out.text(ev.Text)
	case chat.EventReply:
		p.endLine()
		fmt.Fprintln(p.out.w, ev.Text)
	case chat.EventNotice:
		p.side("[%s]", ev.Text)
	case chat.EventRestart:
		p.out.restart()
		p.side("[%s]", ev.Text)
	case chat.EventThinking:
		if ev.Text != "" {
			fmt.Fprint(p.errw, ev.Text)
		} else {
			p.side("[thinking…]") // once an answer: MAI_SHOW_THINKING shows the thinking itself
		}
	case chat.EventTool:
		p.side("[%s: %s]", ev.Tool.Name, ev.Tool.Line)
	case chat.EventApproval:
		// Nobody can be asked here: the request waits for a decision made
		// elsewhere (Ctrl-C withdraws it).
		p.side("[the model wants to run %s code judged HIGH risk; decide with 'mai approvals approve %s' or 'mai approvals deny %s']",
			ev.Approval.Language, ev.Approval.ID, ev.Approval.ID)
	case chat.EventDone:
		if p.stats {
			st := ev.Stats
			p.side("[%s: %d prompt + %d completion tokens, %.1f tokens/s, first token after %s, context %d/%d]",
				st.Model, st.PromptTokens, st.CompletionTokens, st.TokensPerSecond, st.FirstToken, st.ContextTokens, st.ContextWindow)
		}
	case chat.EventExit:
		p.exit = true
	}
}

// result turns a turn's error into the command's: it was already emitted
// as an event only when it came from the core, so it is returned for the
// exit status and printed once by main.
func (p *printer) result(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// answerWriter writes an answer to a terminal as it arrives (live), or
// holds it until the end.
type answerWriter struct {
	w           io.Writer
	live        bool
	held        strings.Builder
	atLineStart bool
	wrote       bool
}

func (a *answerWriter) text(t string) error {
	if t == "" {
		return nil
	}
	if !a.live {
		a.held.WriteString(t)
		return nil
	}
	if _, err := io.WriteString(a.w, t); err != nil {
		return err
	}
	if f, ok := a.w.(interface{ Sync() error }); ok {
		f.Sync()
	}
	a.wrote, a.atLineStart = true, t[len(t)-1] == '\n'
	return nil
}

// restart voids the answer so far: a held one is dropped, a live one is
// ended on its line so that the new answer starts on its own.
func (a *answerWriter) restart() {
	a.held.Reset()
	if a.live && a.wrote && !a.atLineStart {
		fmt.Fprintln(a.w)
	}
	a.wrote = false
}

// end writes what is held and ends the last line.
func (a *answerWriter) end() error {
	if !a.live {
		t := a.held.String()
		a.held.Reset()
		if t == "" {
			return nil
		}
		if _, err := io.WriteString(a.w, t); err != nil {
			return err
		}
		a.wrote, a.atLineStart = true, t[len(t)-1] == '\n'
	}
	if a.wrote && !a.atLineStart {
		_, err := fmt.Fprintln(a.w)
		return err
	}
	return nil
}
