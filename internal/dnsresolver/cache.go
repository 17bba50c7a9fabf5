package dnsresolver

import (
	"net"
	"sync"
	"time"
)

// answer is what one query of one type produced. Exactly one of the slices
// is used, by the query type.
type answer struct {
	txt []string
	mx  []*net.MX
	ips []net.IP
}

type cacheKey struct {
	qtype uint16
	name  string // normalized
}

// cacheEntry is a positive answer or a negative one (notFound set).
type cacheEntry struct {
	ans      answer
	notFound bool
	nxdomain bool
	expires  time.Time
}

// cache is a bounded TTL map shared by every lookup of one Resolver.
// Temporary failures are never stored in it.
type cache struct {
	mu  sync.Mutex
	m   map[cacheKey]cacheEntry
	max int
}

func newCache(maxEntries int) *cache {
	return &cache{m: make(map[cacheKey]cacheEntry), max: maxEntries}
}

// get returns the live entry for k at now.
func (c *cache) get(k cacheKey, now time.Time) (cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return cacheEntry{}, false
	}
	if !now.Before(e.expires) {
		delete(c.m, k)
		return cacheEntry{}, false
	}
	return e, true
}

// put stores e under k. When the cache is full it first drops expired
// entries, then arbitrary ones (Go's map order), so memory stays bounded
// whatever names remote senders make us look up.
func (c *cache) put(k cacheKey, e cacheEntry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, exists := c.m[k]; !exists && len(c.m) >= c.max {
		for key, old := range c.m {
			if !now.Before(old.expires) {
				delete(c.m, key)
			}
		}
		for key := range c.m {
			if len(c.m) < c.max {
				break
			}
			delete(c.m, key)
		}
	}
	c.m[k] = e
}

// len counts the stored entries, live or not.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
