package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/term"

	"github.com/maicompanion/mai/internal/chat"
	"github.com/maicompanion/mai/internal/control"
)

const (
	prompt       = "you› "
	contPrompt   = "   … "
	historyFile  = "chat_history"
	historyLimit = 1000
	dim, reset   = "\x1b[2m", "\x1b[0m"
)

// terminalChat is the interactive chat: raw mode, a line editor with
// history kept between runs, multi-line input (a trailing backslash, or a
// paste), streamed answers, a status line after each, approval prompts
// inline. Ctrl-C stops the answer being written; a second Ctrl-C on an
// empty line (or Ctrl-D) exits.
func (m *Main) terminalChat(ctx context.Context, conn chatConn, remote bool, fd int, maxTokens int, stats bool) error {
	old, err := term.MakeRaw(fd)
	if err != nil {
		return fmt.Errorf("terminal: %w", err)
	}
	defer term.Restore(fd, old)
	tt := &ttyChat{conn: conn, out: crlfWriter{m.Stdout}, maxTokens: maxTokens, stats: stats}
	pr, pw := io.Pipe()
	go tt.filterInput(m.Stdin, pw)
	tt.t = term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{pr, m.Stdout}, prompt)
	tt.t.SetBracketedPasteMode(true)
	defer tt.t.SetBracketedPasteMode(false)
	tt.hist = loadHistory(filepath.Join(m.cfg.DataDir, historyFile))
	tt.t.History = tt.hist
	where := "in this process (no daemon running)"
	if remote {
		where = "through the running daemon"
	}
	fmt.Fprintf(tt.out, "%sMai — %s. /help lists the commands; Ctrl-C stops an answer, twice on an empty line exits.%s\n", dim, where, reset)
	return tt.loop(ctx)
}

type ttyChat struct {
	conn      chatConn
	t         *term.Terminal
	out       io.Writer
	hist      *history
	maxTokens int
	stats     bool

	answering atomic.Bool
	ctrlC     atomic.Bool // Ctrl-C was pressed during the last answer
	mu        sync.Mutex
	cancel    context.CancelFunc // of the answer being written
}

// interrupt is what Ctrl-C at the prompt becomes for the line editor:
// clear the line (Ctrl-A, Ctrl-K), then an invisible separator alone on a
// line. The editor itself turns Ctrl-C into io.EOF, like Ctrl-D, and keeps
// the key in its buffer, so every later read would end the same way.
const (
	interruptMark = "\u2063"
	interruptKeys = "\x01\x0b" + interruptMark + "\r"
)

// errInterrupt is Ctrl-C at the prompt.
var errInterrupt = errors.New("interrupted")

// filterInput copies the keyboard to the line editor, except Ctrl-C: while
// an answer is being written it stops the answer; at the prompt it becomes
// interruptKeys.
func (tt *ttyChat) filterInput(in io.Reader, w *io.PipeWriter) {
	buf := make([]byte, 4096)
	for {
		n, err := in.Read(buf)
		b := buf[:n]
		if bytes.IndexByte(b, 3) >= 0 {
			tt.ctrlC.Store(true)
			if tt.answering.Load() {
				tt.mu.Lock()
				if tt.cancel != nil {
					tt.cancel()
				}
				tt.mu.Unlock()
				b = bytes.ReplaceAll(b, []byte{3}, nil)
			} else {
				b = bytes.ReplaceAll(b, []byte{3}, []byte(interruptKeys))
			}
		}
		if len(b) > 0 {
			if _, werr := w.Write(b); werr != nil {
				return
			}
		}
		if err != nil {
			w.CloseWithError(err)
			return
		}
	}
}

func (tt *ttyChat) loop(ctx context.Context) error {
	armed := false // a Ctrl-C was pressed since the last message
	for {
		text, err := tt.readMessage()
		switch {
		case errors.Is(err, errInterrupt) && !armed:
			armed = true
			fmt.Fprintf(tt.out, "%s(Ctrl-C again to exit)%s\n", dim, reset)
			continue
		case errors.Is(err, errInterrupt), errors.Is(err, io.EOF): // Ctrl-D
			fmt.Fprintln(tt.out)
			return nil
		case err != nil:
			return err
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		armed = false
		tt.hist.save(text)
		exit, err := tt.send(ctx, text, "")
		if errors.Is(err, chat.ErrPINRequired) {
			// A command that changes state: ask for the PIN, send it again.
			if pin, perr := tt.t.ReadPassword("PIN: "); perr == nil && pin != "" {
				exit, err = tt.send(ctx, text, pin)
			}
		}
		if exit {
			return nil
		}
		if errors.Is(err, control.ErrDaemonGone) || errors.Is(err, control.ErrNoDaemon) {
			return fmt.Errorf("%w; run mai chat again to go on (in this process while no daemon runs)", err)
		}
		if err != nil && ctx.Err() != nil {
			return err
		}
		armed = tt.ctrlC.Load()
	}
}

// readMessage reads one message: lines ending in a backslash continue on
// the next line, and a pasted block is one message.
func (tt *ttyChat) readMessage() (string, error) {
	var parts []string
	defer tt.t.SetPrompt(prompt)
	for {
		line, err := tt.t.ReadLine()
		switch {
		case errors.Is(err, term.ErrPasteIndicator):
			parts = append(parts, line)
			tt.t.SetPrompt(contPrompt)
			continue
		case err != nil:
			return "", err
		case strings.HasSuffix(line, interruptMark):
			return "", errInterrupt
		case strings.HasSuffix(line, `\`):
			parts = append(parts, strings.TrimSuffix(line, `\`))
			tt.t.SetPrompt(contPrompt)
			continue
		}
		return strings.Join(append(parts, line), "\n"), nil
	}
}

// send runs one message and shows its events; it reports whether the
// session should end.
func (tt *ttyChat) send(ctx context.Context, text, pin string) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tt.mu.Lock()
	tt.cancel = cancel
	tt.mu.Unlock()
	tt.ctrlC.Store(false)
	events := make(chan chat.Event, 64)
	done := make(chan error, 1)
	go func() {
		done <- tt.conn.Send(ctx, chat.Message{Text: text, MaxTokens: tt.maxTokens, PIN: pin}, func(ev chat.Event) { events <- ev })
	}()
	tt.answering.Store(true)
	defer tt.answering.Store(false)
	v := &view{w: tt.out, stats: tt.stats}
	for {
		select {
		case ev := <-events:
			if ev.Kind == chat.EventApproval {
				tt.approve(ctx, v, ev.Approval)
				continue
			}
			v.show(ev)
		case err := <-done:
			for len(events) > 0 {
				v.show(<-events)
			}
			v.endLine()
			if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, control.ErrDaemonGone) && !errors.Is(err, control.ErrNoDaemon) {
				fmt.Fprintf(tt.out, "mai: %v\n", err)
			}
			if errors.Is(err, context.Canceled) {
				fmt.Fprintf(tt.out, "%s[stopped]%s\n", dim, reset)
			}
			return v.exit, err
		}
	}
}

// approve asks inline whether code the risk gate judged HIGH may run.
func (tt *ttyChat) approve(ctx context.Context, v *view, a *chat.Approval) {
	v.endLine()
	fmt.Fprintf(tt.out, "Mai wants to run this %s code, judged HIGH risk:\n", a.Language)
	for _, l := range strings.Split(strings.TrimRight(a.Code, "\n"), "\n") {
		fmt.Fprintf(tt.out, "  │ %s\n", l)
	}
	for _, f := range a.Findings {
		fmt.Fprintf(tt.out, "  %s\n", f)
	}
	tt.answering.Store(false)
	tt.t.SetPrompt("Run it in the sandbox? [y/N] ")
	line, err := tt.t.ReadLine()
	tt.t.SetPrompt(prompt)
	tt.answering.Store(true)
	yes := err == nil && (strings.EqualFold(strings.TrimSpace(line), "y") || strings.EqualFold(strings.TrimSpace(line), "yes"))
	err = tt.conn.Decide(ctx, a.ID, yes, "")
	if errors.Is(err, chat.ErrPINRequired) {
		tt.answering.Store(false)
		pin, perr := tt.t.ReadPassword("PIN: ")
		tt.answering.Store(true)
		if perr == nil {
			err = tt.conn.Decide(ctx, a.ID, yes, pin)
		}
	}
	if err != nil {
		fmt.Fprintf(tt.out, "mai: %v; the request waits: 'mai approvals approve %s' or 'deny %s'\n", err, a.ID, a.ID)
	}
}

// view renders events on the terminal.
type view struct {
	w           io.Writer
	stats       bool
	atLineStart bool
	started     bool
	thinking    bool
	exit        bool
}

func (v *view) endLine() {
	v.clearThinking()
	if v.started && !v.atLineStart {
		fmt.Fprintln(v.w)
	}
	v.started, v.atLineStart = false, true
}

func (v *view) clearThinking() {
	if v.thinking {
		fmt.Fprint(v.w, "\r\x1b[K")
		v.thinking = false
	}
}

func (v *view) line(format string, a ...any) {
	v.endLine()
	fmt.Fprintf(v.w, dim+format+reset+"\n", a...)
}

func (v *view) show(ev chat.Event) {
	switch ev.Kind {
	case chat.EventText:
		v.clearThinking()
		io.WriteString(v.w, ev.Text)
		if ev.Text != "" {
			v.started, v.atLineStart = true, strings.HasSuffix(ev.Text, "\n")
		}
	case chat.EventThinking:
		if ev.Text != "" {
			fmt.Fprint(v.w, dim+ev.Text+reset)
			v.started = true
		} else if !v.thinking && !v.started {
			fmt.Fprint(v.w, dim+"thinking…"+reset)
			v.thinking = true
		}
	case chat.EventReply:
		v.endLine()
		fmt.Fprintln(v.w, ev.Text)
	case chat.EventNotice:
		v.line("[%s]", ev.Text)
	case chat.EventRestart:
		v.line("[%s — the answer above is discarded and starts again]", ev.Text)
	case chat.EventTool:
		v.line("⚙ %s: %s", ev.Tool.Name, ev.Tool.Line)
	case chat.EventError:
		// Send returns it too; it is printed once, by send.
	case chat.EventDone:
		v.line("%s", chat.StatusLine(*ev.Stats))
	case chat.EventExit:
		v.exit = true
	}
}

// crlfWriter turns \n into \r\n: in raw mode the terminal does not.
type crlfWriter struct{ w io.Writer }

func (c crlfWriter) Write(p []byte) (int, error) {
	if _, err := c.w.Write(bytes.ReplaceAll(p, []byte("\n"), []byte("\r\n"))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// history is the line editor's history, kept in a file between runs: one
// JSON string a line, so multi-line messages stay whole.
type history struct {
	path    string
	entries []string // oldest first
}

func loadHistory(path string) *history {
	h := &history{path: path}
	data, err := os.ReadFile(path)
	if err != nil {
		return h
	}
	for _, l := range strings.Split(string(data), "\n") {
		var s string
		if json.Unmarshal([]byte(l), &s) == nil && s != "" {
			h.entries = append(h.entries, s)
		}
	}
	if len(h.entries) > historyLimit {
		h.entries = h.entries[len(h.entries)-historyLimit:]
	}
	return h
}

// Add is called by the line editor for every line read; whole messages
// are recorded by save instead.
func (h *history) Add(string) {}

func (h *history) Len() int { return len(h.entries) }

func (h *history) At(i int) string { return h.entries[len(h.entries)-1-i] }

// save records a message and appends it to the file (0600: it is what the
// owner typed).
func (h *history) save(s string) {
	h.entries = append(h.entries, s)
	if len(h.entries) > historyLimit {
		h.entries = h.entries[1:]
	}
	b, _ := json.Marshal(s)
	f, err := os.OpenFile(h.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	f.Write(append(b, '\n'))
	f.Close()
}
