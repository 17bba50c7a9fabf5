package outbound

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aimx-dev/aimx/internal/safefs"
	"github.com/aimx-dev/aimx/storage"
)

// Caps of the file queue's reads (book/sending.md, "Queue").
const (
	// MaxRecordBytes caps one item's JSON record.
	MaxRecordBytes = 1 << 20
	// DefaultMaxQueuedMessage caps a message read back from the queue
	// when FileQueueOptions.MaxMessageBytes is 0.
	DefaultMaxQueuedMessage = 64 << 20
)

// FileQueueOptions tunes OpenFileQueue.
type FileQueueOptions struct {
	// MaxMessageBytes caps a message read back (DefaultMaxQueuedMessage
	// when 0).
	MaxMessageBytes int64
	// Writer is the durable writer (the zero Writer when nil); tests
	// inject faults through it.
	Writer *storage.Writer
}

// FileQueue is the Queue kept in one directory: for each item
// `<id>.eml` (the signed message) and `<id>.json` (envelope and recipient
// state). The JSON is the commit point: it is written after the message,
// and removed before it.
type FileQueue struct {
	dir    *safefs.Dir
	w      *storage.Writer
	maxMsg int64
	// syncer shares the directory fsyncs of concurrent writes (group
	// commit, as the message store does).
	syncer *storage.DirSyncer

	mu    sync.Mutex // guards items; never held across a write
	items map[string]Item
	// itemLocks serialize the writes of one item (striped by id), so a
	// record on disk never goes back to an older state.
	itemLocks [64]sync.Mutex
}

// lockItem takes id's write lock and returns its unlock.
func (q *FileQueue) lockItem(id string) func() {
	var h uint32 = 2166136261 // FNV-1a
	for i := 0; i < len(id); i++ {
		h = (h ^ uint32(id[i])) * 16777619
	}
	l := &q.itemLocks[h%uint32(len(q.itemLocks))]
	l.Lock()
	return l.Unlock
}

var _ Queue = (*FileQueue)(nil)

// OpenFileQueue opens (creating it when missing) the queue directory at
// path and loads every item. A message file without its record (a crash
// during Enqueue, before the caller got an answer) is removed, as are
// leftover temp files.
func OpenFileQueue(path string, opts FileQueueOptions) (*FileQueue, error) {
	dir, err := safefs.MkdirAll(path, 0o700)
	if err != nil {
		return nil, fmt.Errorf("outbound queue: %w", err)
	}
	q := &FileQueue{dir: dir, w: opts.Writer, maxMsg: opts.MaxMessageBytes, items: map[string]Item{}}
	if q.w == nil {
		q.w = &storage.Writer{}
	}
	q.syncer = &storage.DirSyncer{SyncFunc: q.w.SyncDir}
	if q.maxMsg <= 0 {
		q.maxMsg = DefaultMaxQueuedMessage
	}
	if err := q.load(); err != nil {
		_ = dir.Close()
		return nil, err
	}
	return q, nil
}

// Close releases the directory.
func (q *FileQueue) Close() error { return q.dir.Close() }

func (q *FileQueue) load() error {
	des, err := q.dir.Names()
	if err != nil {
		return fmt.Errorf("outbound queue: %w", err)
	}
	records := map[string]bool{}
	for _, de := range des {
		if id, ok := strings.CutSuffix(de.Name(), ".json"); ok && ValidItemID(id) && de.Type().IsRegular() {
			records[id] = true
		}
	}
	removed := false
	for _, de := range des {
		name := de.Name()
		switch {
		case strings.HasPrefix(name, "."):
			// A durable write's temp file, left by a crash.
			removed = true
			if err := q.dir.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("outbound queue: %w", err)
			}
		case strings.HasSuffix(name, ".eml"):
			if id := strings.TrimSuffix(name, ".eml"); !records[id] {
				removed = true
				if err := q.dir.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("outbound queue: %w", err)
				}
			}
		}
	}
	if removed {
		if err := q.dir.Sync(); err != nil {
			return fmt.Errorf("outbound queue: %w", err)
		}
	}
	for id := range records {
		b, err := q.dir.ReadFile(id+".json", MaxRecordBytes)
		if err != nil {
			return fmt.Errorf("outbound queue: %w", err)
		}
		var it Item
		if err := json.Unmarshal(b, &it); err != nil {
			return fmt.Errorf("outbound queue: record %s: %w", id, err)
		}
		if it.ID != id {
			return fmt.Errorf("outbound queue: record %s names id %q", id, it.ID)
		}
		q.items[id] = it
	}
	return nil
}

// ValidItemID accepts the ids NewItemID makes: lowercase hex and '-'. Every
// queue checks an id with it before using it.
func ValidItemID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c == '-') {
			return false
		}
	}
	return true
}

// NewItemID is a new item's id: the enqueue time (so ids sort by age) and
// 64 random bits. Every queue makes its ids with it.
func NewItemID(now time.Time) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%016x-%s", now.UnixNano(), hex.EncodeToString(b[:]))
}

// Enqueue implements Queue: the message, then the record, each a durable
// write (storage.Writer: temp file, fsync, rename, directory fsync).
func (q *FileQueue) Enqueue(ctx context.Context, s Submission, now time.Time) (Item, error) {
	if err := ctx.Err(); err != nil {
		return Item{}, err
	}
	if len(s.Recipients) == 0 {
		return Item{}, errors.New("outbound queue: no recipients")
	}
	it := Item{ID: NewItemID(now), From: s.From, Mailbox: s.Mailbox, SentID: s.SentID, Size: int64(len(s.Data)), Enqueued: now.UTC(), Held: s.Held}
	seen := map[string]bool{}
	for _, a := range s.Recipients {
		if seen[strings.ToLower(a)] {
			continue
		}
		seen[strings.ToLower(a)] = true
		it.Recipients = append(it.Recipients, Recipient{Address: a, Status: StatusQueued, NextAttempt: now.UTC(), UpdatedAt: now.UTC()})
	}
	// The directory fsync of the message is the record's: both renames
	// are in the same directory and the record's comes last.
	if err := q.w.WriteFileAt(q.dir, it.ID+".eml", s.Data, storage.WriteOptions{NoReplace: true, SkipDirSync: true}); err != nil {
		return Item{}, fmt.Errorf("outbound queue: %w", err)
	}
	if err := q.writeRecord(it); err != nil {
		return Item{}, err
	}
	q.mu.Lock()
	q.items[it.ID] = it
	q.mu.Unlock()
	return cloneItem(it), nil
}

func (q *FileQueue) writeRecord(it Item) error {
	b, err := json.Marshal(it)
	if err != nil {
		return fmt.Errorf("outbound queue: %w", err)
	}
	if err := q.w.WriteFileAt(q.dir, it.ID+".json", b, storage.WriteOptions{SkipDirSync: true}); err != nil {
		return fmt.Errorf("outbound queue: %w", err)
	}
	if err := q.syncer.SyncAt(q.dir); err != nil {
		return fmt.Errorf("outbound queue: %w", err)
	}
	return nil
}

// Due implements Queue.
func (q *FileQueue) Due(ctx context.Context, now time.Time) ([]Item, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return q.list(func(it Item) bool { return len(it.Due(now)) > 0 }), nil
}

// list returns copies of the items keep accepts, oldest first.
func (q *FileQueue) list(keep func(Item) bool) []Item {
	q.mu.Lock()
	var out []Item
	for _, it := range q.items {
		if keep(it) {
			out = append(out, cloneItem(it))
		}
	}
	q.mu.Unlock()
	slices.SortFunc(out, func(a, b Item) int {
		return cmp.Or(a.Enqueued.Compare(b.Enqueued), strings.Compare(a.ID, b.ID))
	})
	return out
}

// Get implements Queue.
func (q *FileQueue) Get(_ context.Context, id string) (Item, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it, ok := q.items[id]
	if !ok {
		return Item{}, fmt.Errorf("%w: %s", ErrNotQueued, id)
	}
	return cloneItem(it), nil
}

// Data implements Queue, reading through internal/safefs with the size
// cap.
func (q *FileQueue) Data(_ context.Context, id string) ([]byte, error) {
	q.mu.Lock()
	_, ok := q.items[id]
	q.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotQueued, id)
	}
	b, err := q.dir.ReadFile(id+".eml", q.maxMsg)
	if err != nil {
		return nil, fmt.Errorf("outbound queue: %w", err)
	}
	return b, nil
}

// Record implements Queue. The record is rewritten durably before the
// in-memory state changes.
func (q *FileQueue) Record(ctx context.Context, id string, updates []Recipient) (Item, error) {
	if err := ctx.Err(); err != nil {
		return Item{}, err
	}
	defer q.lockItem(id)()
	cur, ok := q.get(id)
	if !ok {
		return Item{}, fmt.Errorf("%w: %s", ErrNotQueued, id)
	}
	it := cloneItem(cur)
	for _, u := range updates {
		i := slices.IndexFunc(it.Recipients, func(r Recipient) bool { return strings.EqualFold(r.Address, u.Address) })
		if i < 0 {
			return Item{}, fmt.Errorf("outbound queue: %s has no recipient %q", id, u.Address)
		}
		u.Address = it.Recipients[i].Address
		it.Recipients[i] = u
	}
	it.Rounds++
	if err := q.writeRecord(it); err != nil {
		return Item{}, err
	}
	q.put(it)
	return cloneItem(it), nil
}

// Ack implements Queue: Acked is rewritten durably, or the item removed
// (the record first, so that a crash between the two leaves a message
// without a record, which OpenFileQueue removes).
func (q *FileQueue) Ack(ctx context.Context, id string, round int) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	defer q.lockItem(id)()
	cur, ok := q.get(id)
	switch {
	case !ok:
		return false, fmt.Errorf("%w: %s", ErrNotQueued, id)
	case round < 0 || round > cur.Rounds:
		return false, fmt.Errorf("outbound queue: ack of round %d of %s, which has %d", round, id, cur.Rounds)
	case round == cur.Rounds && cur.Done():
		return true, q.removeLocked(id)
	case round <= cur.Acked:
		return false, nil
	}
	it := cloneItem(cur)
	it.Acked = round
	if err := q.writeRecord(it); err != nil {
		return false, err
	}
	q.put(it)
	return false, nil
}

// Unacked implements Queue.
func (q *FileQueue) Unacked(ctx context.Context) ([]Item, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return q.list(func(it Item) bool { return it.Acked < it.Rounds }), nil
}

// Remove implements Queue.
func (q *FileQueue) Remove(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	defer q.lockItem(id)()
	if _, ok := q.get(id); !ok {
		return fmt.Errorf("%w: %s", ErrNotQueued, id)
	}
	return q.removeLocked(id)
}

// removeLocked deletes id's record, durably, then its message. id's
// item lock is held.
func (q *FileQueue) removeLocked(id string) error {
	if err := q.dir.Remove(id + ".json"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("outbound queue: remove %s: %w", id, err)
	}
	if err := q.syncer.SyncAt(q.dir); err != nil {
		return fmt.Errorf("outbound queue: remove %s: %w", id, err)
	}
	q.mu.Lock()
	delete(q.items, id)
	q.mu.Unlock()
	// The message without its record is garbage; OpenFileQueue removes it
	// if this fails.
	_ = q.dir.Remove(id + ".eml")
	return nil
}

// List implements Queue.
func (q *FileQueue) List(ctx context.Context) ([]Item, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return q.list(func(Item) bool { return true }), nil
}

// Release implements Queue.
func (q *FileQueue) Release(ctx context.Context, id string, now time.Time) (Item, error) {
	if err := ctx.Err(); err != nil {
		return Item{}, err
	}
	defer q.lockItem(id)()
	cur, ok := q.get(id)
	if !ok {
		return Item{}, fmt.Errorf("%w: %s", ErrNotQueued, id)
	}
	if !cur.Held {
		return cloneItem(cur), nil
	}
	it := cloneItem(cur)
	it.Held = false
	for i := range it.Recipients {
		it.Recipients[i].NextAttempt, it.Recipients[i].UpdatedAt = now.UTC(), now.UTC()
	}
	if err := q.writeRecord(it); err != nil {
		return Item{}, err
	}
	q.put(it)
	return cloneItem(it), nil
}

// get returns the item id as held in memory.
func (q *FileQueue) get(id string) (Item, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it, ok := q.items[id]
	return it, ok
}

// put replaces the item held in memory.
func (q *FileQueue) put(it Item) {
	q.mu.Lock()
	q.items[it.ID] = it
	q.mu.Unlock()
}

// Len implements Queue.
func (q *FileQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

func cloneItem(it Item) Item {
	it.Recipients = slices.Clone(it.Recipients)
	return it
}
