package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/maicompanion/mai/internal/approval"
	"github.com/maicompanion/mai/internal/audit"
	"github.com/maicompanion/mai/internal/risk"
	"github.com/maicompanion/mai/internal/store"
)

const auditExamples = "  mai audit verify                       # check every entry and the anchor; exit 1 naming the first bad entry\n" +
	"  mai audit verify --head 42:9f86d0…     # also check the log against the head Mai DMed you (SEQ:HASH)\n" +
	"  mai audit list --limit 20              # the last 20 entries\n" +
	"  mai audit list --action approval --since 2026-06-01 --json\n" +
	"  mai audit reanchor --reason 'restored the data directory from a copy'"

// auditCommand is the audit group.
func auditCommand() command {
	return command{name: "audit", summary: "verify the tamper-evident audit log, or list its entries", config: true, examples: auditExamples,
		subs: []command{
			{name: "verify", summary: "check every entry and the anchor; exit 1 naming the first bad entry", run: (*Main).auditVerify},
			{name: "list", summary: "the entries, newest last", run: (*Main).auditList},
			{name: "reanchor", summary: "accept a log whose newest entries were lost legitimately", run: (*Main).auditReanchor},
		}}
}

// ledger is the database with its audit log and approval requests.
type ledger struct {
	db        *store.DB
	log       *audit.Log
	approvals *approval.Service
	// sendHead, in the daemon, queues the head for the owner's DMs and
	// says where it went (see notify).
	sendHead func(ctx context.Context) (audit.Head, string, error)
}

// auditHead is /audit: the log's head as SEQ:HASH, and where a copy of it
// went ("" when nowhere: mai chat without a daemon).
func (l *ledger) auditHead(ctx context.Context) (string, string, error) {
	h, sentTo := audit.Head{}, ""
	var err error
	if l.sendHead != nil {
		h, sentTo, err = l.sendHead(ctx)
	} else {
		h, err = audit.LatestHead(ctx, l.db.DB)
	}
	if err == nil && h.Seq == 0 {
		err = errors.New("the audit log has no entries yet")
	}
	return h.String(), sentTo, err
}

// openLedger opens the database and the audit log (creating the key at
// first start, catching the anchor up after a crash) and the approval
// requests, whose listeners are told about every change.
func (m *Main) openLedger(ctx context.Context, listeners ...approval.Listener) (*ledger, error) {
	db, err := store.Open(ctx, m.cfg.MemoryDBPath, store.Options{})
	if err != nil {
		return nil, err
	}
	log, err := audit.Open(ctx, db.DB, audit.Options{Dir: m.cfg.DataDir})
	if err != nil {
		db.Close()
		return nil, keyAdvice(err, m.cfg.DataDir)
	}
	svc := approval.New(db.DB, approval.Options{Audit: log, DiscordOwner: m.cfg.DiscordUserID,
		Remind: m.cfg.ApprovalRemind, Expire: m.cfg.ApprovalExpire}, listeners...)
	return &ledger{db: db, log: log, approvals: svc}, nil
}

// openReadLedger opens the database read-only (an empty one in memory
// when none exists yet) for commands that only read requests: no audit
// log, since they record nothing.
func (m *Main) openReadLedger(ctx context.Context) (*ledger, error) {
	db, err := m.openReadDB(ctx)
	if err != nil {
		return nil, err
	}
	return &ledger{db: db, approvals: approval.New(db.DB, approval.Options{})}, nil
}

// openReadDB opens the database read-only, or an empty one in memory when
// there is none yet.
func (m *Main) openReadDB(ctx context.Context) (*store.DB, error) {
	db, err := m.openDB(ctx, readOnly)
	if errors.Is(err, store.ErrNoDatabase) {
		return store.OpenEmpty(ctx, store.Options{})
	}
	return db, err
}

func (l *ledger) close() error {
	var err error
	if l.log != nil {
		err = l.log.Close()
	}
	return errors.Join(err, l.db.Close())
}

// keyAdvice adds the fix to a key problem, which is not tampering.
func keyAdvice(err error, dataDir string) error {
	key := filepath.Join(dataDir, audit.KeyFile)
	switch {
	case errors.Is(err, audit.ErrKeyMissing):
		return fmt.Errorf("%w. This is a missing key, not tampering: put back %s from a backup of the data directory (database backups do not hold it); Mai will not make a new key for a log that has entries, since they could no longer be checked", err, key)
	case errors.Is(err, audit.ErrWrongKey):
		return fmt.Errorf("%w. This is a wrong key, not tampering: put back the %s this log was written with, from a backup of the data directory", err, key)
	case errors.Is(err, audit.ErrKeyUnsafe):
		return fmt.Errorf("%w: run 'chmod 600 %s'", err, key)
	}
	return err
}

// record appends entries to the audit log, for a command that does not
// otherwise open it; what was done is done, so the error says so.
func (m *Main) record(ctx context.Context, recs ...audit.Record) error {
	l, err := m.openLedger(ctx)
	if err == nil {
		_, err = l.log.Append(ctx, recs...)
		err = errors.Join(err, l.close())
	}
	if err != nil {
		return fmt.Errorf("done, but not recorded in the audit log: %w", err)
	}
	return nil
}

func (m *Main) auditVerify(ctx context.Context, args []string) error {
	fs := m.newFlagSet("audit verify", "audit verify [--head SEQ:HASH] [--json]", auditExamples)
	asJSON := fs.Bool("json", false, "print the report as JSON: ok, entries, last_seq, anchor, unanchored, problem {seq, kind, message}")
	headFlag := fs.String("head", "", "a copy of the log's head, SEQ:HASH as Mai DMs it daily and on /audit: entry SEQ must have HASH and the chain must verify up to it")
	if _, err := m.parse(fs, args, 0); err != nil {
		return err
	}
	var head *audit.Head
	if *headFlag != "" {
		h, err := audit.ParseHead(*headFlag)
		if err != nil {
			return fmt.Errorf("%w: --head: %w", errUsage, err)
		}
		head = &h
	}
	db, err := m.openReadDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	// Read-only: nothing is created and the anchor stays where it is, so
	// this is safe beside the daemon (entries past the anchor still chain).
	rep, err := audit.Check(ctx, db.DB, m.cfg.DataDir)
	if err != nil {
		keyErr := errors.Is(err, audit.ErrKeyMissing) || errors.Is(err, audit.ErrWrongKey) || errors.Is(err, audit.ErrKeyUnsafe)
		if *asJSON && keyErr {
			m.writeJSON(map[string]any{"ok": false, "key_error": err.Error()})
		}
		return keyAdvice(err, m.cfg.DataDir)
	}
	if head != nil && rep.OK {
		// The chain and the anchor hold; whether they are the chain the
		// copy of the head was taken from is the question left.
		hrep, err := audit.CheckHead(ctx, db.DB, m.cfg.DataDir, *head)
		if err != nil {
			return err
		}
		rep.Problem, rep.OK = hrep.Problem, hrep.OK
	}
	if *asJSON {
		if err := m.writeJSON(rep); err != nil {
			return err
		}
	} else if rep.OK {
		anchored := "no anchor yet"
		if rep.Anchor != nil {
			anchored = fmt.Sprintf("anchored at entry %d, %d newer", rep.Anchor.Seq, rep.Unanchored)
		}
		fmt.Fprintf(m.Stdout, "audit log OK: %d entries (%s)\n", rep.Entries, anchored)
		if head != nil {
			fmt.Fprintf(m.Stdout, "entry %d matches the copy of the head\n", head.Seq)
		}
	} else if rep.Problem.Kind == audit.KindRewritten {
		fmt.Fprintf(m.Stdout, "audit log REWRITTEN: %s\n", rep.Problem.Message)
	} else {
		fmt.Fprintf(m.Stdout, "audit log FAILED: %s\n", rep.Problem.Message)
		if rep.Problem.Seq > 0 {
			fmt.Fprintf(m.Stdout, "first bad entry: %d (%s); the %d entries before it verify\n", rep.Problem.Seq, rep.Problem.Kind, rep.Problem.Seq-1)
		}
	}
	if !rep.OK {
		return exitError{code: 1}
	}
	return nil
}

func (m *Main) auditList(ctx context.Context, args []string) error {
	fs := m.newFlagSet("audit list", "audit list [--since DATE] [--action A] [--limit N] [--json]", auditExamples)
	since := fs.String("since", "", "only entries at or after DATE (YYYY-MM-DD or RFC 3339)")
	action := fs.String("action", "", "only this action, or every action under a prefix (approval, sandbox.run)")
	limit := fs.Int("limit", 0, "only the newest N entries (0: all)")
	asJSON := fs.Bool("json", false, "print a JSON array of entries: seq, time, actor, action, subject, details, prev_hash, hash")
	_, err := m.parse(fs, args, 0)
	if err != nil {
		return err
	}
	f := audit.Filter{Action: *action, Limit: *limit}
	if *limit < 0 {
		return fmt.Errorf("%w: --limit must be 0 or more", errUsage)
	}
	if *since != "" {
		if f.Since, err = parseSince(*since); err != nil {
			return err
		}
	}
	// Reading needs no key: the log can be listed even when it is lost.
	db, err := m.openReadDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	entries, err := audit.List(ctx, db.DB, f)
	if err != nil {
		return err
	}
	if *asJSON {
		return m.writeJSON(entries)
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tACTOR\tACTION\tSUBJECT\tDETAILS")
	for _, e := range entries {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.Local().Format("2006-01-02 15:04:05"), e.Actor, e.Action, dash(e.Subject), oneLine(string(e.Details), 100))
	}
	return tw.Flush()
}

// parseSince accepts YYYY-MM-DD (midnight UTC) or RFC 3339.
func parseSince(s string) (time.Time, error) {
	for _, layout := range []string{time.DateOnly, time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: --since %q is not a date: use YYYY-MM-DD or RFC 3339", errUsage, s)
}

func (m *Main) auditReanchor(ctx context.Context, args []string) error {
	fs := m.newFlagSet("audit reanchor", "audit reanchor [--reason TEXT] [--pin-stdin]", auditExamples)
	reason := fs.String("reason", "accepted by the owner", "why the log's newest entries are gone (recorded)")
	pinStdin := pinFlag(fs)
	if _, err := m.parse(fs, args, 0); err != nil {
		return err
	}
	if err := m.requirePIN(ctx, m.pinInput(*pinStdin)); err != nil {
		return err
	}
	l, err := m.openLedger(ctx)
	if err != nil {
		return err
	}
	defer l.close()
	e, err := l.log.Reanchor(ctx, approval.LocalOwner, *reason)
	if errors.Is(err, audit.ErrTampered) {
		return fmt.Errorf("%w; nothing was changed: run 'mai audit verify' to see the first bad entry", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "the audit log is anchored again at entry %d, which records the old anchor and the reason\n", e.Seq)
	return nil
}

// recordPolicy audits a change of the workspace's risk policy, made by
// whatever means since it was last seen: its SHA-256 is compared with the
// one the last risk.policy entry recorded.
func (m *Main) recordPolicy(ctx context.Context, l *ledger) error {
	path := filepath.Join(m.cfg.Workspace, filepath.FromSlash(risk.PolicyFile))
	sum := "none"
	if b, err := os.ReadFile(path); err == nil {
		h := sha256.Sum256(b)
		sum = hex.EncodeToString(h[:])
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	last, err := audit.List(ctx, l.db.DB, audit.Filter{Action: "risk.policy", Limit: 1})
	if err != nil {
		return err
	}
	prev := "none"
	if len(last) == 1 {
		var d struct {
			SHA256 string `json:"sha256"`
		}
		json.Unmarshal(last[0].Details, &d)
		prev = d.SHA256
	}
	if prev == sum {
		return nil
	}
	_, err = l.log.Append(ctx, audit.Record{Actor: "workspace", Action: "risk.policy", Subject: path,
		Details: map[string]string{"sha256": sum, "previous_sha256": prev}})
	return err
}

// recordRestore audits a database restore. The restored log is older than
// the anchor, which would read as a cut-off tail: the log is anchored again
// at an entry that records the old anchor, once its chain verifies.
func (m *Main) recordRestore(ctx context.Context, from, kept string) error {
	l, err := m.openLedger(ctx)
	if err != nil {
		return fmt.Errorf("restored, but not recorded in the audit log: %w", err)
	}
	defer l.close()
	_, rerr := l.log.Reanchor(ctx, approval.LocalOwner, "database restored from "+from)
	if errors.Is(rerr, audit.ErrTampered) {
		fmt.Fprintf(m.Stderr, "mai: warning: the restored database's audit log does not verify (%v); see 'mai audit verify'\n", rerr)
	} else if rerr != nil {
		return fmt.Errorf("restored, but not recorded in the audit log: %w", rerr)
	}
	_, err = l.log.Append(ctx, audit.Record{Actor: approval.LocalOwner, Action: "database.restore", Subject: m.cfg.MemoryDBPath,
		Details: map[string]string{"from": from, "replaced_kept_as": kept}})
	if err != nil {
		return fmt.Errorf("restored, but not recorded in the audit log: %w", err)
	}
	return nil
}
