package memory

import (
	"container/heap"
	"context"
	"database/sql"
	"fmt"
	"math"
)

// vectorKey names one in-memory index: a user's vectors of one model.
type vectorKey struct {
	user, model string
	dims        int
}

// vectorIndex holds a user's unit vectors quantised to int8 (x·127): a
// quarter of float32's memory (100,000 messages × 768 dimensions: 75 MB),
// and ranking by an int8 dot product (error about 1% of the similarity)
// loses nothing that matters for picking candidates. gen is the embedding generation it reflects.
type vectorIndex struct {
	gen  int64
	dims int
	ids  []int64
	pos  map[int64]int
	q    []int8
}

func quantize(dst []int8, v []float32) {
	for i, x := range v {
		dst[i] = int8(math.Round(float64(min(max(x, -1), 1)) * 127))
	}
}

func (ix *vectorIndex) set(id int64, v []float32) {
	if p, ok := ix.pos[id]; ok {
		quantize(ix.q[p*ix.dims:(p+1)*ix.dims], v)
		return
	}
	ix.pos[id] = len(ix.ids)
	ix.ids = append(ix.ids, id)
	ix.q = append(ix.q, make([]int8, ix.dims)...)
	quantize(ix.q[len(ix.q)-ix.dims:], v)
}

type vectorHit struct {
	id  int64
	sim float32
}

// top returns the n ids nearest to the unit vector q, best first. The
// query is quantised too, so the dot products are integer arithmetic, and
// a bounded min-heap keeps the best n without sorting every vector.
func (ix *vectorIndex) top(q []float32, n int) []vectorHit {
	if n <= 0 || len(ix.ids) == 0 {
		return nil
	}
	qq := make([]int8, len(q))
	quantize(qq, q)
	h := make(hitHeap, 0, n)
	for i, id := range ix.ids {
		row := ix.q[i*ix.dims : (i+1)*ix.dims]
		row = row[:len(qq)]
		var sum int32
		for d, x := range qq {
			sum += int32(x) * int32(row[d])
		}
		sim := float32(sum) / (127 * 127)
		if len(h) < n {
			heap.Push(&h, vectorHit{id, sim})
		} else if sim > h[0].sim {
			h[0] = vectorHit{id, sim}
			heap.Fix(&h, 0)
		}
	}
	out := make([]vectorHit, len(h))
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(&h).(vectorHit)
	}
	return out
}

// hitHeap is a min-heap by similarity: its root is the worst kept hit.
type hitHeap []vectorHit

func (h hitHeap) Len() int           { return len(h) }
func (h hitHeap) Less(i, j int) bool { return h[i].sim < h[j].sim }
func (h hitHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *hitHeap) Push(x any)        { *h = append(*h, x.(vectorHit)) }
func (h *hitHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func embeddingGen(ctx context.Context, db queryer) (int64, error) {
	var gen int64
	rows, err := db.QueryContext(ctx, `SELECT n FROM embedding_generation WHERE id = 1`)
	if err != nil {
		return 0, fmt.Errorf("read embedding generation: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		err = rows.Scan(&gen)
	}
	return gen, err
}

// vectorIndexFor returns the up-to-date index of user's vectors of model
// with dims dimensions, loading it when the generation moved.
func (s *Store) vectorIndexFor(ctx context.Context, user, model string, dims int) (*vectorIndex, error) {
	s.vecMu.Lock()
	defer s.vecMu.Unlock()
	gen, err := embeddingGen(ctx, s.db)
	if err != nil {
		return nil, err
	}
	key := vectorKey{user, model, dims}
	if ix := s.vecs[key]; ix != nil && ix.gen == gen {
		return ix, nil
	}
	ix := &vectorIndex{gen: gen, dims: dims, pos: map[int64]int{}}
	err = eachRow(ctx, s.db, `SELECT e.message_id, e.vector FROM embeddings e JOIN messages m ON m.id = e.message_id
WHERE m.user_id = ? AND e.model = ? AND e.dims = ?`, []any{user, model, dims}, func(r rowScanner) error {
		var id int64
		var blob []byte
		if err := r.Scan(&id, &blob); err != nil {
			return err
		}
		ix.set(id, decodeVector(blob))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load vectors: %w", err)
	}
	if s.vecs == nil {
		s.vecs = map[vectorKey]*vectorIndex{}
	}
	s.vecs[key] = ix
	return ix, nil
}

// setEmbedding writes a vector and, when no other writer moved the
// generation in between, updates the loaded index in place instead of
// letting the next recall reload it.
func (s *Store) setEmbedding(ctx context.Context, message int64, model string, u []float32) error {
	s.vecMu.Lock()
	defer s.vecMu.Unlock()
	var user string
	var before, after int64
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		if before, err = embeddingGen(ctx, tx); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT user_id FROM messages WHERE id = ?`, message).Scan(&user); err != nil {
			return fmt.Errorf("message %d: %w", message, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO embeddings (message_id, model, dims, vector) VALUES (?, ?, ?, ?)
ON CONFLICT (message_id, model) DO UPDATE SET dims = excluded.dims, vector = excluded.vector`, message, model, len(u), encodeVector(u)); err != nil {
			return err
		}
		after, err = embeddingGen(ctx, tx)
		return err
	})
	if err != nil {
		return fmt.Errorf("store embedding of message %d: %w", message, err)
	}
	if ix := s.vecs[vectorKey{user, model, len(u)}]; ix != nil && ix.gen == before && after == before+1 {
		ix.set(message, u)
		ix.gen = after
	}
	return nil
}
