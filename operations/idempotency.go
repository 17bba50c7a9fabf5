package operations

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/aimx-dev/aimx/internal/safefs"
	"github.com/aimx-dev/aimx/storage"
)

// IdempotencyWindow is how long a send's idempotency key is remembered
// (book/sending.md, "Idempotent sends").
const IdempotencyWindow = 24 * time.Hour

// MaxIdempotencyKey caps the length of an idempotency key.
const MaxIdempotencyKey = 256

// ErrBadIdempotencyKey: an idempotency key that is empty after trimming,
// too long, or holds control characters.
var ErrBadIdempotencyKey = errors.New("invalid idempotency key")

// SentRecord is what an idempotency key remembers: the send it made.
type SentRecord struct {
	Mailbox   string    `json:"mailbox"`
	SentID    string    `json:"sent_id"`
	MessageID string    `json:"message_id"`
	At        time.Time `json:"at"`
}

// Idempotency remembers, per caller and key, the send a key made. The
// file store is the first implementation; a database one may follow.
type Idempotency interface {
	// Get returns the record of key, if one was put within the window.
	Get(ctx context.Context, key string, now time.Time) (SentRecord, bool, error)
	// Put durably records key's send.
	Put(ctx context.Context, key string, rec SentRecord) error
}

// IdempotencyLocker is an Idempotency shared by several nodes: Lock makes
// the sends with one key take turns across them, as the Sender's own lock
// does within one process. unlock must be called.
type IdempotencyLocker interface {
	Lock(ctx context.Context, key string) (unlock func(), err error)
}

// idemKey is the stored form of a caller's key: a digest, so neither the
// key nor the caller appears in a file name.
func idemKey(caller, key string) (string, error) {
	k := strings.TrimSpace(key)
	if k == "" || len(k) > MaxIdempotencyKey || strings.ContainsFunc(k, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", ErrBadIdempotencyKey
	}
	sum := sha256.Sum256([]byte(caller + "\x00" + k))
	return hex.EncodeToString(sum[:]), nil
}

// FileIdempotency keeps the records in one directory, one JSON file per
// key, each written durably; expired ones are removed as they are met.
type FileIdempotency struct {
	dir *safefs.Dir
	w   *storage.Writer
}

// maxIdemRecord caps a record read back.
const maxIdemRecord = 64 << 10

// OpenFileIdempotency opens (creating) the directory at path.
func OpenFileIdempotency(path string) (*FileIdempotency, error) {
	dir, err := safefs.MkdirAll(path, 0o700)
	if err != nil {
		return nil, fmt.Errorf("idempotency store: %w", err)
	}
	return &FileIdempotency{dir: dir, w: &storage.Writer{}}, nil
}

// Close releases the directory.
func (f *FileIdempotency) Close() error { return f.dir.Close() }

// Get implements Idempotency.
func (f *FileIdempotency) Get(_ context.Context, key string, now time.Time) (SentRecord, bool, error) {
	data, err := f.dir.ReadFile(key+".json", maxIdemRecord)
	if errors.Is(err, fs.ErrNotExist) {
		return SentRecord{}, false, nil
	}
	if err != nil {
		return SentRecord{}, false, fmt.Errorf("idempotency store: %w", err)
	}
	var rec SentRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return SentRecord{}, false, fmt.Errorf("idempotency store: %s: %w", key, err)
	}
	if now.Sub(rec.At) > IdempotencyWindow {
		_ = f.dir.Remove(key + ".json") // expired: the key is free again
		return SentRecord{}, false, nil
	}
	return rec, true, nil
}

// Put implements Idempotency.
func (f *FileIdempotency) Put(_ context.Context, key string, rec SentRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("idempotency store: %w", err)
	}
	if err := f.w.WriteFileAt(f.dir, key+".json", b, storage.WriteOptions{}); err != nil {
		return fmt.Errorf("idempotency store: %w", err)
	}
	return nil
}

// keyLocks serializes the sends of one idempotency key, so two calls at
// once with the same key send once.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	mu   sync.Mutex
	refs int
}

func (l *keyLocks) lock(k string) func() {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*keyLock{}
	}
	e := l.m[k]
	if e == nil {
		e = &keyLock{}
		l.m[k] = e
	}
	e.refs++
	l.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		l.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(l.m, k)
		}
		l.mu.Unlock()
	}
}
