package storage

import (
	"bytes"
	"slices"
	"strings"
	"time"
)

// Listing order (book/storage.md, "Listing and counting"): newest first by
// receipt, with the id as the tiebreak. The index keeps its slots in id
// order, and a stem starts with its receipt second in a fixed-width form,
// so id order is receipt order between seconds, and the messages of one
// second sit next to each other (a run). Within a run the receipt order
// is slot.order (receiptOrder), then the id. A listing
// therefore walks the slots from the end one run at a time and sorts only
// the runs of more than one message: the order needs no permutation array
// and costs nothing for the usual run of one. Slots whose id carries no
// time are runs of one at their id's place.

// slotSecond is the receipt second a slot keeps for a stem time, and
// whether it has one (a uint32 of Unix seconds: 1970 to 2106).
func slotSecond(at int64, hasAt bool) (uint32, bool) {
	if !hasAt || at < 0 || at > 1<<32-1 {
		return 0, false
	}
	return uint32(at), true
}

// orderKey is a message's place within its run.
type orderKey struct {
	order uint32
	id    string
}

// compareKey orders two messages of one run, oldest first.
func compareKey(aOrder uint32, aID []byte, bOrder uint32, bID []byte) int {
	switch {
	case aOrder < bOrder:
		return -1
	case aOrder > bOrder:
		return 1
	}
	return bytes.Compare(aID, bID)
}

// sameRun reports whether slot b belongs to the run of a receipt second.
func sameRun(sl *slot, at uint32) bool {
	return sl.flags&flagHasAt != 0 && sl.at == at
}

// runOf returns the bounds of the run holding slot i.
func (idx *folderIndex) runOf(i int) (lo, hi int) {
	sl := &idx.slots[i]
	if sl.flags&flagHasAt == 0 {
		return i, i
	}
	lo, hi = i, i
	for lo > 0 && sameRun(&idx.slots[lo-1], sl.at) {
		lo--
	}
	for hi < len(idx.slots)-1 && sameRun(&idx.slots[hi+1], sl.at) {
		hi++
	}
	return lo, hi
}

// sortedRun appends the slots lo..hi to out in listing order.
func (idx *folderIndex) sortedRun(lo, hi int, asc bool, out []int) []int {
	start := len(out)
	for i := lo; i <= hi; i++ {
		out = append(out, i)
	}
	run := out[start:]
	slices.SortFunc(run, func(a, b int) int {
		c := compareKey(idx.slots[a].order, idx.id(a), idx.slots[b].order, idx.id(b))
		if asc {
			return c
		}
		return -c
	})
	return out
}

// walk yields slot positions in listing order: newest first, or oldest
// first when asc.
type walk struct {
	idx     *folderIndex
	asc     bool
	pending []int // members of the current run still to yield
	pos     int   // the next position to expand: a run's end (or start, asc)
}

// walkFrom starts a walk at the first message after the cursor position
// ck (nil: at the newest, or the oldest when asc).
func (idx *folderIndex) walkFrom(asc bool, ck *orderKey) *walk {
	n := len(idx.slots)
	w := &walk{idx: idx, asc: asc, pos: n - 1}
	if asc {
		w.pos = 0
	}
	if ck == nil {
		return w
	}
	// The cursor's run: where its id is, or would be if it is gone.
	p, found := idx.search(ck.id)
	lo, hi := p, p-1
	if found {
		hi = p
	}
	if t, ok := stemTime(ck.id); ok {
		if at, ok := slotSecond(t.Unix(), true); ok {
			for lo > 0 && sameRun(&idx.slots[lo-1], at) {
				lo--
			}
			for hi < n-1 && sameRun(&idx.slots[hi+1], at) {
				hi++
			}
		}
	}
	if lo <= hi {
		for _, i := range idx.sortedRun(lo, hi, asc, nil) {
			c := compareKey(idx.slots[i].order, idx.id(i), ck.order, []byte(ck.id))
			if (asc && c > 0) || (!asc && c < 0) {
				w.pending = append(w.pending, i)
			}
		}
	}
	if asc {
		w.pos = hi + 1
	} else {
		w.pos = lo - 1
	}
	return w
}

// next returns the next position, or false at the end.
func (w *walk) next() (int, bool) {
	for len(w.pending) == 0 {
		if w.pos < 0 || w.pos >= len(w.idx.slots) {
			return 0, false
		}
		lo, hi := w.idx.runOf(w.pos)
		if lo == hi {
			i := w.pos
			w.advance(lo, hi)
			return i, true
		}
		w.pending = w.idx.sortedRun(lo, hi, w.asc, w.pending[:0])
		w.advance(lo, hi)
	}
	i := w.pending[0]
	w.pending = w.pending[1:]
	return i, true
}

func (w *walk) advance(lo, hi int) {
	if w.asc {
		w.pos = hi + 1
	} else {
		w.pos = lo - 1
	}
}

// skip passes over k messages without looking at them (a listing with no
// filter): whole runs by position, then part of one.
func (w *walk) skip(k int) {
	for k > 0 && len(w.pending) > 0 {
		w.pending = w.pending[1:]
		k--
	}
	n := len(w.idx.slots)
	if k == 0 || w.pos < 0 || w.pos >= n {
		return
	}
	// w.pos is the end (start, asc) of a run: the runs between it and the
	// target position are skipped whole.
	q := w.pos - k
	if w.asc {
		q = w.pos + k
	}
	if q < 0 || q >= n {
		w.pos = -1
		return
	}
	lo, hi := w.idx.runOf(q)
	within := hi - q
	if w.asc {
		within = q - lo
	}
	w.pending = w.idx.sortedRun(lo, hi, w.asc, w.pending[:0])[within:]
	w.advance(lo, hi)
}

// matcher holds a ListQuery's filters, prepared once.
type matcher struct {
	unread              bool
	from, subject       []byte
	since               int64
	hasSince            bool
	thread, msgID       uint32 // hashed filters: 0 when not asked for
	trust               uint8
	hasTrust            bool
	threadID, messageID string          // the exact values the hashed filters stand for
	labeled             map[string]bool // ids carrying the label asked for; nil: no label filter
}

func newMatcher(q ListQuery) matcher {
	m := matcher{unread: q.Unread, from: []byte(strings.ToLower(q.From)), subject: []byte(strings.ToLower(q.Subject)),
		thread: hashOf(q.ThreadID), msgID: hashOf(q.MessageID), threadID: q.ThreadID, messageID: q.MessageID, labeled: q.labeled}
	if !q.Since.IsZero() {
		m.since, m.hasSince = q.Since.Truncate(time.Second).Unix(), true
	}
	if q.Trusted != "" {
		m.trust, m.hasTrust = trustCode(q.Trusted), true
	}
	return m
}

func (m *matcher) filters() bool {
	return m.unread || len(m.from) > 0 || len(m.subject) > 0 || m.hasSince || m.hasTrust || m.hashed() || m.labeled != nil
}

// hashed reports a filter the index answers with candidates only.
func (m *matcher) hashed() bool { return m.thread != 0 || m.msgID != 0 }

// confirm checks a hashed candidate against its frontmatter.
func (m *matcher) confirm(fm *Frontmatter) bool {
	return fm != nil && (m.thread == 0 || fm.ThreadID == m.threadID) && (m.msgID == 0 || fm.MessageID == m.messageID)
}

// match applies the filters of book/mcp.md email_list: unread, a
// case-insensitive substring of from and of subject, a receipt time at or
// after since (a stem without a time passes the time filter), the trust
// verdict, and the hashes of thread_id and message_id. The index holds
// from and subject lowercased, so a substring search on them is the
// case-insensitive one.
func (m *matcher) match(sl *slot, arena []byte) bool {
	if m.hasSince && sl.flags&flagHasAt != 0 && int64(sl.at) < m.since {
		return false
	}
	if m.unread && sl.flags&flagRead != 0 {
		return false
	}
	if m.hasTrust && (sl.trust != m.trust || sl.flags&flagBroken != 0) {
		return false
	}
	if (m.thread != 0 && sl.thread != m.thread) || (m.msgID != 0 && sl.msgID != m.msgID) {
		return false
	}
	if m.labeled != nil && !m.labeled[string(arena[sl.off:sl.off+uint32(sl.idLen)])] {
		return false
	}
	if len(m.from) == 0 && len(m.subject) == 0 {
		return true
	}
	if sl.flags&flagBroken != 0 {
		return false
	}
	from := sl.off + uint32(sl.idLen)
	subj := from + uint32(sl.fromLen)
	return bytes.Contains(arena[from:subj], m.from) && bytes.Contains(arena[subj:subj+uint32(sl.subjLen)], m.subject)
}

// indexPage is the index's answer to a ListQuery.
type indexPage struct {
	rows  []entry // the page, in listing order
	total int     // messages matching in the whole folder
	more  bool    // messages match after the page
	// Hashed filters: rows holds every candidate of the folder in listing
	// order, unpaged, and the first split of them come before the cursor;
	// list.go confirms them against their files and pages them.
	hashed bool
	split  int
}

// query answers q (cursor decoded into ck) from the index.
func (idx *folderIndex) query(q ListQuery, ck *orderKey) indexPage {
	m := newMatcher(q)
	idx.mu.Lock()
	defer idx.mu.Unlock()
	var p indexPage
	if m.hashed() {
		p.hashed = true
		all := idx.walkFrom(q.Oldest, nil)
		for i, ok := all.next(); ok; i, ok = all.next() {
			if m.match(&idx.slots[i], idx.arena) {
				p.rows = append(p.rows, idx.entry(i))
			}
		}
		after := 0
		if ck != nil {
			w := idx.walkFrom(q.Oldest, ck)
			for i, ok := w.next(); ok; i, ok = w.next() {
				if m.match(&idx.slots[i], idx.arena) {
					after++
				}
			}
		} else {
			after = len(p.rows)
		}
		p.total, p.split = len(p.rows), len(p.rows)-after
		return p
	}
	w := idx.walkFrom(q.Oldest, ck)
	if !m.filters() {
		p.total = len(idx.slots)
		w.skip(q.Offset)
		for len(p.rows) < q.Limit {
			i, ok := w.next()
			if !ok {
				return p
			}
			p.rows = append(p.rows, idx.entry(i))
		}
		_, p.more = w.next()
		return p
	}
	skipped := 0
	for i, ok := w.next(); ok; i, ok = w.next() {
		if !m.match(&idx.slots[i], idx.arena) {
			continue
		}
		switch {
		case skipped < q.Offset:
			skipped++
		case len(p.rows) < q.Limit:
			p.rows = append(p.rows, idx.entry(i))
		default:
			p.more = true
		}
		if p.more {
			break // the count below covers the rest
		}
	}
	for i := range idx.slots {
		if m.match(&idx.slots[i], idx.arena) {
			p.total++
		}
	}
	return p
}

func (idx *folderIndex) entry(i int) entry {
	sl := &idx.slots[i]
	return entry{stem: string(idx.id(i)), bundle: sl.flags&flagBundle != 0, order: sl.order}
}
