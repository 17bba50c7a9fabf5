package pgmessages

import (
	"strconv"
	"strings"
	"sync"

	"github.com/aimx-dev/aimx/storage"
)

// Messages received in the same second with the same subject share a base
// stem (storage.BaseStem), and take -2, -3, ... in turn. In the database
// the primary key decides, but an insert of an id that another open
// transaction is inserting waits for that transaction to end, and the
// free id a query finds ignores uncommitted rows: concurrent Puts of one
// base queued behind each other's commits, one at a time (a burst of 20
// alike messages took 20 commit waits in a row). So each node claims the
// ids its Puts are inserting, as the file store reserves stems in memory
// (book/scale-out.md, "Messages in PostgreSQL"): a Put skips an id another
// of this node's Puts holds, and only Puts of two nodes can still meet on
// an id, which the primary key settles.

// stemKey names one id of one folder.
type stemKey struct {
	mbox   int64
	folder storage.Folder
	id     string
}

// stemClaims are the ids this node's Puts hold until their transaction
// ends, and for each recent base stem the next suffix to try, so that a
// burst of alike messages does not look for a free id again and again.
type stemClaims struct {
	mu   sync.Mutex
	held map[stemKey]bool
	next map[stemKey]int // id: the base stem
}

// maxNextBases bounds next: past it the map starts again empty (a base
// stem names one second, so old ones are of no more use).
const maxNextBases = 4096

// start is the first id to try for base: base itself, or the suffix after
// the last one this node took for it.
func (c *stemClaims) start(mbox int64, folder storage.Folder, base string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.next[stemKey{mbox: mbox, folder: folder, id: base}]; n >= 2 {
		return base + "-" + strconv.Itoa(n)
	}
	return base
}

// tried records that stem of base is taken (by this Put, or found taken),
// so the next Put of the base starts after it.
func (c *stemClaims) tried(mbox int64, folder storage.Folder, base, stem string) {
	n := 2
	if k, ok := suffixOf(base, stem); ok {
		n = k + 1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.next == nil || len(c.next) >= maxNextBases {
		c.next = map[stemKey]int{}
	}
	key := stemKey{mbox: mbox, folder: folder, id: base}
	c.next[key] = max(c.next[key], n)
}

// suffixOf is N of base-N (N >= 2).
func suffixOf(base, stem string) (int, bool) {
	rest, ok := strings.CutPrefix(stem, base+"-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil && n >= 2
}

// claim takes k, reporting false when another Put of this node holds it.
func (c *stemClaims) claim(k stemKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held[k] {
		return false
	}
	c.held[k] = true
	return true
}

// release gives the keys back.
func (c *stemClaims) release(keys []stemKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		delete(c.held, k)
	}
}

// bumpStem is the candidate after stem: base-2 after base, base-(N+1)
// after base-N.
func bumpStem(base, stem string) string {
	if n, ok := suffixOf(base, stem); ok {
		return base + "-" + strconv.Itoa(n+1)
	}
	return base + "-2"
}
