// Package logging sets up Mai's structured logs: zerolog JSON lines in
// <data dir>/.logs/mai.log, rotated by lumberjack, and readable console
// output on stderr when stderr is a terminal. Every line carries time,
// level, component and message; known secret values are replaced before a
// line reaches any output.
package logging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"gopkg.in/natefinch/lumberjack.v2"
)

// Options configures New.
type Options struct {
	// Dir is the data directory; the log file is Dir/.logs/mai.log.
	Dir        string
	Level      string // debug, info, warn, error
	MaxSizeMB  int
	MaxBackups int
	MaxAgeDays int
	Compress   bool
	// Console, when not nil, receives human-readable lines (stderr on a TTY).
	Console io.Writer
	// Secrets are values that must never appear in any log output.
	Secrets []string
}

// Logs is an open log destination.
type Logs struct {
	Logger zerolog.Logger
	// Path is the log file.
	Path   string
	file   *lumberjack.Logger
	filter *levelFilter
}

// New opens the log file (creating .logs with mode 0700) and returns a logger
// with component "mai". Use Component for sub-loggers.
func New(o Options) (*Logs, error) {
	dir := filepath.Join(o.Dir, ".logs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	path := filepath.Join(dir, "mai.log")
	// lumberjack opens lazily; open once now so a permission problem shows at start.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log file: %w", err)
	}
	f.Close()
	file := &lumberjack.Logger{
		Filename:   path,
		MaxSize:    o.MaxSizeMB,
		MaxBackups: o.MaxBackups,
		MaxAge:     o.MaxAgeDays,
		Compress:   o.Compress,
	}
	var out io.Writer = file
	if o.Console != nil {
		console := zerolog.ConsoleWriter{Out: o.Console, TimeFormat: time.Kitchen, PartsOrder: []string{
			zerolog.TimestampFieldName, zerolog.LevelFieldName, "component", zerolog.MessageFieldName,
		}, FieldsExclude: []string{"component"}}
		out = zerolog.MultiLevelWriter(file, console)
	}
	filter := &levelFilter{w: NewRedactor(out, o.Secrets)}
	filter.level.Store(int32(parseLevel(o.Level)))
	// The logger passes everything down to the filter, whose level SetLevel
	// changes while the daemon runs (SIGHUP); loggers made from this one
	// keep working.
	logger := zerolog.New(filter).Level(zerolog.DebugLevel).With().Timestamp().Str("component", "mai").Logger()
	return &Logs{Logger: logger, Path: path, file: file, filter: filter}, nil
}

func parseLevel(s string) zerolog.Level {
	level, err := zerolog.ParseLevel(s)
	if err != nil || s == "" {
		return zerolog.InfoLevel
	}
	return level
}

// SetLevel changes the level of every logger made from l's (debug, info,
// warn, error); an unknown name is an error and changes nothing.
func (l *Logs) SetLevel(level string) error {
	lv, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	l.filter.level.Store(int32(lv))
	return nil
}

// levelFilter drops lines below its level.
type levelFilter struct {
	w     zerolog.LevelWriter
	level atomic.Int32
}

func (f *levelFilter) Write(p []byte) (int, error) { return f.w.Write(p) }

func (f *levelFilter) WriteLevel(level zerolog.Level, p []byte) (int, error) {
	if level < zerolog.Level(f.level.Load()) && level != zerolog.NoLevel {
		return len(p), nil
	}
	return f.w.WriteLevel(level, p)
}

// Component returns the logger of one part of Mai, made from the logger of
// Mai or of another part: the same output, level and hooks (the time), with
// component=name as its only context field. zerolog appends context fields
// and would write a second "component" key, which strict JSON readers
// reject; so the context starts afresh, and fields a caller added to l are
// not carried over.
func Component(l zerolog.Logger, name string) zerolog.Logger {
	return l.With().Reset().Str("component", name).Logger()
}

// Close flushes and closes the log file.
func (l *Logs) Close() error { return l.file.Close() }

// Redactor replaces every occurrence of a secret value in what passes
// through it. zerolog writes one whole line per Write call, so a secret is
// never split across calls.
type Redactor struct {
	w       io.Writer
	secrets [][]byte
}

// NewRedactor wraps w. Empty secrets and secrets shorter than 4 bytes are
// ignored: replacing every "a" would make logs unreadable and protects nothing.
func NewRedactor(w io.Writer, secrets []string) *Redactor {
	r := &Redactor{w: w}
	for _, s := range secrets {
		if len(s) < 4 {
			continue
		}
		r.secrets = append(r.secrets, []byte(s))
		// A secret with quotes, backslashes or control characters appears
		// escaped inside a JSON line.
		if esc, err := json.Marshal(s); err == nil && string(esc[1:len(esc)-1]) != s {
			r.secrets = append(r.secrets, esc[1:len(esc)-1])
		}
	}
	return r
}

func (r *Redactor) redact(p []byte) []byte {
	for _, s := range r.secrets {
		if bytes.Contains(p, s) {
			p = bytes.ReplaceAll(p, s, redacted)
		}
	}
	return p
}

var redacted = []byte("[REDACTED]")

// Write writes p with secrets replaced. It reports len(p) on success so
// callers do not mistake the length change for a short write.
func (r *Redactor) Write(p []byte) (int, error) {
	if _, err := r.w.Write(r.redact(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteLevel keeps level routing when the wrapped writer is a LevelWriter.
func (r *Redactor) WriteLevel(level zerolog.Level, p []byte) (int, error) {
	lw, ok := r.w.(zerolog.LevelWriter)
	if !ok {
		return r.Write(p)
	}
	if _, err := lw.WriteLevel(level, r.redact(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}
