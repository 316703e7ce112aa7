package memory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// FoldThreshold is the share of the window the unsummarised turns of a
// conversation may fill before the oldest are folded into a summary;
// folding stops when they fill FoldTarget. The turns are folded sooner
// when the context could not show them all (see Assemble).
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
	// Branch, when not 0, is the message being answered when it replies to
	// an earlier point of the conversation: the turns are then its reply
	// chain (Store.Branch) instead of the conversation's latest turns, and
	// the summaries of the conversation's older turns, which follow the
	// latest turns, are left out.
	Branch int64
}

// Turn is one message of an assembled context.
type Turn struct {
	Role      Role   `json:"role"`
	Content   string `json:"content"`
	MessageID int64  `json:"message_id,omitempty"` // 0 for the system turn
	// Tool is the detail of a tool call or tool result turn (its kind, tool
	// and call id), so the model gets it back as tool use; nil otherwise.
	Tool *TurnDetail `json:"tool,omitempty"`
	// Recalled is what memory recalled for this turn, the latest user
	// turn, which the model reads before its content (Text). It rides
	// on the latest turn rather than in the system turn so that what
	// changes from one reply to the next comes last: the system turn and
	// the earlier turns stay word for word the same, and a backend that
	// keeps the prompt it has already read (Ollama, LM Studio) reads only
	// the new end.
	Recalled string `json:"recalled,omitempty"`
}

// Text is what the model is shown for the turn: the memories recalled for
// it, if any, then its content.
func (t Turn) Text() string {
	if t.Recalled == "" {
		return t.Content
	}
	return t.Recalled + "\n\n" + t.Content
}

// Context is what to send to the model: a system turn (persona, facts,
// summaries) and the recent turns, the latest user turn carrying the
// recalled memories, within Budget.
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

	// room is what the recent turns could use beside the rest, and left
	// how many unsummarised turns of the conversation did not fit in it.
	room, left int
	// usedFacts are the facts shown, to be marked used once the context
	// is the one returned.
	usedFacts []int64
}

func (c Context) clone() Context {
	c.Turns = append([]Turn(nil), c.Turns...)
	return c
}

// Assemble builds the context for the next reply in a conversation, never
// over Window − Reserve tokens. When the conversation's unsummarised turns
// pass FoldThreshold of the window, or would not all fit beside the system
// turn and the recalled memories, the oldest are folded into a summary.
// So between two folds every unsummarised turn is shown, and from one
// reply to the next the context only grows at its end: a backend that
// keeps the prompt it has read (Ollama, LM Studio) reads only the new
// turns. Were the oldest turn left out instead, the turns after the system
// turn would all move, and the backend would read them all again on every
// reply. The result is cached until the conversation or the user's facts
// change.
func (s *Store) Assemble(ctx context.Context, req ContextRequest) (Context, error) {
	if req.Window <= 0 {
		return Context{}, errors.New("assemble context: the model's window is unknown")
	}
	req, budget := withBudget(req)
	if budget <= turnOverhead {
		return Context{}, fmt.Errorf("assemble context: window %d leaves no room after reserving %d for the reply", req.Window, req.Reserve)
	}
	key := cacheKey{conversation: req.Conversation, user: req.User, persona: req.Persona, query: req.Query, model: req.Model, window: req.Window, reserve: req.Reserve, branch: req.Branch}
	if c, ok := s.cache.get(key); ok {
		c.Cached = true
		return c, nil
	}
	folded, err := s.foldIfNeeded(ctx, req, 0, false)
	if err != nil {
		return Context{}, err
	}
	c, err := s.assemble(ctx, req, budget)
	if err != nil {
		return Context{}, err
	}
	if c.left > 0 && req.Branch == 0 {
		n, err := s.foldIfNeeded(ctx, req, c.room, false)
		if err != nil {
			return Context{}, err
		}
		if n > 0 {
			folded += n
			if c, err = s.assemble(ctx, req, budget); err != nil {
				return Context{}, err
			}
		}
	}
	c.Folded = folded
	if err := s.markFactsUsed(ctx, c.usedFacts); err != nil {
		return Context{}, err
	}
	s.cache.put(key, c)
	return c, nil
}

// withBudget returns req with its Reserve set (a quarter of the window, at
// most 1024 tokens, when 0) and the tokens the context may take beside it.
func withBudget(req ContextRequest) (ContextRequest, int) {
	if req.Reserve <= 0 {
		req.Reserve = min(req.Window/4, 1024)
	}
	return req, req.Window - req.Reserve
}

// FoldAhead folds the oldest unsummarised turns of req's conversation now
// when one more exchange as long as the last would keep the next context
// from showing them all: Assemble would fold them then, before the
// answer, and the owner would wait for the summary before the first
// words. The chat core calls it once an answer is stored and shown. It
// returns how many messages it folded.
func (s *Store) FoldAhead(ctx context.Context, req ContextRequest) (int, error) {
	if req.Branch != 0 || req.Window <= 0 {
		return 0, nil
	}
	req, budget := withBudget(req)
	if budget <= turnOverhead {
		return 0, nil
	}
	// The room the next context will have is taken to be this one's: the
	// same system turn, and memories recalled for the message answered.
	c, err := s.assemble(ctx, req, budget)
	if err != nil {
		return 0, err
	}
	n, err := s.foldIfNeeded(ctx, req, c.room, true)
	if n > 0 {
		s.cache.invalidate(req.Conversation)
	}
	return n, err
}

// assemble builds the context in its steps: the persona, the two
// sections of the system turn (facts, earlier folds), the recalled
// memories, then as many recent turns as the rest of the budget holds;
// the memories go with the latest user turn (Turn.Recalled), or at the
// end of the system turn when no user turn is shown.
func (s *Store) assemble(ctx context.Context, req ContextRequest, budget int) (Context, error) {
	c := Context{Budget: budget}
	tok := s.Tokenizer(ctx, req.Model)
	over := tok.TurnOverhead()
	persona := strings.TrimSpace(req.Persona)
	if tok.Count(persona) > budget/2 {
		persona = truncateTokens(tok, persona, budget/2)
	}
	// Every message, and the generation prompt after them, costs over.
	room := budget - tok.Count(persona) - 2*over
	foldEnd, err := s.lastFoldEnd(ctx, req.Conversation)
	if err != nil {
		return c, err
	}
	shown, err := s.shownTurns(ctx, req, foldEnd)
	if err != nil {
		return c, err
	}
	query, err := s.recallQuery(ctx, req, foldEnd)
	if err != nil {
		return c, err
	}
	factQuery, err := s.factQuery(ctx, req, foldEnd, query)
	if err != nil {
		return c, err
	}
	sys := systemTurn{tok: tok}
	usedFacts, moreFacts, err := s.factSection(ctx, &sys, req.User, factQuery, query, int(float64(room)*factShare))
	if err != nil {
		return c, err
	}
	c.Facts = len(usedFacts)
	if req.Branch == 0 {
		if c.Summaries, err = s.foldSection(ctx, &sys, req.Conversation, int(float64(room)*summaryShare)); err != nil {
			return c, err
		}
	}
	mem := systemTurn{tok: tok}
	factsThere, memories, err := s.memorySection(ctx, &mem, req, query, moreFacts, shown, int(float64(room)*memoryShare))
	if err != nil {
		return c, err
	}
	c.Facts += factsThere
	c.Memories = memories
	system := persona + sys.text()
	recalled := strings.TrimPrefix(mem.text(), "\n\n")
	fixed := tok.Count(system) + 2*over
	if recalled != "" {
		// Counted apart from the turn it joins, with its separator.
		fixed += tok.Count(recalled) + tok.Count("\n\n")
	}
	recent, left, total, err := s.recentWithin(ctx, tok, req, foldEnd, fixed, budget)
	if err != nil {
		return c, err
	}
	c.room, c.left = budget-fixed, left
	c.Turns = append(c.Turns, Turn{Role: RoleSystem, Content: system})
	tools, err := s.toolDetails(ctx, recent)
	if err != nil {
		return c, err
	}
	latest := 0 // the latest user turn's index in c.Turns
	for _, m := range recent {
		t := Turn{Role: m.Role, Content: m.Content, MessageID: m.ID}
		if d, ok := tools[m.ID]; ok {
			t.Tool = &d
		}
		if t.Role == RoleUser && t.Tool == nil {
			latest = len(c.Turns)
		}
		c.Turns = append(c.Turns, t)
	}
	if recalled != "" {
		if latest > 0 {
			c.Turns[latest].Recalled = recalled
		} else {
			c.Turns[0].Content += mem.text()
		}
	}
	c.Recent, c.Tokens, c.usedFacts = len(recent), total, usedFacts
	return c, nil
}

// systemTurn collects the titled sections of the system turn.
type systemTurn struct {
	tok      *Estimator
	sections []string
}

// fit returns the indexes of the lines that fit in a section of limit
// tokens (title included), in order, skipping any line that does not fit.
func (st *systemTurn) fit(title string, lines []string, limit int) []int {
	if len(lines) == 0 || limit <= 0 {
		return nil
	}
	n := st.tok.Count(sectionHead(title))
	var kept []int
	for i, l := range lines {
		ln := st.tok.Count(l) + 1
		if n+ln > limit {
			continue
		}
		n += ln
		kept = append(kept, i)
	}
	return kept
}

// add appends a section of the lines that fit in limit tokens (fit) and
// returns the indexes of the lines it kept.
func (st *systemTurn) add(title string, lines []string, limit int) []int {
	kept := st.fit(title, lines, limit)
	st.put(title, lines, kept)
	return kept
}

// put appends a section of the lines at the indexes kept, in that order
// (none: no section).
func (st *systemTurn) put(title string, lines []string, kept []int) {
	if len(kept) == 0 {
		return
	}
	text := make([]string, len(kept))
	for n, i := range kept {
		text[n] = lines[i]
	}
	st.sections = append(st.sections, sectionHead(title)+strings.Join(text, "\n"))
}

func sectionHead(title string) string { return "\n\n## " + title + "\n" }

func (st *systemTurn) text() string { return strings.Join(st.sections, "") }

// shownTurns says which stored messages the context may show word for
// word, so that recall does not repeat them: the conversation's unfolded
// turns and its folds, or, for a branch, the messages of its reply chain.
func (s *Store) shownTurns(ctx context.Context, req ContextRequest, foldEnd int64) (func(Recollection) bool, error) {
	if req.Branch == 0 {
		return func(m Recollection) bool {
			return m.ConversationID == req.Conversation && (m.Kind == KindMessage && m.ID > foldEnd || m.Kind == KindSummary && m.Tier == StyleFold)
		}, nil
	}
	chain, err := s.Branch(ctx, req.Branch, 0)
	if err != nil {
		return nil, err
	}
	ids := make(map[int64]bool, len(chain))
	for _, m := range chain {
		ids[m.ID] = true
	}
	return func(m Recollection) bool { return m.Kind == KindMessage && ids[m.ID] }, nil
}

// recallQuery is what to recall memories for: the request's query, else
// the message a branch answers, else the conversation's latest unfolded
// user turn.
func (s *Store) recallQuery(ctx context.Context, req ContextRequest, foldEnd int64) (string, error) {
	if req.Query != "" {
		return req.Query, nil
	}
	var query string
	q, args := `SELECT content FROM messages WHERE conversation_id = ? AND id > ? AND role = 'user' ORDER BY id DESC LIMIT 1`, []any{req.Conversation, foldEnd}
	if req.Branch != 0 {
		q, args = `SELECT content FROM messages WHERE id = ?`, []any{req.Branch}
	}
	err := s.db.QueryRowContext(ctx, q, args...).Scan(&query)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("read the latest turn: %w", err)
	}
	return query, nil
}

// factQuery is what the facts of the system turn are chosen for: the
// first user turn after the last fold, so that the choice, and with it the
// system turn, holds from one reply to the next until the next fold; for a
// branch or a request's own query, query (recallQuery).
func (s *Store) factQuery(ctx context.Context, req ContextRequest, foldEnd int64, query string) (string, error) {
	if req.Query != "" || req.Branch != 0 {
		return query, nil
	}
	var first string
	err := s.db.QueryRowContext(ctx, `SELECT content FROM messages WHERE conversation_id = ? AND id > ? AND role = 'user' ORDER BY id LIMIT 1`,
		req.Conversation, foldEnd).Scan(&first)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("read the first unfolded turn: %w", err)
	}
	return first, nil
}

// factSection adds the user's facts most relevant to query that fit in
// limit and returns the ids of those it kept, and the lines of the facts
// it left out that share words with latest, best first: those go with the
// memories recalled for the latest turn (memorySection).
func (s *Store) factSection(ctx context.Context, sys *systemTurn, user, query, latest string, limit int) ([]int64, []string, error) {
	all, err := s.Facts(ctx, user)
	if err != nil {
		return nil, nil, err
	}
	facts, _ := rankFacts(all, query)
	lines := make([]string, len(facts))
	for i, f := range facts {
		lines[i] = "- " + factText(f)
	}
	// The most relevant facts win the room; those kept are listed in the
	// order they were learned, so that the system turn reads the same
	// from one reply to the next while the same facts fit.
	const title = "What you know about the user"
	kept := sys.fit(title, lines, limit)
	sort.Slice(kept, func(a, b int) bool { return facts[kept[a]].ID < facts[kept[b]].ID })
	sys.put(title, lines, kept)
	var ids []int64
	in := map[int64]bool{}
	for _, i := range kept {
		ids = append(ids, facts[i].ID)
		in[facts[i].ID] = true
	}
	if latest == query {
		return ids, nil, nil
	}
	more, shared := rankFacts(all, latest)
	var extra []string
	for _, f := range more {
		if !in[f.ID] && shared[f.ID] > 0 {
			extra = append(extra, "- fact: "+factText(f))
		}
	}
	return ids, extra, nil
}

// factText is how a fact reads in a context: its subject, if any, then
// its statement.
func factText(f Fact) string {
	if f.Subject == "" {
		return f.Statement
	}
	return f.Subject + ": " + f.Statement
}

// foldSection adds the newest folds of the conversation that fit in limit,
// oldest first, and returns how many.
func (s *Store) foldSection(ctx context.Context, sys *systemTurn, conversation int64, limit int) (int, error) {
	folds, err := s.foldSummaries(ctx, conversation)
	if err != nil {
		return 0, err
	}
	var lines []string
	for i := len(folds) - 1; i >= 0; i-- { // newest first, so they win the room
		lines = append(lines, folds[i])
	}
	return len(sys.add("Earlier in this conversation", reverse(keepFitting(sys.tok, lines, limit)), limit)), nil
}

// memorySection adds facts, the lines of facts relevant to query that the
// system turn left out, then what Recall finds for query, leaving out what
// the context shows anyway, and returns how many of each it kept.
func (s *Store) memorySection(ctx context.Context, sys *systemTurn, req ContextRequest, query string, facts []string, shown func(Recollection) bool, limit int) (int, int, error) {
	if query == "" {
		return 0, 0, nil
	}
	mems, err := s.RecallExcept(ctx, req.User, query, 16, shown)
	if err != nil {
		return 0, 0, err
	}
	per := max(limit/4, 16)
	var lines []string
	for _, l := range facts {
		lines = append(lines, truncateTokens(sys.tok, l, per))
	}
	for _, m := range mems {
		who := string(m.Role)
		if m.Kind == KindSummary {
			who = "summary"
		}
		l := fmt.Sprintf("- [%s] %s: %s", m.Time.Format("2006-01-02"), who, strings.Join(strings.Fields(m.Content), " "))
		lines = append(lines, truncateTokens(sys.tok, l, per))
	}
	nf := 0
	kept := sys.add("Memories that may be relevant", lines, limit)
	for _, i := range kept {
		if i < len(facts) {
			nf++
		}
	}
	return nf, len(kept) - nf, nil
}

// recentWithin returns the newest turns after foldEnd that fit in budget
// beside a system turn of sysTokens, counted by tok, how many of the
// conversation's turns after foldEnd it left out (0 for a branch), and the
// total tokens with them.
func (s *Store) recentWithin(ctx context.Context, tok *Estimator, req ContextRequest, foldEnd int64, sysTokens, budget int) ([]Message, int, int, error) {
	over := tok.TurnOverhead()
	var recent []Message
	var err error
	left := 0
	if req.Branch != 0 {
		recent, err = s.branchFitting(ctx, tok, req.Model, req.Branch, budget-sysTokens, over)
	} else {
		var all int
		recent, all, err = s.recentFitting(ctx, tok, req.Model, req.Conversation, foldEnd, budget-sysTokens, over)
		left = all - len(recent)
	}
	if err != nil {
		return nil, 0, 0, err
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
		if req.Branch == 0 {
			left++
		}
	}
	if total > budget {
		return nil, 0, 0, fmt.Errorf("assemble context: the persona alone needs %d of %d tokens", sysTokens, budget)
	}
	return recent, left, total, nil
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
// when they (each with its turn overhead) hold more than their limit, until
// they hold at most FoldTarget/FoldThreshold of it, always keeping the last
// two turns. The limit is what FoldThreshold of the window leaves beside
// the persona, or room when that is less and room > 0; ahead, they fold
// when they would pass it with one more exchange as long as the last. It
// returns how many messages it folded.
func (s *Store) foldIfNeeded(ctx context.Context, req ContextRequest, room int, ahead bool) (int, error) {
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
	total, last := 0, 0 // last: the tokens of the last exchange
	for i, m := range ms {
		if req.Model != "" {
			ms[i].Tokens = tok.Count(m.Content)
		}
		total += ms[i].Tokens + over
		if m.Role == RoleUser {
			last = 0
		}
		last += ms[i].Tokens + over
	}
	limit := int(FoldThreshold*float64(req.Window)) - tok.Count(req.Persona) - over
	if room > 0 {
		limit = min(limit, room)
	}
	trigger := limit
	if ahead {
		trigger -= last
	}
	if total <= trigger {
		return 0, nil
	}
	target := int(float64(limit) * FoldTarget / FoldThreshold)
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
	if err := ctx.Err(); err != nil {
		// Stopped while the model summarised: no summary extracted in
		// its place; the turns fold the next time.
		return 0, fmt.Errorf("fold old turns: %w", err)
	}
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
