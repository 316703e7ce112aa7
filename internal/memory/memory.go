// Package memory keeps what Mai and its users said, what Mai learned about
// them, and brings back what matters: messages and facts in SQLite, recall
// by FTS5 (BM25) fused with embedding similarity, context assembly within a
// model's window, and the compression pass that keeps years of history small
// without losing any of it.
package memory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/maicompanion/mai/internal/store"
)

// LocalUser is the user id of the owner at the terminal.
const LocalUser = "local"

// Role is who wrote a message.
type Role string

// The roles a message may have.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleTool      Role = "tool"
)

// ErrNotFound means the conversation, message or fact does not exist.
var ErrNotFound = errors.New("not found")

// Message is one stored turn.
type Message struct {
	ID             int64     `json:"id"`
	ConversationID int64     `json:"conversation_id"`
	User           string    `json:"user"`
	Role           Role      `json:"role"`
	Content        string    `json:"content"`
	Tokens         int       `json:"tokens"`       // 0 on append: estimated
	TokensExact    bool      `json:"tokens_exact"` // the backend reported Tokens
	Model          string    `json:"model,omitempty"`
	ReplyTo        int64     `json:"reply_to,omitempty"`
	Time           time.Time `json:"time"` // zero on append: now
	Archived       bool      `json:"archived,omitempty"`
}

// Embedder turns text into vectors with a model of its choosing and says
// which; the router satisfies it. The choice belongs there, with the
// backends and the owner's MAI_MODELS; memory only keeps each vector under
// the model that made it, since vectors of different models do not compare.
type Embedder interface {
	// Embed returns one vector per input, in order, and the model that made
	// them.
	Embed(ctx context.Context, inputs []string) (vectors [][]float32, model string, err error)
}

// Options configures a Store; the zero value works (no embeddings, the
// extractive summariser, a 64-entry context cache, the wall clock).
type Options struct {
	// Now is the clock; tests inject a fixed one.
	Now func() time.Time
	// Embedder enables embedding recall and EmbedPending.
	Embedder Embedder
	// Summarizer writes summaries; nil or failing falls back to extraction.
	Summarizer Summarizer
	// CacheSize bounds the assembled-context cache (entries); default 64,
	// negative disables it.
	CacheSize int
	// Recall tunes ranking; zero fields take defaults.
	Recall RecallOptions
	// Vocabularies gives models' tokenizer vocabularies, from which token
	// counts for ContextRequest.Model start (see Store.Tokenizer).
	Vocabularies VocabularySource
}

// Store is the memory of every user, over one database.
type Store struct {
	db    *store.DB
	opt   Options
	now   func() time.Time
	tok   *Estimator
	cache *contextCache

	// foldMu serialises folding per store so two assemblies of one
	// conversation do not fold the same turns twice.
	foldMu sync.Mutex

	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt

	gzip sync.Pool // *gzip.Writer for archive blobs

	vecMu sync.Mutex
	vecs  map[vectorKey]*vectorIndex

	embedMu        sync.Mutex
	lastEmbedModel string // the embedder's model when it last answered

	// models are the token estimators of each model (Tokenizer); tok is
	// the generic one.
	models estimators
}

// New returns a Store over db, which must have been opened by store.Open
// (so migrations 0002 and 0004 are applied). One process should assemble a
// conversation's context at a time (the daemon): folding is serialised
// within a Store, not across processes. Every other method is safe from
// several goroutines and processes at once.
func New(db *store.DB, o Options) *Store {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	size := o.CacheSize
	if size == 0 {
		size = 64
	}
	o.Recall = o.Recall.withDefaults()
	return &Store{db: db, opt: o, now: now, tok: NewEstimator(), cache: newContextCache(size)}
}

// DB returns the underlying database.
func (s *Store) DB() *store.DB { return s.db }

// Tokens returns the estimator, which Append calibrates with counts the
// backend reports.
func (s *Store) Tokens() *Estimator { return s.tok }

func toMS(t time.Time) int64 { return t.UnixMilli() }

func fromMS(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func ensureUser(ctx context.Context, tx *sql.Tx, user string, now time.Time) error {
	if strings.TrimSpace(user) == "" {
		return errors.New("user id is empty")
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO users (id, created_ms) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`, user, toMS(now))
	if err != nil {
		return fmt.Errorf("record user: %w", err)
	}
	return nil
}

// Conversation is one session with one user.
type Conversation struct {
	ID      int64     `json:"id"`
	User    string    `json:"user"`
	Channel string    `json:"channel,omitempty"`
	Title   string    `json:"title,omitempty"`
	Started time.Time `json:"started"`
}

// StartConversation opens a new conversation for user on channel
// ("discord", "cli", …) and returns its id.
func (s *Store) StartConversation(ctx context.Context, user, channel string) (int64, error) {
	var id int64
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		if err := ensureUser(ctx, tx, user, now); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO conversations (user_id, channel, started_ms) VALUES (?, ?, ?)`, user, channel, toMS(now))
		if err != nil {
			return fmt.Errorf("start conversation: %w", err)
		}
		id, err = res.LastInsertId()
		return err
	})
	return id, err
}

// LatestConversation returns the user's most recent conversation, or
// ErrNotFound.
func (s *Store) LatestConversation(ctx context.Context, user string) (Conversation, error) {
	c := Conversation{User: user}
	var ms int64
	err := s.db.QueryRowContext(ctx, `SELECT id, channel, title, started_ms FROM conversations WHERE user_id = ? ORDER BY started_ms DESC, id DESC LIMIT 1`, user).
		Scan(&c.ID, &c.Channel, &c.Title, &ms)
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("conversation of %s: %w", user, ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("find latest conversation: %w", err)
	}
	c.Started = fromMS(ms)
	return c, nil
}

const insertMessage = `INSERT INTO messages (conversation_id, user_id, role, content, tokens, tokens_exact, model, reply_to, created_ms)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

// indexMessages adds messages with ids in [first, last] to the FTS index;
// the caller inserted them in the same transaction.
func indexMessages(ctx context.Context, tx *sql.Tx, first, last int64) error {
	if first == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO messages_fts (rowid, content) SELECT id, content FROM messages WHERE id BETWEEN ? AND ?`, first, last)
	if err != nil {
		return fmt.Errorf("index messages: %w", err)
	}
	return nil
}

// Append stores one message and returns it with its id, time and token
// count filled in.
func (s *Store) Append(ctx context.Context, m Message) (Message, error) {
	out, err := s.AppendBatch(ctx, []Message{m})
	if err != nil {
		return Message{}, err
	}
	return out[0], nil
}

// AppendBatch stores messages in one transaction: all or none.
func (s *Store) AppendBatch(ctx context.Context, ms []Message) ([]Message, error) {
	if len(ms) == 0 {
		return nil, nil
	}
	out := make([]Message, len(ms))
	now := s.now()
	for i, m := range ms {
		if err := s.prepare(&m, now); err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
		out[i] = m
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		users := map[int64]string{}
		for i := range out {
			c := out[i].ConversationID
			if _, ok := users[c]; ok {
				continue
			}
			var u string
			err := tx.QueryRowContext(ctx, `SELECT user_id FROM conversations WHERE id = ?`, c).Scan(&u)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("insert message %d: conversation %d: %w", i, c, ErrNotFound)
			}
			if err != nil {
				return fmt.Errorf("insert message %d: %w", i, err)
			}
			users[c] = u
		}
		st, err := tx.PrepareContext(ctx, insertMessage)
		if err != nil {
			return fmt.Errorf("prepare insert: %w", err)
		}
		defer st.Close()
		for i := range out {
			m := &out[i]
			m.User = users[m.ConversationID]
			res, err := st.ExecContext(ctx, m.ConversationID, m.User, string(m.Role), m.Content, m.Tokens, m.TokensExact, m.Model, nullID(m.ReplyTo), toMS(m.Time))
			if err != nil {
				return fmt.Errorf("insert message %d: %w", i, err)
			}
			if m.ID, err = res.LastInsertId(); err != nil {
				return fmt.Errorf("insert message %d: %w", i, err)
			}
		}
		return indexMessages(ctx, tx, out[0].ID, out[len(out)-1].ID)
	})
	if err != nil {
		return nil, err
	}
	seen := map[int64]bool{}
	for _, m := range out {
		if !seen[m.ConversationID] {
			seen[m.ConversationID] = true
			s.cache.invalidate(m.ConversationID)
		}
	}
	return out, nil
}

func (s *Store) prepare(m *Message, now time.Time) error {
	switch m.Role {
	case RoleSystem, RoleUser, RoleAssistant, RoleTool:
	default:
		return fmt.Errorf("unknown role %q", m.Role)
	}
	if m.ConversationID == 0 {
		return errors.New("no conversation id")
	}
	if m.Time.IsZero() {
		m.Time = now
	}
	m.Time = fromMS(toMS(m.Time))
	if m.Tokens > 0 && m.TokensExact {
		s.tok.Observe(m.Content, m.Tokens)
	} else if m.Tokens <= 0 {
		m.Tokens = s.tok.Count(m.Content)
		m.TokensExact = false
	}
	return nil
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// Messages returns a conversation's messages with id > afterID, oldest
// first, at most limit (0: all). Archived messages come back with their
// text restored from the archive.
func (s *Store) Messages(ctx context.Context, conversation, afterID int64, limit int) ([]Message, error) {
	q := `SELECT ` + messageCols + ` FROM messages WHERE conversation_id = ? AND id > ? ORDER BY id`
	args := []any{conversation, afterID}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	ms, err := queryMessages(ctx, s.db, q, args...)
	if err != nil {
		return nil, err
	}
	return ms, s.restoreArchived(ctx, ms)
}

const messageCols = `id, conversation_id, user_id, role, content, tokens, tokens_exact, model, coalesce(reply_to, 0), created_ms, archive_id IS NOT NULL`

type queryer interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func queryMessages(ctx context.Context, db queryer, q string, args ...any) ([]Message, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read messages: %w", err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		var m Message
		var role string
		var ms int64
		if err := rows.Scan(&m.ID, &m.ConversationID, &m.User, &role, &m.Content, &m.Tokens, &m.TokensExact, &m.Model, &m.ReplyTo, &ms, &m.Archived); err != nil {
			return nil, fmt.Errorf("read messages: %w", err)
		}
		m.Role, m.Time = Role(role), fromMS(ms)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read messages: %w", err)
	}
	return out, nil
}

// RecentTurns returns the newest messages of a conversation with id >
// afterID whose tokens (with the template's per-turn overhead) fit in
// budget, oldest first. Archived messages are
// never recent (they are 90 days old), so their text is not restored.
func (s *Store) RecentTurns(ctx context.Context, conversation, afterID int64, budget int) ([]Message, int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+messageCols+` FROM messages WHERE conversation_id = ? AND id > ? ORDER BY id DESC`, conversation, afterID)
	if err != nil {
		return nil, 0, fmt.Errorf("read recent turns: %w", err)
	}
	defer rows.Close()
	var out []Message
	used := 0
	for rows.Next() {
		var m Message
		var role string
		var ms int64
		if err := rows.Scan(&m.ID, &m.ConversationID, &m.User, &role, &m.Content, &m.Tokens, &m.TokensExact, &m.Model, &m.ReplyTo, &ms, &m.Archived); err != nil {
			return nil, 0, fmt.Errorf("read recent turns: %w", err)
		}
		if used+m.Tokens+turnOverhead > budget {
			break
		}
		m.Role, m.Time = Role(role), fromMS(ms)
		used += m.Tokens + turnOverhead
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("read recent turns: %w", err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, used, nil
}
