package pgqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aimx-dev/aimx/operations"
	"github.com/aimx-dev/aimx/pgstore"
	"github.com/jackc/pgx/v5"
)

// maxKey caps a stored key: operations hands over a digest (64 hex).
const maxKey = 128

// maxIdemRecord caps a record read back, as the file store does.
const maxIdemRecord = 64 << 10

// pruneBatch bounds the expired keys one Put deletes on its way.
const pruneBatch = 100

// idemLockClass is the first key of the advisory locks Lock takes; the
// two-key form never meets pgstore's one-key migration lock.
const idemLockClass = 0x69646d70 // "idmp"

// Idempotency is operations.Idempotency in PostgreSQL: one row per key,
// shared by every node, so a retried send with the same key is answered
// by the first one's record on whichever node it lands. A key expires
// operations.IdempotencyWindow after its send, as in the file store.
type Idempotency struct {
	db *pgstore.DB
}

var _ operations.Idempotency = (*Idempotency)(nil)

// NewIdempotency returns the idempotency keys over db.
func NewIdempotency(db *pgstore.DB) *Idempotency { return &Idempotency{db: db} }

func checkKey(key string) error {
	if key == "" || len(key) > maxKey {
		return fmt.Errorf("idempotency store: %w", operations.ErrBadIdempotencyKey)
	}
	return nil
}

// Get implements operations.Idempotency. An expired record is deleted and
// not returned: the key is free again.
func (s *Idempotency) Get(ctx context.Context, key string, now time.Time) (operations.SentRecord, bool, error) {
	if err := checkKey(key); err != nil {
		return operations.SentRecord{}, false, err
	}
	var b []byte
	err := s.db.Pool.QueryRow(ctx, "SELECT record FROM aimx.send_idempotency WHERE key = $1", key).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return operations.SentRecord{}, false, nil
	}
	if err != nil {
		return operations.SentRecord{}, false, fmt.Errorf("idempotency store: get: %w", err)
	}
	if len(b) > maxIdemRecord {
		return operations.SentRecord{}, false, fmt.Errorf("idempotency store: record of %s is %d bytes", key, len(b))
	}
	var rec operations.SentRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return operations.SentRecord{}, false, fmt.Errorf("idempotency store: %s: %w", key, err)
	}
	if now.Sub(rec.At) > operations.IdempotencyWindow {
		// Expired: only this record, not one Put meanwhile.
		if _, err := s.db.Pool.Exec(ctx, "DELETE FROM aimx.send_idempotency WHERE key = $1 AND record = $2", key, b); err != nil {
			return operations.SentRecord{}, false, fmt.Errorf("idempotency store: expire %s: %w", key, err)
		}
		return operations.SentRecord{}, false, nil
	}
	return rec, true, nil
}

// Put implements operations.Idempotency: it returns once the record
// committed, replacing one the key had. On its way it deletes a few keys
// expired before rec.At, so that keys never read again do not pile up.
func (s *Idempotency) Put(ctx context.Context, key string, rec operations.SentRecord) error {
	if err := checkKey(key); err != nil {
		return err
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("idempotency store: %w", err)
	}
	if len(b) > maxIdemRecord {
		return fmt.Errorf("idempotency store: record of %d bytes, over %d", len(b), maxIdemRecord)
	}
	if _, err := s.db.Pool.Exec(ctx, `INSERT INTO aimx.send_idempotency (key, at, record) VALUES ($1, $2, $3)
ON CONFLICT (key) DO UPDATE SET at = excluded.at, record = excluded.record`, key, rec.At, b); err != nil {
		return fmt.Errorf("idempotency store: put: %w", err)
	}
	if _, err := s.db.Pool.Exec(ctx, `DELETE FROM aimx.send_idempotency WHERE key IN (
	SELECT key FROM aimx.send_idempotency WHERE at < $1 ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
		rec.At.Add(-operations.IdempotencyWindow), pruneBatch); err != nil {
		return fmt.Errorf("idempotency store: prune: %w", err)
	}
	return nil
}

// Lock serializes the sends of one key across nodes, as operations'
// in-process lock does within one: it holds a PostgreSQL advisory lock on
// one connection until unlock is called (or the connection ends).
func (s *Idempotency) Lock(ctx context.Context, key string) (unlock func(), err error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	conn, err := s.db.Pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("idempotency lock: %w", err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1, hashtext($2))", idemLockClass, key); err != nil {
		// A cancelled wait may leave the connection mid-query: drop it.
		_ = conn.Hijack().Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("idempotency lock: %w", err)
	}
	return func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock($1, hashtext($2))", idemLockClass, key); err != nil {
			// Closing the session releases its locks.
			_ = conn.Hijack().Close(uctx)
			return
		}
		conn.Release()
	}, nil
}
