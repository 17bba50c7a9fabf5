package storage

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The per-folder index (book/storage.md, "Listing and counting"): what
// listing, filtering and counting need of every message of one mailbox
// folder, so that neither reads every file. It is always derivable from the files.
//
// A folder's index is loaded the first time the folder is listed or
// counted: from its cache file under <data>/.index (indexfile.go), taken
// as it is when the folder dir is unchanged since the file was written and
// else checked entry by entry against each .md's stat stamp, re-reading
// those that differ; from the files alone when there is no cache
// (indexload.go). Every
// write through the Store (Put, SetRead, RemoveMailbox) updates a loaded
// index synchronously after the write is durable; it adds no fsync and no
// file to the `250` path. Loaded indexes share a memory budget
// (Options.IndexBudget): past it the least recently listed are written to
// their cache file and dropped, keeping only their counts.
//
// Writes made behind the Store's back (a hand edit, another process) are
// seen after a restart: files added, removed or renamed as soon as the
// folder is loaded, a .md edited in place once the start-up warm-up has
// checked its folder (WarmIndex).

// indexEntry is one message as a writer hands it to the index.
type indexEntry struct {
	id     string
	bundle bool
	at     int64 // stem receipt time, Unix seconds; valid when hasAt
	hasAt  bool
	order  uint32 // place within the stem's second (receiptOrder)
	// orderFromEML: received_at does not place it within the second; the
	// .eml's mtime does (orderByEML).
	orderFromEML bool
	from         string // lowercased, for the case-insensitive filters
	subject      string // lowercased
	thread       uint32 // hashOf(thread_id), for the thread filter (verified on read)
	msgID        uint32 // hashOf(message_id), for the message_id filter and thread joins (verified on read)
	trust        uint8  // trustCode(trusted)
	read         bool
	broken       bool // the .md did not decode; listed, never filtered in
}

// newIndexEntry takes the indexed fields from a decoded frontmatter.
func newIndexEntry(id string, bundle bool, fm *Frontmatter) *indexEntry {
	e := &indexEntry{id: id, bundle: bundle}
	if t, ok := stemTime(id); ok {
		e.at, e.hasAt = t.Unix(), true
	}
	if fm == nil {
		e.broken = true
		return e
	}
	if fm.ReceivedAt.Nanosecond() != 0 {
		e.order = receiptOrder(e.at, e.hasAt, fm.ReceivedAt)
	} else {
		e.orderFromEML = e.hasAt
	}
	e.from = strings.ToLower(fm.From)
	e.subject = strings.ToLower(fm.Subject)
	e.thread, e.msgID = hashOf(fm.ThreadID), hashOf(fm.MessageID)
	e.trust = trustCode(fm.Trusted)
	e.read = fm.Read
	return e
}

// receiptOrder is a message's place within the second of its stem
// (book/storage.md, "Listing and counting"): the microseconds from the
// start of that second to t, capped at 71 minutes; 0 when t is unknown or
// earlier. t is received_at when it has a part below the second (the
// intake records it so since format 2 of the index, and the Rust aimx
// did), else the .eml's mtime: mail stored before, and sent copies, which
// carry no received_at. A message with neither orders by id in its second.
func receiptOrder(at int64, hasAt bool, t time.Time) uint32 {
	if !hasAt || t.IsZero() {
		return 0
	}
	d := t.Sub(time.Unix(at, 0)) / time.Microsecond
	if d <= 0 {
		return 0
	}
	return uint32(min(d, 1<<32-1))
}

// hashOf is the fixed-size stand-in the index keeps for a thread_id or a
// message_id (FNV-1a, 32 bits): a match is a candidate, confirmed against
// the .md before it is listed (list.go), so a collision costs one read,
// never a wrong row. "" hashes to 0, which no filter asks for.
func hashOf(s string) uint32 {
	if s == "" {
		return 0
	}
	h := fnv.New32a()
	_, _ = io.WriteString(h, s) // a hash.Hash never fails a write
	if v := h.Sum32(); v != 0 {
		return v
	}
	return 1
}

// Trust codes of a slot, for the trusted filter.
const (
	trustOther uint8 = iota // a value this version does not know, or none stored
	trustTrue
	trustFalse
	trustNone
)

// trustCode maps a trusted value to its code.
func trustCode(v string) uint8 {
	switch v {
	case TrustedTrue:
		return trustTrue
	case TrustedFalse:
		return trustFalse
	case TrustedNone:
		return trustNone
	}
	return trustOther
}

// slot is one message in a loaded index: 36 bytes and no pointer, its
// strings in the index's arena (id, then from, then subject), so a
// million of them cost the garbage collector nothing to scan. The file
// stamp is split in two halves so the slot needs 4-byte alignment only.
type slot struct {
	stampLo uint32 // the .md's fileStamp when read; 0: unknown, re-read at the next load
	stampHi uint32
	off     uint32 // arena offset of the id
	at      uint32 // stem receipt time, Unix seconds (flagHasAt)
	order   uint32 // place within the stem's second (receiptOrder)
	thread  uint32 // hashOf(thread_id)
	msgID   uint32 // hashOf(message_id)
	fromLen uint16
	subjLen uint16
	idLen   uint16
	flags   uint8
	trust   uint8
}

const slotSize = 36

func (sl *slot) stamp() uint64 { return uint64(sl.stampHi)<<32 | uint64(sl.stampLo) }

func (sl *slot) setStamp(v uint64) { sl.stampLo, sl.stampHi = uint32(v), uint32(v>>32) }

// Slot flags.
const (
	flagBundle uint8 = 1 << iota
	flagHasAt
	flagRead
	flagBroken
)

// maxIndexedString caps what the index keeps of a from or subject; a
// filter string beyond it cannot match the cut part.
const maxIndexedString = 1<<16 - 1

// folderIndex indexes one folder dir. It stays in Store.indexes once
// made; its entries come and go (resident), its counts stay valid as long
// as every write goes through the Store (countsOK).
type folderIndex struct {
	dir    string
	ref    MailboxRef
	folder Folder

	// bytes is the memory the loaded entries hold; lastUse orders
	// eviction (a listing bumps it; a count does not).
	bytes   atomic.Int64
	lastUse atomic.Uint64

	mu       sync.Mutex
	ready    chan struct{} // of the current or last load; closed when it is over
	err      error         // the last load's outcome
	building bool
	journal  []*indexEntry // upserts that arrived during the load, in order
	resident bool
	pins     int // callers using the entries: never evicted meanwhile
	slots    []slot
	arena    []byte
	garbage  int // arena bytes no slot refers to
	unread   int
	total    int
	countsOK bool // total and unread are current
	// provisional: the entries came from the cache file on the folder
	// dir's stamp alone and are not checked message by message yet.
	provisional bool
	// noTrust: load message by message (after dropIndex), never on the
	// dir's stamp alone.
	noTrust bool
	// headerTried: the counts of the cache file's header were considered
	// (once a start: a write through the Store since makes them stale).
	headerTried bool
	dirty       bool // the entries differ from the cache file
}

// index returns the loaded index of a folder, loading it first if need be,
// pinned: the caller calls unpin when done with its entries. Concurrent
// callers wait for one load, which runs on its own goroutine with the
// first caller's values but not its cancellation: a caller that gives up
// stops waiting, it does not fail the load the others wait for. A failed
// load is forgotten, so the next call tries again. hot marks a listing,
// which keeps the index in memory longer than a count does.
func (s *Store) index(ctx context.Context, ref MailboxRef, folder Folder, hot bool) (*folderIndex, error) {
	idx := s.folderIndexOf(ref, folder)
	if hot {
		idx.lastUse.Store(s.indexCfg.ticks.Add(1))
	}
	idx.mu.Lock()
	idx.pins++
	if idx.resident {
		idx.mu.Unlock()
		return idx, nil
	}
	if !idx.building {
		idx.building, idx.ready, idx.journal, idx.err = true, make(chan struct{}), nil, nil
		go s.loadIndex(context.WithoutCancel(ctx), idx, idx.ready)
	}
	ready := idx.ready
	idx.mu.Unlock()
	select {
	case <-ready:
	case <-ctx.Done():
		idx.unpin()
		return nil, ctx.Err()
	}
	idx.mu.Lock()
	resident, err := idx.resident, idx.err
	idx.mu.Unlock()
	if !resident {
		idx.unpin()
		if err == nil {
			err = fmt.Errorf("index dropped while loading")
		}
		return nil, fmt.Errorf("index %s/%s: %w", ref, folder, err)
	}
	return idx, nil
}

// folderIndexOf returns the folder's index record, creating it unloaded.
func (s *Store) folderIndexOf(ref MailboxRef, folder Folder) *folderIndex {
	dir := s.folderDir(ref, folder)
	s.mu.Lock()
	defer s.mu.Unlock()
	idx := s.indexes[dir]
	if idx == nil {
		idx = &folderIndex{dir: dir, ref: ref, folder: folder}
		s.indexes[dir] = idx
	}
	return idx
}

func (idx *folderIndex) unpin() {
	idx.mu.Lock()
	idx.pins--
	idx.mu.Unlock()
}

// loadIndex runs one load and then keeps the loaded indexes within budget
// and writes the cache file of a load that read many files, after the
// callers waiting for the load have it.
func (s *Store) loadIndex(ctx context.Context, idx *folderIndex, ready chan struct{}) {
	read, ok := s.loadOnce(ctx, idx, ready)
	if !ok {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			s.panics.Recovered(s.log.With().Str("mailbox", idx.ref.String()).Logger(), "storage index eviction", p)
		}
	}()
	s.evictIndexes(idx)
	if read >= saveAfterReading && !s.readOnly {
		s.saveIndex(idx)
	}
}

// loadOnce runs the load proper and closes ready when it is over.
func (s *Store) loadOnce(ctx context.Context, idx *folderIndex, ready chan struct{}) (read int, ok bool) {
	defer close(ready)
	defer func() {
		if p := recover(); p != nil {
			idx.mu.Lock()
			idx.err = fmt.Errorf("panic loading the index: %v", p)
			idx.building, idx.resident, idx.journal = false, false, nil
			idx.mu.Unlock()
			s.panics.Recovered(s.log.With().Str("mailbox", idx.ref.String()).Logger(), "storage index build", p)
			ok = false
		}
	}()
	read, err := s.buildIndex(ctx, idx.ref, idx.folder, idx)
	return read, err == nil
}

// saveAfterReading is how many files a load must have read for its result
// to be written to the cache file at once rather than at eviction or
// shutdown: a crash before then costs the next start that much reading.
const saveAfterReading = 256

// install makes the loaded slots the index's entries and applies the
// upserts journalled meanwhile, in order: each reflects a write at least
// as new as what the load may have read.
func (idx *folderIndex) install(r scanResult) {
	idx.mu.Lock()
	defer idx.mu.Unlock()
	slots := r.slots
	idx.slots, idx.arena, idx.garbage, idx.provisional = slots, r.arena, 0, r.provisional
	idx.unread = 0
	for i := range slots {
		if slots[i].flags&flagRead == 0 {
			idx.unread++
		}
	}
	idx.resident, idx.building, idx.countsOK, idx.dirty = true, false, true, r.dirty
	for _, e := range idx.journal {
		idx.upsertLocked(e)
	}
	idx.journal = nil
	idx.total = len(idx.slots)
	idx.bytes.Store(idx.sizeLocked())
}

func (idx *folderIndex) sizeLocked() int64 {
	return int64(cap(idx.slots))*slotSize + int64(cap(idx.arena))
}

// id returns the id of slot i as bytes of the arena.
func (idx *folderIndex) id(i int) []byte {
	sl := &idx.slots[i]
	return idx.arena[sl.off : sl.off+uint32(sl.idLen)]
}

// search returns the position of id in the slots and whether it is there.
func (idx *folderIndex) search(id string) (int, bool) {
	i := sort.Search(len(idx.slots), func(i int) bool { return string(idx.id(i)) >= id })
	return i, i < len(idx.slots) && string(idx.id(i)) == id
}

// appendEntry adds e's strings to arena and returns its slot.
func appendEntry(arena []byte, e *indexEntry, stamp uint64) ([]byte, slot) {
	from, subj := e.from[:min(len(e.from), maxIndexedString)], e.subject[:min(len(e.subject), maxIndexedString)]
	sl := slot{off: uint32(len(arena)), idLen: uint16(len(e.id)), fromLen: uint16(len(from)), subjLen: uint16(len(subj)),
		thread: e.thread, msgID: e.msgID, trust: e.trust}
	sl.setStamp(stamp)
	if at, ok := slotSecond(e.at, e.hasAt); ok {
		sl.at, sl.order, sl.flags = at, e.order, flagHasAt
	}
	for _, f := range []struct {
		on  bool
		bit uint8
	}{{e.bundle, flagBundle}, {e.read, flagRead}, {e.broken, flagBroken}} {
		if f.on {
			sl.flags |= f.bit
		}
	}
	arena = append(arena, e.id...)
	arena = append(arena, from...)
	arena = append(arena, subj...)
	return arena, sl
}

// upsertLocked inserts e or replaces the entry with its id. Its file
// stamp is unknown: the next load re-reads it.
func (idx *folderIndex) upsertLocked(e *indexEntry) {
	if len(e.id) > maxIndexedString {
		return // not a stem this store writes or lists
	}
	i, found := idx.search(e.id)
	var sl slot
	idx.arena, sl = appendEntry(idx.arena, e, 0)
	if found {
		old := &idx.slots[i]
		if old.flags&flagRead == 0 {
			idx.unread--
		}
		idx.garbage += int(old.idLen) + int(old.fromLen) + int(old.subjLen)
		*old = sl
	} else {
		idx.slots = append(idx.slots, slot{})
		copy(idx.slots[i+1:], idx.slots[i:])
		idx.slots[i] = sl
	}
	if !e.read {
		idx.unread++
	}
	idx.total = len(idx.slots)
	idx.dirty = true
	if idx.garbage > len(idx.arena)/2 && idx.garbage > 1<<16 {
		idx.compactLocked()
	}
	idx.bytes.Store(idx.sizeLocked())
}

// compactLocked copies the live strings into a new arena.
func (idx *folderIndex) compactLocked() {
	arena := make([]byte, 0, len(idx.arena)-idx.garbage)
	for i := range idx.slots {
		sl := &idx.slots[i]
		n := uint32(sl.idLen) + uint32(sl.fromLen) + uint32(sl.subjLen)
		off := uint32(len(arena))
		arena = append(arena, idx.arena[sl.off:sl.off+n]...)
		sl.off = off
	}
	idx.arena, idx.garbage = arena, 0
}

// indexUpsert records a message just written durably through the Store.
// A folder not loaded needs nothing but forgetting its counts: its next
// load reads the file.
func (s *Store) indexUpsert(ref MailboxRef, folder Folder, e *indexEntry) {
	s.mu.Lock()
	idx := s.indexes[s.folderDir(ref, folder)]
	s.mu.Unlock()
	if idx == nil {
		return
	}
	idx.mu.Lock()
	live := idx.building || idx.resident
	idx.mu.Unlock()
	if live && e.orderFromEML {
		if d, err := s.openFolder(ref, folder); err == nil {
			e.orderByEML(d)
			d.Close()
		}
	}
	idx.mu.Lock()
	defer idx.mu.Unlock()
	if idx.building {
		idx.journal = append(idx.journal, e) // replayed over what the load finds
	}
	if idx.resident {
		idx.upsertLocked(e) // a check of a provisional index is running: keep it current too
	} else if !idx.building {
		idx.countsOK = false
	}
}

// dropIndex forgets a folder's index; the next use loads it again,
// checking every message against its stamp.
func (s *Store) dropIndex(ref MailboxRef, folder Folder) {
	dir := s.folderDir(ref, folder)
	s.mu.Lock()
	s.indexes[dir] = &folderIndex{dir: dir, ref: ref, folder: folder, noTrust: true}
	s.mu.Unlock()
}

// counts returns the number of messages and of unread ones.
func (idx *folderIndex) counts() (total, unread int) {
	idx.mu.Lock()
	defer idx.mu.Unlock()
	return idx.total, idx.unread
}

// readLockSlot picks the read-state lock of a message (FNV-1a of its path).
func readLockSlot(dir, id string) int {
	h := fnv.New32a()
	_, _ = io.WriteString(h, dir) // a hash.Hash never fails a write
	_, _ = io.WriteString(h, "/")
	_, _ = io.WriteString(h, id)
	return int(h.Sum32() % 64)
}

// entryAt returns slot i as an indexEntry (tests compare indexes by it).
func (idx *folderIndex) entryAt(i int) indexEntry {
	sl := &idx.slots[i]
	from := sl.off + uint32(sl.idLen)
	subj := from + uint32(sl.fromLen)
	return indexEntry{id: string(idx.id(i)), bundle: sl.flags&flagBundle != 0, at: int64(sl.at), hasAt: sl.flags&flagHasAt != 0,
		order: sl.order, from: string(idx.arena[from:subj]), subject: string(idx.arena[subj : subj+uint32(sl.subjLen)]),
		thread: sl.thread, msgID: sl.msgID, trust: sl.trust, read: sl.flags&flagRead != 0, broken: sl.flags&flagBroken != 0}
}
