package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/maicompanion/mai/internal/approval"
	"github.com/maicompanion/mai/internal/audit"
)

const pinExamples = "  mai pin set                            # type the new PIN twice (and the old one first, when one is stored)\n" +
	"  printf '2468\\n' | mai pin set          # the new PIN from standard input\n" +
	"  printf 'old\\nnew\\n' | mai pin set --pin-stdin\n" +
	"  MAI_PIN=2468 mai pin clear"

// pinCommand is the pin group.
func pinCommand() command {
	return command{name: "pin", summary: "set or clear the PIN that deciding and state-changing commands need", config: true, examples: pinExamples,
		subs: []command{
			{name: "set", summary: "store the owner's PIN (argon2id hash; asks for the old one first)", run: (*Main).pinSet},
			{name: "clear", summary: "remove the stored PIN", run: (*Main).pinClear},
		}}
}

// pinStart parses 'mai pin set|clear' and checks the PIN stored now.
func (m *Main) pinStart(ctx context.Context, verb string, args []string) (*pinSource, error) {
	fs := m.newFlagSet("pin "+verb, "pin "+verb+" [--pin-stdin]", pinExamples)
	pinStdin := pinFlag(fs)
	if _, err := m.parse(fs, args, 0); err != nil {
		return nil, err
	}
	src := m.pinInput(*pinStdin)
	if err := m.requirePIN(ctx, src); err != nil {
		return nil, err
	}
	return src, nil
}

func (m *Main) pinClear(ctx context.Context, args []string) error {
	if _, err := m.pinStart(ctx, "clear", args); err != nil {
		return err
	}
	if err := m.pinStore().Clear(); errors.Is(err, approval.ErrNoPIN) {
		return fmt.Errorf("no PIN is stored; nothing to clear")
	} else if err != nil {
		return err
	}
	if err := m.record(ctx, audit.Record{Actor: approval.LocalOwner, Action: "pin.clear", Subject: "pin"}); err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, "PIN cleared: commands that change state no longer ask for one")
	return nil
}

func (m *Main) pinSet(ctx context.Context, args []string) error {
	src, err := m.pinStart(ctx, "set", args)
	if err != nil {
		return err
	}
	store := m.pinStore()
	had, err := store.Stored()
	if err != nil {
		return err
	}
	pin, err := src.newPIN()
	if err != nil {
		return err
	}
	if err := store.Set(pin); errors.Is(err, approval.ErrShortPIN) {
		return fmt.Errorf("%w; nothing was changed", err)
	} else if err != nil {
		return err
	}
	if err := m.record(ctx, audit.Record{Actor: approval.LocalOwner, Action: "pin.set", Subject: "pin", Details: map[string]bool{"replaced": had}}); err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, "PIN stored (as an argon2id hash): deciding approvals and changing state now need it")
	return nil
}

func (m *Main) pinStore() approval.PINStore { return approval.PINStore{Dir: m.cfg.DataDir} }

// pinFlag adds --pin-stdin to a command that needs the PIN when one is stored.
func pinFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("pin-stdin", false, "read the PIN from the first line of standard input (needed only when a PIN is stored; else MAI_PIN, else typed at the terminal)")
}

// pinSource is where a command reads PINs from: lines of standard input
// with --pin-stdin, else MAI_PIN, else typed without echo at a terminal.
type pinSource struct {
	m     *Main
	lines *bufio.Reader // --pin-stdin
}

func (m *Main) pinInput(fromStdin bool) *pinSource {
	p := &pinSource{m: m}
	if fromStdin {
		p.lines = bufio.NewReader(m.Stdin)
	}
	return p
}

// current returns the PIN the owner presents.
func (p *pinSource) current() (string, error) {
	if p.lines != nil {
		return p.line("the PIN")
	}
	if pin := p.m.cfg.PIN.Reveal(); pin != "" {
		return pin, nil
	}
	if p.terminal() {
		return p.typed("PIN: ")
	}
	return "", errors.New("a PIN is stored and this command needs it: pass it on standard input with --pin-stdin, set MAI_PIN, or run it at a terminal")
}

// newPIN returns the PIN to store: the next line of standard input, or
// typed twice at a terminal.
func (p *pinSource) newPIN() (string, error) {
	if p.lines == nil && p.terminal() {
		pin, err := p.typed("New PIN: ")
		if err != nil {
			return "", err
		}
		again, err := p.typed("New PIN again: ")
		if err != nil {
			return "", err
		}
		if pin != again {
			return "", errors.New("the two PINs differ; nothing was changed")
		}
		return pin, nil
	}
	if p.lines == nil {
		p.lines = bufio.NewReader(p.m.Stdin)
	}
	return p.line("the new PIN")
}

func (p *pinSource) line(what string) (string, error) {
	s, err := p.lines.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && s != "") {
		return "", fmt.Errorf("%w: expected %s on a line of standard input", errUsage, what)
	}
	return strings.TrimRight(s, "\r\n"), nil
}

func (p *pinSource) terminal() bool { return isTerminal(p.m.Stdin) && isTerminal(p.m.Stderr) }

// typed reads a line from the terminal without echoing it.
func (p *pinSource) typed(prompt string) (string, error) {
	fmt.Fprint(p.m.Stderr, prompt)
	b, err := term.ReadPassword(int(p.m.Stdin.(*os.File).Fd()))
	fmt.Fprintln(p.m.Stderr)
	if err != nil {
		return "", fmt.Errorf("read the PIN: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// presentedPIN returns the PIN the owner presents when one is stored, ""
// otherwise, for a check elsewhere (chatPIN, in this process or the
// daemon's).
func (m *Main) presentedPIN(src *pinSource) (string, error) {
	if ok, err := m.pinStore().Stored(); err != nil || !ok {
		return "", err
	}
	return src.current()
}

// requirePIN checks the owner's PIN when one is stored. Wrong PINs and the
// lock-out they cause are audited.
func (m *Main) requirePIN(ctx context.Context, src *pinSource) error {
	store := m.pinStore()
	if ok, err := store.Stored(); err != nil || !ok {
		return err
	}
	pin, err := src.current()
	if err != nil {
		return err
	}
	res, err := store.Check(pin)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, approval.ErrPINLocked):
		return fmt.Errorf("%d wrong PINs in a row: commands that need the PIN are locked until %s; try again then",
			res.Failures, res.LockedUntil.Local().Format(time.TimeOnly))
	case !errors.Is(err, approval.ErrWrongPIN):
		return err
	}
	recs := []audit.Record{{Actor: approval.LocalOwner, Action: "pin.wrong", Subject: "pin", Details: map[string]int{"in_a_row": res.Failures}}}
	if res.Locked {
		recs = append(recs, audit.Record{Actor: "mai", Action: "pin.lock", Subject: "pin",
			Details: map[string]any{"until": res.LockedUntil.UTC(), "wrong_in_a_row": res.Failures}})
	}
	rerr := m.record(ctx, recs...)
	if res.Locked {
		return errors.Join(fmt.Errorf("wrong PIN, %d in a row: commands that need the PIN are locked until %s",
			res.Failures, res.LockedUntil.Local().Format(time.TimeOnly)), rerr)
	}
	return errors.Join(fmt.Errorf("wrong PIN; %d more wrong in a row lock these commands for %s", approval.PINMaxFailures-res.Failures, approval.PINLockout), rerr)
}
