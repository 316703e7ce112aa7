package memory

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
	"unicode"
)

// RecallOptions tunes how recall ranks; zero fields take the defaults.
type RecallOptions struct {
	// RRFK is the reciprocal-rank-fusion constant: a document's score is
	// the sum over ranked lists of 1/(RRFK+rank). Default 10, not the RRF
	// paper's 60: we fuse short lists (tens of candidates), where 60 makes
	// ranks 1 and 3 differ by 3% and any recency boost would swamp
	// relevance; with 10 they differ by 18%.
	RRFK float64
	// Candidates is how many results each ranked list contributes. By
	// default, with FTS5 lists only, the fewest that cannot change the top
	// k: an item at rank r of one list scores at most (1+RecencyWeight)/
	// (RRFK+r), so below rank (1+RecencyWeight)(RRFK+k)−RRFK it cannot
	// pass the k-th; with vectors too (an item may score in two lists),
	// at least max(2k, 20).
	Candidates int
	// RecencyWeight and RecencyHalfLife boost recent memories: the fused
	// score is multiplied by 1 + weight × 2^(−age/halfLife). Defaults
	// 0.15 and 30 days: between equally relevant memories the recent one
	// wins, and it may pass the next better-ranked one, but not jump from
	// third to first. A negative weight turns the boost off.
	RecencyWeight   float64
	RecencyHalfLife time.Duration
}

func (o RecallOptions) withDefaults() RecallOptions {
	if o.RRFK <= 0 {
		o.RRFK = 10
	}
	if o.RecencyWeight < 0 {
		o.RecencyWeight = 0
	} else if o.RecencyWeight == 0 {
		o.RecencyWeight = 0.15
	}
	if o.RecencyHalfLife <= 0 {
		o.RecencyHalfLife = 30 * 24 * time.Hour
	}
	return o
}

// Kinds of recalled memory.
const (
	KindMessage = "message"
	KindSummary = "summary"
)

// Recollection is one recalled message or summary.
type Recollection struct {
	Kind           string    `json:"kind"`
	ID             int64     `json:"id"`
	ConversationID int64     `json:"conversation_id"`
	Role           Role      `json:"role,omitempty"` // messages only
	Tier           string    `json:"tier,omitempty"` // summaries only
	Content        string    `json:"content"`
	Tokens         int       `json:"tokens"`
	Time           time.Time `json:"time"`
	Score          float64   `json:"score"`
}

// Recall returns up to k of user's memories most relevant to query: FTS5
// BM25 over messages and summaries and, when an embedder is configured,
// cosine similarity over message vectors, fused by reciprocal rank and
// boosted by recency. Any text is a valid query: the user's words are
// quoted, so FTS5 operators in it are searched for, not obeyed. A failing
// embedder degrades recall to FTS5 alone rather than failing it.
func (s *Store) Recall(ctx context.Context, user, query string, k int) ([]Recollection, error) {
	return s.RecallExcept(ctx, user, query, k, nil)
}

// RecallExcept is Recall among the memories skip does not leave out (nil
// leaves out none). The memories left out take no place among the k: a
// context that already shows the turns of its conversation word for word
// asks for the best of the rest, and still gets k when those turns would
// have been the best matches.
func (s *Store) RecallExcept(ctx context.Context, user, query string, k int, skip func(Recollection) bool) ([]Recollection, error) {
	if k <= 0 {
		return nil, nil
	}
	o := s.opt.Recall
	vectors := s.opt.Embedder != nil && strings.TrimSpace(query) != ""
	n := o.Candidates
	if n <= 0 {
		n = int(math.Ceil((1+o.RecencyWeight)*(o.RRFK+float64(k))-o.RRFK)) + 1
		if vectors {
			n = max(n, 2*k, 20)
		}
	}
	type key struct {
		kind string
		id   int64
	}
	fused := map[key]*Recollection{}
	add := func(list []Recollection) {
		for rank, m := range list {
			kk := key{m.Kind, m.ID}
			f := fused[kk]
			if f == nil {
				m := m
				m.Score = 0
				f = &m
				fused[kk] = f
			}
			f.Score += 1 / (o.RRFK + float64(rank+1))
		}
	}
	match := FTSQuery(query)
	if match != "" {
		ms, err := s.ftsMessages(ctx, user, match, n, skip)
		if err != nil {
			return nil, err
		}
		add(ms)
		ss, err := s.ftsSummaries(ctx, user, match, n, skip)
		if err != nil {
			return nil, err
		}
		add(ss)
	}
	if vectors {
		if vs, err := s.vectorMessages(ctx, user, query, n, skip); err == nil {
			add(vs)
		}
	}
	now := s.now()
	out := make([]Recollection, 0, len(fused))
	for _, m := range fused {
		age := max(now.Sub(m.Time), 0)
		m.Score *= 1 + o.RecencyWeight*math.Exp2(-float64(age)/float64(o.RecencyHalfLife))
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].Time.After(out[j].Time)
	})
	if len(out) > k {
		out = out[:k]
	}
	return out, nil
}

// ftsMessages returns the user's n best BM25 matches. The FTS5 query runs
// in a subquery with its LIMIT, and only its results are joined to
// messages: joining before the limit would look up every match, and
// fetching the rows in a second statement measured slower (each statement
// and each bound value costs microseconds in the driver). When other users'
// messages, or those skip leaves out, crowd the rest out of the limited set,
// it asks again for more.
func (s *Store) ftsMessages(ctx context.Context, user, match string, n int, skip func(Recollection) bool) ([]Recollection, error) {
	for limit := n; ; limit *= 8 {
		// LIMIT is written into the SQL, not bound: FTS5 queries with a
		// bound LIMIT measured about 30% slower.
		st, err := s.stmt(ctx, fmt.Sprintf(`SELECT m.id, m.user_id = ?2, m.conversation_id, m.role, m.content, m.tokens, m.created_ms
FROM (SELECT rowid, bm25(messages_fts) AS r FROM messages_fts WHERE messages_fts MATCH ?1 ORDER BY r LIMIT %d) f
JOIN messages m ON m.id = f.rowid ORDER BY f.r`, limit))
		if err != nil {
			return nil, err
		}
		out, scanned, err := scanMatches(ctx, st, match, user, n, skip)
		if err != nil || len(out) >= n || scanned < limit {
			return out, err
		}
	}
}

func scanMatches(ctx context.Context, st *sql.Stmt, match, user string, n int, skip func(Recollection) bool) ([]Recollection, int, error) {
	rows, err := st.QueryContext(ctx, match, user)
	if err != nil {
		return nil, 0, fmt.Errorf("search messages: %w", err)
	}
	defer rows.Close()
	var out []Recollection
	scanned := 0
	for rows.Next() {
		scanned++
		m := Recollection{Kind: KindMessage}
		var mine bool
		var role string
		var ms int64
		if err := rows.Scan(&m.ID, &mine, &m.ConversationID, &role, &m.Content, &m.Tokens, &ms); err != nil {
			return nil, 0, fmt.Errorf("search messages: %w", err)
		}
		m.Role, m.Time = Role(role), fromMS(ms)
		if mine && len(out) < n && (skip == nil || !skip(m)) {
			out = append(out, m)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("search messages: %w", err)
	}
	return out, scanned, nil
}

// stmt returns a prepared statement for q, prepared once per Store.
func (s *Store) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if st, ok := s.stmts[q]; ok {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("prepare %.40q: %w", q, err)
	}
	if s.stmts == nil {
		s.stmts = map[string]*sql.Stmt{}
	}
	s.stmts[q] = st
	return st, nil
}

// ftsSummaries returns the user's n best BM25 matches among summaries that
// skip does not leave out; it reads up to twice n, since a conversation's
// own folds are few.
func (s *Store) ftsSummaries(ctx context.Context, user, match string, n int, skip func(Recollection) bool) ([]Recollection, error) {
	limit := n
	if skip != nil {
		limit = 2 * n
	}
	st, err := s.stmt(ctx, fmt.Sprintf(`SELECT x.id, x.conversation_id, x.tier, x.content, x.tokens, x.to_ms
FROM summaries_fts JOIN summaries x ON x.id = summaries_fts.rowid
WHERE summaries_fts MATCH ? AND x.user_id = ?
ORDER BY bm25(summaries_fts) LIMIT %d`, limit))
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, match, user)
	if err != nil {
		return nil, fmt.Errorf("search summaries: %w", err)
	}
	defer rows.Close()
	var out []Recollection
	for rows.Next() {
		m := Recollection{Kind: KindSummary}
		var ms int64
		if err := rows.Scan(&m.ID, &m.ConversationID, &m.Tier, &m.Content, &m.Tokens, &ms); err != nil {
			return nil, fmt.Errorf("search summaries: %w", err)
		}
		m.Time = fromMS(ms)
		if len(out) < n && (skip == nil || !skip(m)) {
			out = append(out, m)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search summaries: %w", err)
	}
	return out, nil
}

// vectorMessages ranks the user's embedded messages by cosine similarity
// to the query, among the vectors of the model that embedded it. Vectors are stored unit-length, so it is a dot product,
// computed over an in-memory copy of the user's vectors (vectors.go):
// reading them from SQLite for every query took 180 ms at 10,000 messages.
// Those skip leaves out are looked past, among up to four times n.
func (s *Store) vectorMessages(ctx context.Context, user, query string, n int, skip func(Recollection) bool) ([]Recollection, error) {
	vs, model, err := s.opt.Embedder.Embed(ctx, []string{query})
	if err != nil {
		return nil, fmt.Errorf("embed query: %w", err)
	}
	if len(vs) != 1 || len(vs[0]) == 0 {
		return nil, fmt.Errorf("embed query: got %d vectors", len(vs))
	}
	s.sawEmbedModel(model)
	q := normalize(vs[0])
	// Vectors of different models do not compare: search only those of
	// the model that embedded the query.
	ix, err := s.vectorIndexFor(ctx, user, model, len(q))
	if err != nil {
		return nil, err
	}
	want := n
	if skip != nil {
		want = 4 * n
	}
	hits := ix.top(q, want)
	ids := make([]int64, len(hits))
	for i, h := range hits {
		ids[i] = h.id
	}
	ms, err := s.messagesByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Recollection, 0, len(hits))
	for _, h := range hits {
		m, ok := ms[h.id]
		if !ok {
			continue
		}
		r := Recollection{Kind: KindMessage, ID: m.ID, ConversationID: m.ConversationID, Role: m.Role, Content: m.Content, Tokens: m.Tokens, Time: m.Time}
		if len(out) < n && (skip == nil || !skip(r)) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *Store) messagesByID(ctx context.Context, ids []int64) (map[int64]Message, error) {
	out := map[int64]Message{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	ms, err := queryMessages(ctx, s.db, `SELECT `+messageCols+` FROM messages WHERE id IN (?`+strings.Repeat(",?", len(ids)-1)+`)`, args...)
	if err != nil {
		return nil, err
	}
	if err := s.restoreArchived(ctx, ms); err != nil {
		return nil, err
	}
	for _, m := range ms {
		out[m.ID] = m
	}
	return out, nil
}

func normalize(v []float32) []float32 {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	if sum == 0 {
		return out
	}
	inv := 1 / math.Sqrt(sum)
	for i, x := range v {
		out[i] = float32(float64(x) * inv)
	}
	return out
}

func encodeVector(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func decodeVector(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// maxQueryTerms bounds an FTS5 query built from user text: a pasted page
// would otherwise become thousands of OR terms.
const maxQueryTerms = 16

// FTSQuery turns free text into an FTS5 query that cannot fail to parse:
// the words (letters and digits) become quoted terms joined by OR, common
// English stop words dropped unless nothing else is left. It returns "" when
// text has no words.
func FTSQuery(text string) string {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	var kept, stops []string
	seen := map[string]bool{}
	for _, w := range words {
		if seen[w] {
			continue
		}
		seen[w] = true
		if stopWords[w] {
			stops = append(stops, w)
		} else {
			kept = append(kept, w)
		}
	}
	if len(kept) == 0 {
		kept = stops
	}
	if len(kept) > maxQueryTerms {
		kept = kept[:maxQueryTerms]
	}
	for i, w := range kept {
		kept[i] = `"` + w + `"`
	}
	return strings.Join(kept, " OR ")
}

var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an and are as at be but by can could did do does for from had has have he her him his how i if in into is it its me my no not of on or our she so than that the their them then there these they this to too us was we were what when where which who why will with would you your`) {
		m[w] = true
	}
	return m
}()
