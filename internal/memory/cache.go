package memory

import (
	"container/list"
	"sync"
)

// cacheKey identifies one assembled context: the same conversation, persona,
// window and query give the same context until something is appended.
type cacheKey struct {
	conversation int64
	user         string
	persona      string
	query        string
	model        string
	window       int
	reserve      int
	branch       int64
}

type cacheEntry struct {
	key cacheKey
	ctx Context
}

// contextCache is a least-recently-used cache of assembled contexts, bounded
// by entry count. Appending to a conversation drops its entries; changing a
// user's facts drops the user's.
type contextCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // front: most recently used
	byKey map[cacheKey]*list.Element
	hits  int64
	miss  int64
}

func newContextCache(max int) *contextCache {
	return &contextCache{max: max, order: list.New(), byKey: map[cacheKey]*list.Element{}}
}

func (c *contextCache) get(k cacheKey) (Context, bool) {
	if c.max <= 0 {
		return Context{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[k]
	if !ok {
		c.miss++
		return Context{}, false
	}
	c.hits++
	c.order.MoveToFront(e)
	return e.Value.(*cacheEntry).ctx.clone(), true
}

func (c *contextCache) put(k cacheKey, v Context) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[k]; ok {
		e.Value.(*cacheEntry).ctx = v.clone()
		c.order.MoveToFront(e)
		return
	}
	c.byKey[k] = c.order.PushFront(&cacheEntry{key: k, ctx: v.clone()})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byKey, last.Value.(*cacheEntry).key)
	}
}

func (c *contextCache) drop(match func(cacheKey) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.byKey {
		if match(k) {
			c.order.Remove(e)
			delete(c.byKey, k)
		}
	}
}

func (c *contextCache) invalidate(conversation int64) {
	c.drop(func(k cacheKey) bool { return k.conversation == conversation })
}

func (c *contextCache) invalidateUser(user string) {
	c.drop(func(k cacheKey) bool { return k.user == user })
}

func (c *contextCache) clear() { c.drop(func(cacheKey) bool { return true }) }

// CacheStats says how the assembled-context cache is doing.
type CacheStats struct {
	Entries, Max int
	Hits, Misses int64
}

// CacheStats returns the context cache's counters.
func (s *Store) CacheStats() CacheStats {
	c := s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Entries: c.order.Len(), Max: c.max, Hits: c.hits, Misses: c.miss}
}
