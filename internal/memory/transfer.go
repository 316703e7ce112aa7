package memory

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Record is one line of an export. Records refer to each other by Ref,
// numbered from 1 per type in the export, never by database id: an export
// imported elsewhere (or after forgetting) exports again byte for byte.
type Record struct {
	Type         string  `json:"type"` // user, conversation, message, turn, summary, fact, embedding
	Ref          int64   `json:"ref,omitempty"`
	User         string  `json:"user,omitempty"`
	Conversation int64   `json:"conversation,omitempty"`
	Channel      string  `json:"channel,omitempty"`
	Title        string  `json:"title,omitempty"`
	Role         string  `json:"role,omitempty"`
	Content      *string `json:"content,omitempty"`
	Tokens       int     `json:"tokens,omitempty"`
	TokensExact  bool    `json:"tokens_exact,omitempty"`
	Model        string  `json:"model,omitempty"`
	ReplyTo      int64   `json:"reply_to,omitempty"`
	Time         string  `json:"time,omitempty"` // RFC 3339, UTC, milliseconds
	Tier         string  `json:"tier,omitempty"`
	Period       string  `json:"period,omitempty"`
	FirstMessage int64   `json:"first_message,omitempty"`
	LastMessage  int64   `json:"last_message,omitempty"`
	From         string  `json:"from,omitempty"`
	To           string  `json:"to,omitempty"`
	Subject      string  `json:"subject,omitempty"`
	Statement    string  `json:"statement,omitempty"`
	Confidence   float64 `json:"confidence,omitempty"`
	Sources      []int64 `json:"sources,omitempty"`
	Updated      string  `json:"updated,omitempty"`
	LastUsed     string  `json:"last_used,omitempty"`
	Message      int64   `json:"message,omitempty"`
	Dims         int     `json:"dims,omitempty"`
	Vector       string  `json:"vector,omitempty"` // base64 of little-endian float32
	// A turn record: the chat core's detail of Message.
	Kind             string  `json:"kind,omitempty"` // answer, tool_call, tool_result
	ToolName         string  `json:"tool_name,omitempty"`
	ToolCallID       string  `json:"tool_call_id,omitempty"`
	PromptTokens     int     `json:"prompt_tokens,omitempty"`
	CompletionTokens int     `json:"completion_tokens,omitempty"`
	TokensPerSecond  float64 `json:"tokens_per_second,omitempty"`
	FirstTokenMS     int64   `json:"first_token_ms,omitempty"`
	FailedOver       bool    `json:"failed_over,omitempty"`
	ContextTokens    int     `json:"context_tokens,omitempty"`
	ContextWindow    int     `json:"context_window,omitempty"`
}

const timeLayout = "2006-01-02T15:04:05.000Z07:00"

func fmtMS(ms int64) string {
	if ms == 0 {
		return ""
	}
	return fromMS(ms).Format(timeLayout)
}

func parseMS(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("time %q is not RFC 3339", s)
	}
	return toMS(t), nil
}

// ExportReport counts what an export wrote.
type ExportReport struct {
	Users, Conversations, Messages, Turns, Summaries, Facts, Embeddings int
}

// Export writes user's history (every user's when user is "") as JSON
// lines, with the full original text of archived messages.
func (s *Store) Export(ctx context.Context, w io.Writer, user string) (ExportReport, error) {
	var rep ExportReport
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	var users []string
	q := `SELECT id FROM users ORDER BY id`
	args := []any{}
	if user != "" {
		q = `SELECT id FROM users WHERE id = ?`
		args = append(args, user)
	}
	if err := collect(ctx, s.db, &users, q, args...); err != nil {
		return rep, fmt.Errorf("export: %w", err)
	}
	if user != "" && len(users) == 0 {
		return rep, fmt.Errorf("export: user %s: %w", user, ErrNotFound)
	}
	for _, u := range users {
		if err := s.exportUser(ctx, enc, u, &rep); err != nil {
			return rep, fmt.Errorf("export %s: %w", u, err)
		}
	}
	return rep, bw.Flush()
}

func collect[T any](ctx context.Context, db queryer, out *[]T, q string, args ...any) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return err
		}
		*out = append(*out, v)
	}
	return rows.Err()
}

// eachRow runs fn for every row of q.
func eachRow(ctx context.Context, db queryer, q string, args []any, fn func(rowScanner) error) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// exporter writes one user's records; conversation and message ids map
// to the refs it has written.
type exporter struct {
	s     *Store
	enc   *json.Encoder
	rep   *ExportReport
	user  string
	convs map[int64]int64
	msgs  map[int64]int64
	texts *archiveTexts
}

func (s *Store) exportUser(ctx context.Context, enc *json.Encoder, user string, rep *ExportReport) error {
	x := &exporter{s: s, enc: enc, rep: rep, user: user, convs: map[int64]int64{}, msgs: map[int64]int64{}, texts: newArchiveTexts(s.db)}
	var created int64
	if err := s.db.QueryRowContext(ctx, `SELECT created_ms FROM users WHERE id = ?`, user).Scan(&created); err != nil {
		return err
	}
	if err := enc.Encode(Record{Type: "user", User: user, Time: fmtMS(created)}); err != nil {
		return err
	}
	rep.Users++
	for _, step := range []struct {
		what string
		run  func(context.Context) error
	}{
		{"conversations", x.conversations},
		{"messages", x.messages},
		{"turns", x.turns},
		{"summaries", x.summaries},
		{"facts", x.facts},
		{"embeddings", x.embeddings},
	} {
		if err := step.run(ctx); err != nil {
			return fmt.Errorf("%s: %w", step.what, err)
		}
	}
	return nil
}

func (x *exporter) conversations(ctx context.Context) error {
	return eachRow(ctx, x.s.db, `SELECT id, channel, title, started_ms FROM conversations WHERE user_id = ? ORDER BY id`, []any{x.user}, func(r rowScanner) error {
		var id, ms int64
		var rec = Record{Type: "conversation"}
		if err := r.Scan(&id, &rec.Channel, &rec.Title, &ms); err != nil {
			return err
		}
		x.rep.Conversations++
		rec.Ref, rec.Time = int64(x.rep.Conversations), fmtMS(ms)
		x.convs[id] = rec.Ref
		return x.enc.Encode(rec)
	})
}

// messages writes the user's messages, archived ones with their original
// text.
func (x *exporter) messages(ctx context.Context) error {
	return eachRow(ctx, x.s.db, `SELECT id, conversation_id, role, content, tokens, tokens_exact, model, coalesce(reply_to, 0), created_ms, coalesce(archive_id, 0)
FROM messages WHERE user_id = ? ORDER BY id`, []any{x.user}, func(r rowScanner) error {
		var id, conv, reply, ms, arch int64
		var content string
		rec := Record{Type: "message"}
		if err := r.Scan(&id, &conv, &rec.Role, &content, &rec.Tokens, &rec.TokensExact, &rec.Model, &reply, &ms, &arch); err != nil {
			return err
		}
		if arch != 0 {
			if err := x.texts.load(ctx, []int64{arch}); err != nil {
				return err
			}
			t, ok := x.texts.texts[id]
			if !ok {
				return fmt.Errorf("message %d is archived but missing from archive %d", id, arch)
			}
			content = t
		}
		x.rep.Messages++
		rec.Ref, rec.Conversation, rec.ReplyTo, rec.Time, rec.Content = int64(x.rep.Messages), x.convs[conv], x.msgs[reply], fmtMS(ms), &content
		x.msgs[id] = rec.Ref
		return x.enc.Encode(rec)
	})
}

// turns writes the chat core's details of the user's messages.
func (x *exporter) turns(ctx context.Context) error {
	return eachRow(ctx, x.s.db, `SELECT d.message_id, d.kind, d.tool_name, d.tool_call_id, d.prompt_tokens, d.completion_tokens, d.tokens_per_second,
d.first_token_ms, d.failed_over, d.context_tokens, d.context_window
FROM turn_details d JOIN messages m ON m.id = d.message_id WHERE m.user_id = ? ORDER BY d.message_id`, []any{x.user}, func(r rowScanner) error {
		var id int64
		rec := Record{Type: "turn"}
		if err := r.Scan(&id, &rec.Kind, &rec.ToolName, &rec.ToolCallID, &rec.PromptTokens, &rec.CompletionTokens, &rec.TokensPerSecond,
			&rec.FirstTokenMS, &rec.FailedOver, &rec.ContextTokens, &rec.ContextWindow); err != nil {
			return err
		}
		x.rep.Turns++
		rec.Message = x.msgs[id]
		return x.enc.Encode(rec)
	})
}

func (x *exporter) summaries(ctx context.Context) error {
	return eachRow(ctx, x.s.db, `SELECT conversation_id, tier, period, first_message_id, last_message_id, from_ms, to_ms, content, tokens, model, created_ms
FROM summaries WHERE user_id = ? ORDER BY id`, []any{x.user}, func(r rowScanner) error {
		var conv, first, last, from, to, created int64
		var content string
		rec := Record{Type: "summary"}
		if err := r.Scan(&conv, &rec.Tier, &rec.Period, &first, &last, &from, &to, &content, &rec.Tokens, &rec.Model, &created); err != nil {
			return err
		}
		x.rep.Summaries++
		rec.Conversation, rec.FirstMessage, rec.LastMessage = x.convs[conv], x.msgs[first], x.msgs[last]
		rec.From, rec.To, rec.Time, rec.Content = fmtMS(from), fmtMS(to), fmtMS(created), &content
		return x.enc.Encode(rec)
	})
}

func (x *exporter) facts(ctx context.Context) error {
	fs, err := x.s.Facts(ctx, x.user)
	if err != nil {
		return err
	}
	for i := len(fs) - 1; i >= 0; i-- { // Facts is newest first; export by id
		f := fs[i]
		x.rep.Facts++
		rec := Record{Type: "fact", Ref: int64(x.rep.Facts), Subject: f.Subject, Statement: f.Statement, Confidence: f.Confidence,
			Time: f.Created.Format(timeLayout), Updated: f.Updated.Format(timeLayout)}
		if !f.LastUsed.IsZero() {
			rec.LastUsed = f.LastUsed.Format(timeLayout)
		}
		for _, m := range f.Sources {
			if ref, ok := x.msgs[m]; ok {
				rec.Sources = append(rec.Sources, ref)
			}
		}
		if err := x.enc.Encode(rec); err != nil {
			return err
		}
	}
	return nil
}

func (x *exporter) embeddings(ctx context.Context) error {
	return eachRow(ctx, x.s.db, `SELECT e.message_id, e.model, e.dims, e.vector FROM embeddings e JOIN messages m ON m.id = e.message_id
WHERE m.user_id = ? ORDER BY e.message_id, e.model`, []any{x.user}, func(r rowScanner) error {
		var id int64
		var blob []byte
		rec := Record{Type: "embedding"}
		if err := r.Scan(&id, &rec.Model, &rec.Dims, &blob); err != nil {
			return err
		}
		x.rep.Embeddings++
		rec.Message, rec.Vector = x.msgs[id], base64.StdEncoding.EncodeToString(blob)
		return x.enc.Encode(rec)
	})
}

// ImportError lists the lines of an import file that could not be used.
type ImportError struct {
	Lines []LineError
}

// LineError is one unusable line.
type LineError struct {
	Line int
	Err  string
}

func (e *ImportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d malformed line(s), nothing was imported:", len(e.Lines))
	for i, l := range e.Lines {
		if i == 20 {
			fmt.Fprintf(&b, "\n  … and %d more", len(e.Lines)-20)
			break
		}
		fmt.Fprintf(&b, "\n  line %d: %s", l.Line, l.Err)
	}
	return b.String()
}

// ErrHistoryExists means an import names a user who already has messages:
// importing would duplicate them (the same export imported twice).
var ErrHistoryExists = errors.New("already has history")

// ImportOptions adjusts Import.
type ImportOptions struct {
	// Merge adds the records even to users who already have history.
	Merge bool
}

// Import reads an export and adds it, all in one transaction: when any
// line is malformed it returns an *ImportError naming every bad line and
// imports nothing. Unless o.Merge, it refuses (ErrHistoryExists) a file
// with a user who already has messages.
func (s *Store) Import(ctx context.Context, r io.Reader, o ImportOptions) (ExportReport, error) {
	var rep ExportReport
	recs, err := parseImport(r)
	if err != nil {
		return rep, err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		rep = ExportReport{}
		if !o.Merge {
			for _, lr := range recs {
				if lr.Type != "user" {
					continue
				}
				var n int
				if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM messages WHERE user_id = ? LIMIT 1)`, lr.User).Scan(&n); err != nil {
					return err
				}
				if n > 0 {
					return fmt.Errorf("user %s (line %d) %w", lr.User, lr.line, ErrHistoryExists)
				}
			}
		}
		return importRecords(ctx, tx, recs, &rep)
	})
	if err != nil {
		return rep, fmt.Errorf("import: %w", err)
	}
	s.cache.clear()
	return rep, nil
}

type lineRecord struct {
	line int
	Record
}

// parseImport reads every line and checks each record's fields and
// references before anything is written.
func parseImport(r io.Reader) ([]lineRecord, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 256<<20)
	var out []lineRecord
	var bad []LineError
	user := ""
	refs := map[string]map[int64]bool{"conversation": {}, "message": {}, "turn": {}}
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var rec Record
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			bad = append(bad, LineError{n, "not a JSON record: " + err.Error()})
			continue
		}
		if err := checkRecord(&rec, user, refs); err != nil {
			bad = append(bad, LineError{n, err.Error()})
			continue
		}
		if rec.Type == "user" {
			user = rec.User
		}
		if rec.Type == "turn" {
			refs["turn"][rec.Message] = true // one detail a message
		} else if m := refs[rec.Type]; m != nil {
			m[rec.Ref] = true
		}
		out = append(out, lineRecord{n, rec})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read import file at line %d: %w", n+1, err)
	}
	if len(bad) > 0 {
		return nil, &ImportError{Lines: bad}
	}
	return out, nil
}

func checkRecord(rec *Record, user string, refs map[string]map[int64]bool) error {
	need := func(ok bool, what string) error {
		if !ok {
			return fmt.Errorf("%s record: %s", rec.Type, what)
		}
		return nil
	}
	times := []string{rec.Time, rec.From, rec.To, rec.Updated, rec.LastUsed}
	for _, t := range times {
		if _, err := parseMS(t); err != nil {
			return fmt.Errorf("%s record: %w", rec.Type, err)
		}
	}
	if rec.Type != "user" && user == "" {
		return fmt.Errorf("%s record before any user record", rec.Type)
	}
	switch rec.Type {
	case "user":
		return need(strings.TrimSpace(rec.User) != "" && rec.Time != "", "needs user and time")
	case "conversation":
		return need(rec.Ref > 0 && !refs["conversation"][rec.Ref] && rec.Time != "", "needs a new ref and a time")
	case "message":
		switch Role(rec.Role) {
		case RoleSystem, RoleUser, RoleAssistant, RoleTool:
		default:
			return fmt.Errorf("message record: unknown role %q", rec.Role)
		}
		if rec.ReplyTo != 0 && !refs["message"][rec.ReplyTo] {
			return fmt.Errorf("message record: replyTo %d is not an earlier message", rec.ReplyTo)
		}
		return need(rec.Ref > 0 && !refs["message"][rec.Ref] && refs["conversation"][rec.Conversation] && rec.Content != nil && rec.Time != "",
			"needs a new ref, a known conversation, content and time")
	case "turn":
		switch TurnKind(rec.Kind) {
		case TurnAnswer, TurnToolCall, TurnToolResult:
		default:
			return fmt.Errorf("turn record: unknown kind %q", rec.Kind)
		}
		return need(refs["message"][rec.Message] && !refs["turn"][rec.Message] && rec.FirstTokenMS >= 0,
			"needs a known message without another turn record, and a first_token_ms of at least 0")
	case "summary":
		switch rec.Tier {
		case "fold", "day", "condensed":
		default:
			return fmt.Errorf("summary record: unknown tier %q", rec.Tier)
		}
		return need(refs["conversation"][rec.Conversation] && refs["message"][rec.FirstMessage] && refs["message"][rec.LastMessage] && rec.Content != nil,
			"needs a known conversation, first and last messages, and content")
	case "fact":
		for _, m := range rec.Sources {
			if !refs["message"][m] {
				return fmt.Errorf("fact record: source %d is not an earlier message", m)
			}
		}
		return need(strings.TrimSpace(rec.Statement) != "" && rec.Confidence >= 0 && rec.Confidence <= 1 && rec.Time != "" && rec.Updated != "",
			"needs a statement, a confidence in 0..1, time and updated")
	case "embedding":
		b, err := base64.StdEncoding.DecodeString(rec.Vector)
		if err != nil || len(b) == 0 || len(b) != 4*rec.Dims {
			return errors.New("embedding record: vector must be base64 of dims little-endian float32")
		}
		return need(refs["message"][rec.Message] && rec.Model != "", "needs a known message and a model")
	default:
		return fmt.Errorf("unknown record type %q", rec.Type)
	}
}

func importRecords(ctx context.Context, tx *sql.Tx, recs []lineRecord, rep *ExportReport) error {
	user := ""
	var first, last int64
	var conv, msg map[int64]int64
	for _, lr := range recs {
		rec := lr.Record
		ms := func(s string) int64 { v, _ := parseMS(s); return v }
		var err error
		switch rec.Type {
		case "user":
			user, conv, msg = rec.User, map[int64]int64{}, map[int64]int64{}
			_, err = tx.ExecContext(ctx, `INSERT INTO users (id, created_ms) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`, user, ms(rec.Time))
			rep.Users++
		case "conversation":
			var id int64
			err = tx.QueryRowContext(ctx, `INSERT INTO conversations (user_id, channel, title, started_ms) VALUES (?, ?, ?, ?) RETURNING id`,
				user, rec.Channel, rec.Title, ms(rec.Time)).Scan(&id)
			conv[rec.Ref] = id
			rep.Conversations++
		case "message":
			var id int64
			err = tx.QueryRowContext(ctx, `INSERT INTO messages (conversation_id, user_id, role, content, tokens, tokens_exact, model, reply_to, created_ms)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, conv[rec.Conversation], user, rec.Role, *rec.Content, rec.Tokens, rec.TokensExact, rec.Model,
				nullID(msg[rec.ReplyTo]), ms(rec.Time)).Scan(&id)
			msg[rec.Ref] = id
			if first == 0 {
				first = id
			}
			last = id
			rep.Messages++
		case "turn":
			_, err = tx.ExecContext(ctx, `INSERT INTO turn_details (message_id, kind, tool_name, tool_call_id, prompt_tokens, completion_tokens,
tokens_per_second, first_token_ms, failed_over, context_tokens, context_window) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				msg[rec.Message], rec.Kind, rec.ToolName, rec.ToolCallID, rec.PromptTokens, rec.CompletionTokens, rec.TokensPerSecond,
				rec.FirstTokenMS, rec.FailedOver, rec.ContextTokens, rec.ContextWindow)
			rep.Turns++
		case "summary":
			_, err = tx.ExecContext(ctx, `INSERT INTO summaries (user_id, conversation_id, tier, period, first_message_id, last_message_id, from_ms, to_ms, content, tokens, model, created_ms)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (conversation_id, tier, period) WHERE tier != 'fold' DO NOTHING`,
				user, conv[rec.Conversation], rec.Tier, rec.Period, msg[rec.FirstMessage], msg[rec.LastMessage], ms(rec.From), ms(rec.To), *rec.Content, rec.Tokens, rec.Model, ms(rec.Time))
			rep.Summaries++
		case "fact":
			var id int64
			err = tx.QueryRowContext(ctx, `INSERT INTO facts (user_id, subject, statement, confidence, created_ms, updated_ms, last_used_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (user_id, subject, statement) DO UPDATE SET confidence = excluded.confidence, updated_ms = max(updated_ms, excluded.updated_ms) RETURNING id`,
				user, rec.Subject, rec.Statement, rec.Confidence, ms(rec.Time), ms(rec.Updated), ms(rec.LastUsed)).Scan(&id)
			for _, src := range rec.Sources {
				if err == nil {
					_, err = tx.ExecContext(ctx, `INSERT INTO fact_sources (fact_id, message_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, id, msg[src])
				}
			}
			rep.Facts++
		case "embedding":
			b, _ := base64.StdEncoding.DecodeString(rec.Vector)
			_, err = tx.ExecContext(ctx, `INSERT INTO embeddings (message_id, model, dims, vector) VALUES (?, ?, ?, ?)
ON CONFLICT (message_id, model) DO UPDATE SET dims = excluded.dims, vector = excluded.vector`, msg[rec.Message], rec.Model, rec.Dims, b)
			rep.Embeddings++
		}
		if err != nil {
			return fmt.Errorf("line %d (%s): %w", lr.line, rec.Type, err)
		}
	}
	return indexMessages(ctx, tx, first, last)
}

type rowScanner interface{ Scan(dest ...any) error }
