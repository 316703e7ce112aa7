package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/maicompanion/mai/internal/control"
	"github.com/maicompanion/mai/internal/logging"
	"github.com/maicompanion/mai/internal/memory"
	"github.com/maicompanion/mai/internal/switchlog"
)

const memoryExamples = `  mai memory search "where did I put my passport" --k 5
  mai memory stats --json
  mai memory compress --dry-run
  mai memory export --user 123456789 > history.jsonl
  mai memory import history.jsonl
  mai memory facts
  mai memory forget --user 123456789 --before 2025-01-01
  mai memory forget --fact 42
  mai memory backup
  mai memory restore ~/.local/share/mai/backups/mai-20260601T030000Z.db`

// memoryCommand is the memory group.
func memoryCommand() command {
	return command{name: "memory", summary: "search, inspect, compress, export, import and forget memories", config: true, examples: memoryExamples,
		subs: []command{
			{name: "search", summary: "recall memories by words and meaning", run: (*Main).memorySearch},
			{name: "stats", summary: "what the database holds, by tier", run: (*Main).memoryStats},
			{name: "compress", summary: "run the compression pass now (--dry-run reports only)", run: (*Main).memoryCompress},
			{name: "export", summary: "write everything, archive included, as JSON lines", run: (*Main).memoryExport},
			{name: "import", summary: "read an export back", run: (*Main).memoryImport},
			{name: "facts", summary: "the facts Mai has learned", run: (*Main).memoryFacts},
			{name: "forget", summary: "delete a user's history, or one fact, for real", run: (*Main).memoryForget},
			{name: "backup", summary: "copy the database, even while the daemon runs", run: (*Main).memoryBackup},
			{name: "restore", summary: "replace the database with a backup (daemon stopped)", run: (*Main).memoryRestore},
		}}
}

// openMemory opens the configured database for access; the caller closes
// it. With models, memory embeds queries and writes summaries with the
// router's models, as the daemon does; a command that writes then logs to
// the log file, a read command nowhere.
func (m *Main) openMemory(ctx context.Context, access dbAccess, models bool) (*memory.Store, func(), error) {
	db, err := m.openDB(ctx, access)
	if err != nil {
		return nil, nil, err
	}
	closeDB := func() { db.Close() }
	if !models {
		return memory.New(db, memory.Options{}), closeDB, nil
	}
	log, closeLogs := zerolog.Nop(), func() {}
	if access == readWrite {
		logs, err := m.openLogs(nil)
		if err != nil {
			db.Close()
			return nil, nil, err
		}
		log, closeLogs = logging.Component(logs.Logger, "router"), func() { logs.Close() }
	}
	r, _, err := m.newRouter(ctx, log, switchlog.New(db.DB), access)
	if err != nil {
		closeLogs()
		db.Close()
		return nil, nil, err
	}
	opts := memory.Options{Embedder: boundedEmbedder{r, planTimeout}, Summarizer: memory.NewModelSummarizer(r), Vocabularies: r}
	return memory.New(db, opts), func() { closeLogs(); db.Close() }, nil
}

// boundedEmbedder gives an embedding at most d: a backend that never
// answers costs a search that long, then recall goes by words alone.
type boundedEmbedder struct {
	memory.Embedder
	d time.Duration
}

func (b boundedEmbedder) Embed(ctx context.Context, inputs []string) ([][]float32, string, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.Embedder.Embed(ctx, inputs)
}

// owner is the default --user: the Discord owner when configured, else the
// terminal user.
func (m *Main) owner() string {
	if m.cfg.DiscordUserID != "" {
		return m.cfg.DiscordUserID
	}
	return memory.LocalUser
}

// parseMemoryFlags parses a memory subcommand's flags and at most max
// operands.
func (m *Main) parseMemoryFlags(name, synopsis string, args []string, max int, setup func(*flag.FlagSet)) ([]string, error) {
	fs := m.newFlagSet("memory "+name, synopsis, memoryExamples)
	setup(fs)
	return m.parse(fs, args, max)
}

func (m *Main) memorySearch(ctx context.Context, args []string) error {
	var user string
	var k int
	var asJSON bool
	rest, err := m.parseMemoryFlags("search", "memory search QUERY [--user ID] [--k N] [--json]", args, anyOperands, func(f *flag.FlagSet) {
		f.StringVar(&user, "user", "", "whose memories (default: the owner, DISCORD_USER_ID, or 'local')")
		f.IntVar(&k, "k", 10, "how many memories to show")
		f.BoolVar(&asJSON, "json", false, "print the results as JSON")
	})
	if err != nil {
		return err
	}
	query := strings.TrimSpace(strings.Join(rest, " "))
	if query == "" {
		return fmt.Errorf("%w: search needs a QUERY (see 'mai memory search --help')", errUsage)
	}
	if k <= 0 {
		return fmt.Errorf("%w: --k must be at least 1", errUsage)
	}
	if user == "" {
		user = m.owner()
	}
	s, done, err := m.openMemory(ctx, readOnly, true)
	if err != nil {
		return err
	}
	defer done()
	mems, err := s.Recall(ctx, user, query, k)
	if err != nil {
		return err
	}
	if asJSON {
		if mems == nil {
			mems = []memory.Recollection{}
		}
		return m.writeJSON(struct {
			User    string                `json:"user"`
			Query   string                `json:"query"`
			Results []memory.Recollection `json:"results"`
		}{user, query, mems})
	}
	if len(mems) == 0 {
		fmt.Fprintf(m.Stdout, "No memories of %s match %q.\n", user, query)
		return nil
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCORE\tDATE\tFROM\tTEXT")
	for _, x := range mems {
		from := string(x.Role)
		if x.Kind == memory.KindSummary {
			from = "summary (" + x.Tier + ")"
		}
		fmt.Fprintf(tw, "%.4f\t%s\t%s\t%s\n", x.Score, x.Time.Format("2006-01-02 15:04"), from, oneLine(x.Content, 100))
	}
	return tw.Flush()
}

// oneLine collapses whitespace and cuts text to max runes.
func oneLine(text string, max int) string {
	s := strings.Join(strings.Fields(text), " ")
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}

func (m *Main) memoryStats(ctx context.Context, args []string) error {
	var asJSON bool
	if _, err := m.parseMemoryFlags("stats", "memory stats [--json]", args, 0, func(f *flag.FlagSet) {
		f.BoolVar(&asJSON, "json", false, "print the statistics as JSON")
	}); err != nil {
		return err
	}
	s, done, err := m.openMemory(ctx, readOnly, false)
	if err != nil {
		return err
	}
	defer done()
	st, err := s.Stats(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return m.writeJSON(st)
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "database\t%s\t%s\n", m.cfg.MemoryDBPath, humanBytes(st.FileBytes))
	fmt.Fprintf(tw, "users\t%d\n", st.Users)
	fmt.Fprintf(tw, "conversations\t%d\n", st.Conversations)
	fmt.Fprintf(tw, "messages\t%d\t(%d archived)\n", st.Messages, st.ArchivedMessages)
	fmt.Fprintf(tw, "facts\t%d\n", st.Facts)
	fmt.Fprintf(tw, "embeddings\t%d\t%s\n", st.Embeddings, embedLine(st.Embedding))
	for _, x := range st.Summaries {
		fmt.Fprintf(tw, "summaries (%s)\t%d\t%s\n", x.Name, x.Count, humanBytes(x.Bytes))
	}
	for _, x := range st.Tiers {
		fmt.Fprintf(tw, "tier %s\t%d messages\t%s\n", x.Name, x.Count, humanBytes(x.Bytes))
	}
	if st.Oldest != nil {
		fmt.Fprintf(tw, "oldest\t%s\n", st.Oldest.Format(time.RFC3339))
		fmt.Fprintf(tw, "newest\t%s\n", st.Newest.Format(time.RFC3339))
	}
	return tw.Flush()
}

// embedLine says how far the daemon's background embedding has come.
func embedLine(b memory.EmbedBacklog) string {
	if b.Model == "" {
		return fmt.Sprintf("(%d messages wait for an embedding model to answer 'mai serve')", b.Pending)
	}
	if b.Pending == 0 {
		return "(all messages embedded with " + b.Model + ")"
	}
	return fmt.Sprintf("(%d messages wait for %s; 'mai serve' embeds them in the background)", b.Pending, b.Model)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func (m *Main) memoryCompress(ctx context.Context, args []string) error {
	var dry, asJSON bool
	if _, err := m.parseMemoryFlags("compress", "memory compress [--dry-run] [--json]", args, 0, func(f *flag.FlagSet) {
		f.BoolVar(&dry, "dry-run", false, "report what would be compressed and change nothing")
		f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	}); err != nil {
		return err
	}
	s, done, err := m.memoryChanges(ctx, true)
	if err != nil {
		return err
	}
	defer done()
	r, err := s.Compress(ctx, control.MemoryCompress{DryRun: dry})
	if err != nil {
		return fmt.Errorf("compress memory (steps done so far are kept; run it again to finish): %w", err)
	}
	if asJSON {
		if r.Steps == nil {
			r.Steps = []memory.Step{}
		}
		return m.writeJSON(r)
	}
	verb := "compressed"
	if dry {
		verb = "would compress"
	}
	fmt.Fprintf(m.Stdout, "%s: %d conversation-days to key points, %d conversation-weeks condensed, %d conversation-days (%d messages) archived\n",
		verb, r.KeyPoints, r.Condensed, r.Archived, r.ArchivedMessages)
	fmt.Fprintf(m.Stdout, "hot text %s → %s, archive %s → %s\n", humanBytes(r.HotBytesBefore), humanBytes(r.HotBytesAfter),
		humanBytes(r.ArchiveBytesBefore), humanBytes(r.ArchiveBytesAfter))
	if dry {
		fmt.Fprintln(m.Stdout, "(a dry run writes no summaries, so the sizes after are an estimate)")
	}
	return nil
}

func (m *Main) memoryExport(ctx context.Context, args []string) error {
	var user, output string
	if _, err := m.parseMemoryFlags("export", "memory export [--user ID] [--output FILE]", args, 0, func(f *flag.FlagSet) {
		f.StringVar(&user, "user", "", "export only this user (default: every user)")
		f.StringVar(&output, "output", "", "write to FILE instead of standard output")
	}); err != nil {
		return err
	}
	if output != "" {
		output = m.path(output)
	}
	s, done, err := m.openMemory(ctx, readOnly, false)
	if err != nil {
		return err
	}
	defer done()
	w := m.Stdout
	var f *os.File
	if output != "" {
		if f, err = os.OpenFile(output+".tmp", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return fmt.Errorf("create %s: %w", output, err)
		}
		defer os.Remove(output + ".tmp")
		defer f.Close()
		w = f
	}
	rep, err := s.Export(ctx, w, user)
	if errors.Is(err, memory.ErrNotFound) {
		return fmt.Errorf("no memories of user %s: check the id with 'mai memory stats'", user)
	}
	if err != nil {
		return err
	}
	if f != nil {
		if err := f.Sync(); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		if err := os.Rename(output+".tmp", output); err != nil {
			return err
		}
		fmt.Fprintf(m.Stderr, "exported %d messages, %d summaries and %d facts of %d user(s) to %s\n", rep.Messages, rep.Summaries, rep.Facts, rep.Users, output)
	}
	return nil
}

func (m *Main) memoryImport(ctx context.Context, args []string) error {
	var merge bool
	var pinStdin *bool
	rest, err := m.parseMemoryFlags("import", "memory import [--merge] [--pin-stdin] FILE|-", args, 1, func(f *flag.FlagSet) {
		f.BoolVar(&merge, "merge", false, "add the file's history even to users who already have history (duplicates what both hold)")
		pinStdin = pinFlag(f)
	})
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return fmt.Errorf("%w: import takes one FILE, or - for standard input", errUsage)
	}
	if *pinStdin && rest[0] == "-" {
		return fmt.Errorf("%w: --pin-stdin and - both read standard input: give the PIN in MAI_PIN instead", errUsage)
	}
	pin, err := m.presentedPIN(m.pinInput(*pinStdin))
	if err != nil {
		return err
	}
	var r io.Reader = m.Stdin
	if rest[0] != "-" {
		f, err := os.Open(m.path(rest[0]))
		if err != nil {
			return fmt.Errorf("open import file: %w", err)
		}
		defer f.Close()
		r = f
	}
	s, done, err := m.memoryChanges(ctx, false)
	if err != nil {
		return err
	}
	defer done()
	rep, err := s.Import(ctx, r, control.MemoryImport{Source: rest[0], Merge: merge}, pin)
	if errors.Is(err, memory.ErrHistoryExists) {
		return fmt.Errorf("%w; nothing was imported: forget that user first to restore an export exactly, or pass --merge to add it anyway", err)
	}
	var ie *memory.ImportError
	if errors.As(err, &ie) {
		return fmt.Errorf("%s: %w; fix those lines and import again", rest[0], err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "imported %d messages (%d with chat details), %d summaries, %d facts and %d embeddings of %d user(s)\n",
		rep.Messages, rep.Turns, rep.Summaries, rep.Facts, rep.Embeddings, rep.Users)
	return nil
}

func (m *Main) memoryFacts(ctx context.Context, args []string) error {
	var user string
	var asJSON bool
	if _, err := m.parseMemoryFlags("facts", "memory facts [--user ID] [--json]", args, 0, func(f *flag.FlagSet) {
		f.StringVar(&user, "user", "", "whose facts (default: the owner)")
		f.BoolVar(&asJSON, "json", false, "print the facts as JSON")
	}); err != nil {
		return err
	}
	if user == "" {
		user = m.owner()
	}
	s, done, err := m.openMemory(ctx, readOnly, false)
	if err != nil {
		return err
	}
	defer done()
	facts, err := s.Facts(ctx, user)
	if err != nil {
		return err
	}
	if asJSON {
		if facts == nil {
			facts = []memory.Fact{}
		}
		return m.writeJSON(facts)
	}
	if len(facts) == 0 {
		fmt.Fprintf(m.Stdout, "Mai has learned no facts about %s.\n", user)
		return nil
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCONFIDENCE\tUPDATED\tSUBJECT\tSTATEMENT")
	for _, f := range facts {
		fmt.Fprintf(tw, "%d\t%.2f\t%s\t%s\t%s\n", f.ID, f.Confidence, f.Updated.Format("2006-01-02"), f.Subject, oneLine(f.Statement, 80))
	}
	return tw.Flush()
}

// parseDate accepts YYYY-MM-DD (midnight UTC) or RFC 3339.
func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%w: --before %q is not a date: use YYYY-MM-DD or RFC 3339", errUsage, s)
}

func (m *Main) memoryForget(ctx context.Context, args []string) error {
	var user, before, fact string
	var pinStdin *bool
	if _, err := m.parseMemoryFlags("forget", "memory forget --user ID [--before DATE] | --fact ID [--pin-stdin]", args, 0, func(f *flag.FlagSet) {
		f.StringVar(&user, "user", "", "forget this user's history")
		f.StringVar(&before, "before", "", "with --user: only what is older than DATE (YYYY-MM-DD or RFC 3339)")
		f.StringVar(&fact, "fact", "", "forget the fact with this ID (see 'mai memory facts')")
		pinStdin = pinFlag(f)
	}); err != nil {
		return err
	}
	if (user == "") == (fact == "") || (before != "" && user == "") {
		return fmt.Errorf("%w: forget takes --user ID [--before DATE], or --fact ID", errUsage)
	}
	f := control.MemoryForget{User: user, Before: before}
	if fact != "" {
		id, err := strconv.ParseInt(fact, 10, 64)
		if err != nil || id <= 0 {
			return fmt.Errorf("%w: --fact %q is not a fact ID (see 'mai memory facts')", errUsage, fact)
		}
		f.Fact = id
	}
	if before != "" {
		if _, err := parseDate(before); err != nil {
			return err
		}
	}
	pin, err := m.presentedPIN(m.pinInput(*pinStdin))
	if err != nil {
		return err
	}
	s, done, err := m.memoryChanges(ctx, false)
	if err != nil {
		return err
	}
	defer done()
	r, err := s.Forget(ctx, f, pin)
	switch {
	case errors.Is(err, memory.ErrNotFound) && f.Fact != 0:
		return fmt.Errorf("there is no fact %d: list them with 'mai memory facts'", f.Fact)
	case errors.Is(err, memory.ErrNotFound):
		return fmt.Errorf("there are no memories of user %s: check the id with 'mai memory stats'", user)
	case err != nil:
		return err
	case f.Fact != 0:
		fmt.Fprintf(m.Stdout, "forgot fact %d\n", f.Fact)
	default:
		fmt.Fprintf(m.Stdout, "forgot %d messages, %d summaries, %d archived days and %d facts of %s\n", r.Messages, r.Summaries, r.Archives, r.Facts, user)
	}
	m.warnBackups()
	return nil
}

// warnBackups says which backup files still hold what was just forgotten:
// forgetting rewrites the database, not copies of it.
func (m *Main) warnBackups() {
	var files []string
	backups := filepath.Join(m.cfg.DataDir, "backups")
	for _, pattern := range []string{filepath.Join(backups, "*.db"), filepath.Join(backups, memory.ManualDir, "*.db"), m.cfg.MemoryDBPath + ".bak-*"} {
		found, _ := filepath.Glob(pattern)
		files = append(files, found...)
	}
	if len(files) > 0 {
		fmt.Fprintf(m.Stderr, "note: %d backup file(s) made before this still hold what was forgotten (in %s and next to %s); delete them to forget it everywhere\n",
			len(files), filepath.Join(m.cfg.DataDir, "backups"), m.cfg.MemoryDBPath)
	}
}

func (m *Main) memoryBackup(ctx context.Context, args []string) error {
	rest, err := m.parseMemoryFlags("backup", "memory backup [FILE]", args, 1, func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	if len(rest) > 1 {
		return fmt.Errorf("%w: backup takes at most one FILE", errUsage)
	}
	// Manual copies go beside the daily ones, not among them: the daily
	// rotation would prune them and count them as its own.
	dest := memory.ManualBackupPath(filepath.Join(m.cfg.DataDir, "backups"), time.Now())
	if len(rest) == 1 {
		dest = m.path(rest[0])
	}
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("%s already exists: choose another file name", dest)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
		return fmt.Errorf("create backup directory: %w", err)
	}
	db, err := m.openDB(ctx, readWrite)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Backup(ctx, dest); err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, dest)
	return nil
}

func (m *Main) memoryRestore(ctx context.Context, args []string) error {
	var pinStdin *bool
	rest, err := m.parseMemoryFlags("restore", "memory restore [--pin-stdin] FILE", args, 1, func(f *flag.FlagSet) { pinStdin = pinFlag(f) })
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return fmt.Errorf("%w: restore takes one FILE", errUsage)
	}
	if err := m.requirePIN(ctx, m.pinInput(*pinStdin)); err != nil {
		return err
	}
	kept, err := memory.Restore(ctx, m.path(rest[0]), m.cfg.MemoryDBPath, filepath.Join(m.cfg.DataDir, "mai.pid"))
	if errors.Is(err, memory.ErrDaemonRunning) {
		return fmt.Errorf("cannot restore while mai serve is running: stop it, then run 'mai memory restore' again (%w)", err)
	}
	if errors.Is(err, memory.ErrNotMaiDatabase) {
		return fmt.Errorf("%s is not a Mai memory database; nothing was changed (%w)", rest[0], err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "restored %s from %s\n", m.cfg.MemoryDBPath, rest[0])
	if kept != "" {
		fmt.Fprintf(m.Stdout, "the replaced database is kept as %s\n", kept)
	}
	return m.recordRestore(ctx, rest[0], kept)
}
