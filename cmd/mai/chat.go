package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"

	"github.com/maicompanion/mai/internal/llm"
)

func (m *Main) runChat(ctx context.Context, args []string) error {
	fs := m.newFlagSet("chat", "chat --once PROMPT [--model NAME] [--max-tokens N] [--stats]",
		"  mai chat --once \"What is a GGUF file?\"          # streams the answer to stdout\n"+
			"  mai chat --once \"hi\" --model ollama:llama3.2:3b  # answer with that model\n"+
			"  echo \"summarise this\" | mai chat --once -        # the prompt from stdin")
	once := fs.String("once", "", "answer this one prompt (- reads it from stdin) and exit")
	model := fs.String("model", "", "answer with this model (backend:name), as 'mai models switch' would, without pinning it")
	maxTokens := fs.Int("max-tokens", 0, "stop after this many tokens (0: the model decides)")
	stats := fs.Bool("stats", false, "print token counts and speed to stderr at the end")
	if _, err := m.parse(fs, args, 0); err != nil {
		if errors.Is(err, errUsage) {
			return fmt.Errorf("%w; quote the prompt: mai chat --once \"...\"", err)
		}
		return err
	}
	if *once == "" {
		return fmt.Errorf("%w: the interactive terminal chat is not available yet; ask one question with --once PROMPT", errUsage)
	}
	prompt := *once
	if prompt == "-" {
		b, err := io.ReadAll(io.LimitReader(m.Stdin, 1<<20))
		if err != nil {
			return fmt.Errorf("read the prompt from stdin: %w", err)
		}
		prompt = string(b)
	}
	// Ctrl-C stops the answer and closes the request at once.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ms, err := m.openModels(ctx, readWrite)
	if err != nil {
		return err
	}
	defer ms.close()
	if *model != "" {
		if err := ms.router.Switch(ctx, *model); err != nil {
			return err
		}
	} else if err := ms.applyPin(ctx); err != nil {
		return err
	}
	req := llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: prompt}}}
	req.Options.MaxTokens = *maxTokens
	s, err := ms.router.Chat(ctx, req)
	if err != nil {
		return err
	}
	defer s.Close()
	return m.printStream(s, *stats)
}

// printStream writes the answer, notices on their own line on stderr, and
// the final statistics when asked. A terminal sees the text as it arrives;
// when the answer restarts on another model it gets a notice and the whole
// new answer. Anything else (a pipe, a file) gets the final answer alone,
// once it is complete, so a failover never leaves half an answer in it.
func (m *Main) printStream(s llm.Stream, stats bool) error {
	out := &answerWriter{w: m.Stdout, live: isTerminal(m.Stdout)}
	for {
		ev, err := s.Next()
		if errors.Is(err, io.EOF) {
			return out.end()
		}
		if err != nil {
			out.end()
			return err
		}
		switch ev.Kind {
		case llm.EventText:
			if err := out.text(ev.Text); err != nil {
				return err
			}
		case llm.EventNotice, llm.EventRestart:
			if ev.Kind == llm.EventRestart {
				out.restart()
			}
			fmt.Fprintf(m.Stderr, "[%s]\n", ev.Text)
		case llm.EventToolCall:
			fmt.Fprintf(m.Stderr, "[the model asked for tool %s; tools are not available in --once]\n", ev.ToolCall.Name)
		case llm.EventDone:
			if stats {
				st := ev.Stats
				fmt.Fprintf(m.Stderr, "[%s: %d prompt + %d completion tokens, %.1f tokens/s, first token after %s]\n",
					st.Model, st.PromptTokens, st.CompletionTokens, st.TokensPerSecond, st.TimeToFirstToken)
			}
		}
	}
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
