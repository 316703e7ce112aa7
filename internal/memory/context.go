package memory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// FoldThreshold is the share of the window the unsummarised turns of a
// conversation may fill before the oldest are folded into a summary;
// folding stops when they fill FoldTarget.
const (
	FoldThreshold = 0.70
	FoldTarget    = 0.40
)

// Shares of the room left after the persona that each section may use at
// most; recent turns get whatever the others leave.
const (
	factShare    = 0.10
	summaryShare = 0.15
	memoryShare  = 0.20
)

// ContextRequest says whose context to build, for which model window.
type ContextRequest struct {
	User         string
	Conversation int64
	Persona      string // the system prompt
	// Query is what to recall memories for; "" uses the latest user turn.
	Query string
	// Window is the model's context length in tokens.
	Window int
	// Model names the model the context is for, so tokens are counted as
	// its tokenizer does (Store.Tokenizer); "" counts with the generic
	// estimate, which holds for no model in particular.
	Model string
	// Reserve is kept free for the reply; 0 means a quarter of the window,
	// at most 1024 tokens.
	Reserve int
}

// Turn is one message of an assembled context.
type Turn struct {
	Role      Role   `json:"role"`
	Content   string `json:"content"`
	MessageID int64  `json:"message_id,omitempty"` // 0 for the system turn
}

// Context is what to send to the model: a system turn (persona, facts,
// summaries, recalled memories) and the recent turns, within Budget.
type Context struct {
	Turns     []Turn `json:"turns"`
	Tokens    int    `json:"tokens"` // estimated, template overhead and the generation prompt included
	Budget    int    `json:"budget"` // Window − Reserve
	Facts     int    `json:"facts"`
	Summaries int    `json:"summaries"`
	Memories  int    `json:"memories"`
	Recent    int    `json:"recent"`
	Folded    int    `json:"folded"` // messages folded into a summary by this call
	Cached    bool   `json:"cached"`
}

func (c Context) clone() Context {
	c.Turns = append([]Turn(nil), c.Turns...)
	return c
}

// Assemble builds the context for the next reply in a conversation, never
// over Window − Reserve tokens. When the conversation's unsummarised turns
// pass 70% of the window, the oldest are first folded into a summary. The
// result is cached until the conversation or the user's facts change.
func (s *Store) Assemble(ctx context.Context, req ContextRequest) (Context, error) {
	if req.Window <= 0 {
		return Context{}, errors.New("assemble context: the model's window is unknown")
	}
	if req.Reserve <= 0 {
		req.Reserve = min(req.Window/4, 1024)
	}
	budget := req.Window - req.Reserve
	if budget <= turnOverhead {
		return Context{}, fmt.Errorf("assemble context: window %d leaves no room after reserving %d for the reply", req.Window, req.Reserve)
	}
	key := cacheKey{conversation: req.Conversation, user: req.User, persona: req.Persona, query: req.Query, model: req.Model, window: req.Window, reserve: req.Reserve}
	if c, ok := s.cache.get(key); ok {
		c.Cached = true
		return c, nil
	}
	folded, err := s.foldIfNeeded(ctx, req)
	if err != nil {
		return Context{}, err
	}
	c, err := s.assemble(ctx, req, budget)
	if err != nil {
		return Context{}, err
	}
	c.Folded = folded
	s.cache.put(key, c)
	return c, nil
}

func (s *Store) assemble(ctx context.Context, req ContextRequest, budget int) (Context, error) {
	c := Context{Budget: budget}
	tok := s.Tokenizer(ctx, req.Model)
	over := tok.TurnOverhead()
	persona := strings.TrimSpace(req.Persona)
	if tok.Count(persona) > budget/2 {
		persona = truncateTokens(tok, persona, budget/2)
	}
	// Every message and the generation prompt after them cost over tokens.
	room := budget - tok.Count(persona) - 2*over
	foldEnd, err := s.lastFoldEnd(ctx, req.Conversation)
	if err != nil {
		return c, err
	}

	var sections []string
	section := func(title string, lines []string, limit int) int {
		if len(lines) == 0 || limit <= 0 {
			return 0
		}
		head := "\n\n## " + title + "\n"
		n := tok.Count(head)
		var kept []string
		for _, l := range lines {
			ln := tok.Count(l) + 1
			if n+ln > limit {
				continue
			}
			n += ln
			kept = append(kept, l)
		}
		if len(kept) == 0 {
			return 0
		}
		sections = append(sections, head+strings.Join(kept, "\n"))
		return len(kept)
	}

	query := req.Query
	if query == "" {
		err := s.db.QueryRowContext(ctx, `SELECT content FROM messages WHERE conversation_id = ? AND id > ? AND role = 'user' ORDER BY id DESC LIMIT 1`,
			req.Conversation, foldEnd).Scan(&query)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return c, fmt.Errorf("read the latest turn: %w", err)
		}
	}

	facts, err := s.relevantFacts(ctx, req.User, query)
	if err != nil {
		return c, err
	}
	var lines []string
	for _, f := range facts {
		l := "- " + f.Statement
		if f.Subject != "" {
			l = "- " + f.Subject + ": " + f.Statement
		}
		lines = append(lines, l)
	}
	c.Facts = section("What you know about the user", lines, int(float64(room)*factShare))
	folds, err := s.foldSummaries(ctx, req.Conversation)
	if err != nil {
		return c, err
	}
	lines = lines[:0]
	for i := len(folds) - 1; i >= 0; i-- { // newest first, so they win the room
		lines = append(lines, folds[i])
	}
	c.Summaries = section("Earlier in this conversation", reverse(keepFitting(tok, lines, int(float64(room)*summaryShare))), int(float64(room)*summaryShare))

	lines = lines[:0]
	if query != "" {
		mems, err := s.Recall(ctx, req.User, query, 16)
		if err != nil {
			return c, err
		}
		per := max(int(float64(room)*memoryShare)/4, 16)
		for _, m := range mems {
			// The conversation's unfolded turns are the recent turns' to
			// show, and its folds are in their own section.
			if m.ConversationID == req.Conversation && (m.Kind == KindMessage && m.ID > foldEnd || m.Kind == KindSummary && m.Tier == StyleFold) {
				continue
			}
			who := string(m.Role)
			if m.Kind == KindSummary {
				who = "summary"
			}
			l := fmt.Sprintf("- [%s] %s: %s", m.Time.Format("2006-01-02"), who, strings.Join(strings.Fields(m.Content), " "))
			lines = append(lines, truncateTokens(tok, l, per))
		}
	}
	c.Memories = section("Memories that may be relevant", lines, int(float64(room)*memoryShare))

	system := persona + strings.Join(sections, "")
	sysTokens := tok.Count(system) + 2*over
	// Recent turns get all the room the other sections left.
	recent, err := s.recentFitting(ctx, tok, req.Model, req.Conversation, foldEnd, budget-sysTokens, over)
	if err != nil {
		return c, err
	}
	// Drop the oldest recent turns until everything fits: section sums and
	// the whole-text estimate can differ by a token or two.
	total := sysTokens
	for _, m := range recent {
		total += m.Tokens + over
	}
	for total > budget && len(recent) > 0 {
		total -= recent[0].Tokens + over
		recent = recent[1:]
	}
	if total > budget {
		return c, fmt.Errorf("assemble context: the persona alone needs %d of %d tokens", sysTokens, budget)
	}
	c.Turns = append(c.Turns, Turn{Role: RoleSystem, Content: system})
	for _, m := range recent {
		c.Turns = append(c.Turns, Turn{Role: m.Role, Content: m.Content, MessageID: m.ID})
	}
	c.Recent, c.Tokens = len(recent), total
	var ids []int64
	for _, f := range facts[:c.Facts] {
		ids = append(ids, f.ID)
	}
	if err := s.markFactsUsed(ctx, ids); err != nil {
		return c, err
	}
	return c, nil
}

func keepFitting(tok *Estimator, lines []string, limit int) []string {
	var out []string
	n := 0
	for _, l := range lines {
		ln := tok.Count(l) + 1
		if n+ln > limit {
			break
		}
		n += ln
		out = append(out, l)
	}
	return out
}

func reverse(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[len(s)-1-i] = x
	}
	return out
}

// lastFoldEnd returns the last message id covered by a fold of the
// conversation (0 when none).
func (s *Store) lastFoldEnd(ctx context.Context, conversation int64) (int64, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, `SELECT coalesce(max(last_message_id), 0) FROM summaries WHERE conversation_id = ? AND tier = 'fold'`, conversation).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("find folded turns: %w", err)
	}
	return id, nil
}

func (s *Store) foldSummaries(ctx context.Context, conversation int64) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT content FROM summaries WHERE conversation_id = ? AND tier = 'fold' ORDER BY last_message_id`, conversation)
	if err != nil {
		return nil, fmt.Errorf("read folded summaries: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("read folded summaries: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// foldIfNeeded folds the oldest unsummarised turns into a 'fold' summary
// when they fill more than FoldThreshold of the window, until they fill at
// most FoldTarget (always keeping the last two turns). It returns how many
// messages it folded.
func (s *Store) foldIfNeeded(ctx context.Context, req ContextRequest) (int, error) {
	s.foldMu.Lock()
	defer s.foldMu.Unlock()
	end, err := s.lastFoldEnd(ctx, req.Conversation)
	if err != nil {
		return 0, err
	}
	ms, err := s.Messages(ctx, req.Conversation, end, 0)
	if err != nil {
		return 0, err
	}
	tok := s.Tokenizer(ctx, req.Model)
	over := tok.TurnOverhead()
	total := tok.Count(req.Persona) + over
	for i, m := range ms {
		if req.Model != "" {
			ms[i].Tokens = tok.Count(m.Content)
		}
		total += ms[i].Tokens + over
	}
	if float64(total) <= FoldThreshold*float64(req.Window) {
		return 0, nil
	}
	target := int(FoldTarget * float64(req.Window))
	n := 0
	for n < len(ms)-2 && total > target {
		total -= ms[n].Tokens + over
		n++
	}
	if n == 0 {
		return 0, nil
	}
	old := ms[:n]
	text, model := s.summarize(ctx, SummaryRequest{Style: StyleFold, Messages: old, MaxTokens: max(min(512, req.Window/10), 32)})
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO summaries (user_id, conversation_id, tier, period, first_message_id, last_message_id, from_ms, to_ms, content, tokens, model, created_ms)
VALUES (?, ?, 'fold', '', ?, ?, ?, ?, ?, ?, ?, ?)`, old[0].User, req.Conversation, old[0].ID, old[n-1].ID, toMS(old[0].Time), toMS(old[n-1].Time), text, s.tok.Count(text), model, toMS(s.now()))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("fold old turns: %w", err)
	}
	return n, nil
}
