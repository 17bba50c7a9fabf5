// Package pgqueue is the outbound queue and the send idempotency keys of
// the postgres backend: outbound.Queue and operations.Idempotency over the
// tables of pgstore/migrations/030_outbound.sql, shared by every node
// (book/scale-out.md, "Sending across nodes").
//
// A send is queued durably before the caller gets an answer: Enqueue
// returns once its INSERT committed. It is delivered once across nodes:
// Due and Unacked claim what they return for this node's incarnation
// (pgstore.DB.Register), in one UPDATE over a SELECT ... FOR UPDATE SKIP
// LOCKED, so two nodes never both get an item; a claim lives as long as
// its node (aimx.claim_alive), and a live node takes over the items of a
// dead or restarted one.
//
// Why claims by hand rather than a job library (riverqueue/river): the
// queue is only the storage under outbound.Worker, which runs the rounds,
// acknowledges them after the hand-off, caps connections per destination
// and reuses them; that loop is the same over the file queue and this one.
// A job library would bring a second executor, with its own retries and
// its own idea of a job's end, for one backend only, and the two backends
// would no longer share one behavior or one conformance suite
// (mail/outbound/queuetest). What the queue needs from the database is a
// row lock and a claim, which one statement gives.
package pgqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aimx-dev/aimx/mail/outbound"
	"github.com/aimx-dev/aimx/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Defaults of QueueOptions.
const (
	// LenTimeout bounds the count Len runs when its cached figure is stale.
	LenTimeout = 2 * time.Second
	// LenMaxAge is how long Len answers from its cached count: another
	// node's enqueues show within it (this node's at once).
	LenMaxAge = time.Second
)

// QueueOptions tunes NewQueue.
type QueueOptions struct {
	// MaxMessageBytes caps a message queued and read back
	// (outbound.DefaultMaxQueuedMessage when 0).
	MaxMessageBytes int64
	// Lease is how long a claim outlives its node's last heartbeat
	// (pgstore.DefaultLease when 0). Every node must use the same.
	Lease time.Duration
}

// ErrClaimed marks a message another live node is delivering: Data refuses
// it, so a node that lost its claim (it stopped beating for longer than
// the lease) does not send the message a second time.
var ErrClaimed = errors.New("outbound queue: claimed by another node")

// Queue is outbound.Queue in PostgreSQL. It is safe for concurrent use,
// by any number of nodes.
type Queue struct {
	db     *pgstore.DB
	maxMsg int64
	lease  pgtype.Interval

	mu       sync.Mutex // guards the cached count; never held across a query
	count    int
	countAt  time.Time
	countOK  bool
	countGen uint64 // bumped by each change, so a count taken before it is not kept
}

var _ outbound.Queue = (*Queue)(nil)

// NewQueue returns the queue over db. db must be registered
// (pgstore.DB.Register) and kept beating (pgstore.DB.Beat): the claims are
// taken in the name of its incarnation.
func NewQueue(db *pgstore.DB, opts QueueOptions) (*Queue, error) {
	if db == nil || db.Pool == nil {
		return nil, errors.New("outbound queue: no database")
	}
	if db.Started.IsZero() {
		return nil, fmt.Errorf("outbound queue: node %s is not registered (pgstore.DB.Register)", db.Node)
	}
	q := &Queue{db: db, maxMsg: opts.MaxMessageBytes}
	if q.maxMsg <= 0 {
		q.maxMsg = outbound.DefaultMaxQueuedMessage
	}
	lease := opts.Lease
	if lease <= 0 {
		lease = pgstore.DefaultLease
	}
	q.lease = pgtype.Interval{Microseconds: lease.Microseconds(), Valid: true}
	return q, nil
}

func notQueued(id string) error { return fmt.Errorf("%w: %s", outbound.ErrNotQueued, id) }

// row is an item's record and the columns derived from it.
type row struct {
	record  []byte
	nextDue *time.Time
}

// encode marshals it, capped at outbound.MaxRecordBytes as the file
// queue's record is.
func encode(it outbound.Item) (row, error) {
	b, err := json.Marshal(it)
	if err != nil {
		return row{}, fmt.Errorf("outbound queue: %w", err)
	}
	if len(b) > outbound.MaxRecordBytes {
		return row{}, fmt.Errorf("outbound queue: record of %s is %d bytes, over %d", it.ID, len(b), outbound.MaxRecordBytes)
	}
	var next *time.Time
	for _, r := range it.Recipients {
		if !r.Status.Final() && (next == nil || r.NextAttempt.Before(*next)) {
			na := r.NextAttempt
			next = &na
		}
	}
	return row{record: b, nextDue: next}, nil
}

func decode(b []byte) (outbound.Item, error) {
	var it outbound.Item
	if err := json.Unmarshal(b, &it); err != nil {
		return outbound.Item{}, fmt.Errorf("outbound queue: record: %w", err)
	}
	return it, nil
}

// Enqueue implements outbound.Queue: it returns once the INSERT committed.
// The item is unclaimed: the first node whose delivery loop looks takes it.
func (q *Queue) Enqueue(ctx context.Context, s outbound.Submission, now time.Time) (outbound.Item, error) {
	if err := ctx.Err(); err != nil {
		return outbound.Item{}, err
	}
	if len(s.Recipients) == 0 {
		return outbound.Item{}, errors.New("outbound queue: no recipients")
	}
	if int64(len(s.Data)) > q.maxMsg {
		return outbound.Item{}, fmt.Errorf("outbound queue: message of %d bytes, over %d", len(s.Data), q.maxMsg)
	}
	it := outbound.Item{ID: outbound.NewItemID(now), From: s.From, Mailbox: s.Mailbox, SentID: s.SentID, Size: int64(len(s.Data)), Enqueued: now.UTC(), Held: s.Held}
	seen := map[string]bool{}
	for _, a := range s.Recipients {
		if seen[strings.ToLower(a)] {
			continue
		}
		seen[strings.ToLower(a)] = true
		it.Recipients = append(it.Recipients, outbound.Recipient{Address: a, Status: outbound.StatusQueued, NextAttempt: now.UTC(), UpdatedAt: now.UTC()})
	}
	r, err := encode(it)
	if err != nil {
		return outbound.Item{}, err
	}
	data := s.Data
	if data == nil {
		data = []byte{}
	}
	if _, err := q.db.Pool.Exec(ctx, `INSERT INTO aimx.outbound_queue (id, enqueued, held, next_due, record, data)
VALUES ($1, $2, $3, $4, $5, $6)`, it.ID, it.Enqueued, it.Held, r.nextDue, r.record, data); err != nil {
		return outbound.Item{}, fmt.Errorf("outbound queue: enqueue: %w", err)
	}
	q.countChanged()
	return it, nil
}

// collect decodes the records rows returns (their first column), in order.
func collect(rows pgx.Rows, what string) ([]outbound.Item, error) {
	recs, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("outbound queue: %s: %w", what, err)
	}
	out := make([]outbound.Item, 0, len(recs))
	for _, b := range recs {
		it, err := decode(b)
		if err != nil {
			return nil, fmt.Errorf("outbound queue: %s: %w", what, err)
		}
		out = append(out, it)
	}
	return out, nil
}

// Get implements outbound.Queue; any node reads any item.
func (q *Queue) Get(ctx context.Context, id string) (outbound.Item, error) {
	if !outbound.ValidItemID(id) {
		return outbound.Item{}, notQueued(id)
	}
	var b []byte
	err := q.db.Pool.QueryRow(ctx, "SELECT record FROM aimx.outbound_queue WHERE id = $1", id).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return outbound.Item{}, notQueued(id)
	}
	if err != nil {
		return outbound.Item{}, fmt.Errorf("outbound queue: get %s: %w", id, err)
	}
	return decode(b)
}

// Data implements outbound.Queue, capped at MaxMessageBytes. It refuses
// (ErrClaimed) a message another node's live claim holds: only the node
// delivering an item reads its bytes to send them (or to build its DSN).
func (q *Queue) Data(ctx context.Context, id string) ([]byte, error) {
	if !outbound.ValidItemID(id) {
		return nil, notQueued(id)
	}
	var (
		data    []byte
		size    int64
		claimer *string
	)
	err := q.db.Pool.QueryRow(ctx, `SELECT CASE WHEN octet_length(data) <= $2 THEN data END, octet_length(data),
	CASE WHEN claim_node IS NOT NULL AND (claim_node <> $3 OR claim_started <> $4)
	      AND aimx.claim_alive(claim_node, claim_started, $5) THEN claim_node END
FROM aimx.outbound_queue WHERE id = $1`, id, q.maxMsg, q.db.Node, q.db.Started, q.lease).Scan(&data, &size, &claimer)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, notQueued(id)
	case err != nil:
		return nil, fmt.Errorf("outbound queue: data of %s: %w", id, err)
	case claimer != nil:
		return nil, fmt.Errorf("%w: %s is node %s's", ErrClaimed, id, *claimer)
	case size > q.maxMsg:
		return nil, fmt.Errorf("outbound queue: message %s is %d bytes, over %d", id, size, q.maxMsg)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

// update runs fn on item id under its row lock, in one transaction: fn
// returns the new item, or remove (the row is deleted), or keep (nothing
// is written).
func (q *Queue) update(ctx context.Context, id, what string, fn func(cur outbound.Item) (next outbound.Item, op updateOp, err error)) (outbound.Item, updateOp, error) {
	if !outbound.ValidItemID(id) {
		return outbound.Item{}, keep, notQueued(id)
	}
	var out outbound.Item
	var done updateOp
	err := pgx.BeginFunc(ctx, q.db.Pool, func(tx pgx.Tx) error {
		var b []byte
		err := tx.QueryRow(ctx, "SELECT record FROM aimx.outbound_queue WHERE id = $1 FOR UPDATE", id).Scan(&b)
		if errors.Is(err, pgx.ErrNoRows) {
			return notQueued(id)
		}
		if err != nil {
			return err
		}
		cur, err := decode(b)
		if err != nil {
			return err
		}
		next, op, err := fn(cur)
		if err != nil {
			return err
		}
		out, done = next, op
		switch op {
		case remove:
			_, err = tx.Exec(ctx, "DELETE FROM aimx.outbound_queue WHERE id = $1", id)
			return err
		case write:
			r, err := encode(next)
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `UPDATE aimx.outbound_queue SET held = $2, rounds = $3, acked = $4, next_due = $5, record = $6 WHERE id = $1`,
				id, next.Held, next.Rounds, next.Acked, r.nextDue, r.record)
			return err
		}
		return nil
	})
	switch {
	case errors.Is(err, outbound.ErrNotQueued):
		return outbound.Item{}, keep, err
	case err != nil:
		return outbound.Item{}, keep, fmt.Errorf("outbound queue: %s %s: %w", what, id, err)
	}
	if done == remove {
		q.countChanged()
	}
	return out, done, nil
}

// updateOp is what update writes.
type updateOp int

const (
	keep updateOp = iota
	write
	remove
)

// Record implements outbound.Queue. Any node may record a round: what a
// node delivered is recorded even when its claim was taken over meanwhile,
// so that it is not sent again.
func (q *Queue) Record(ctx context.Context, id string, updates []outbound.Recipient) (outbound.Item, error) {
	if err := ctx.Err(); err != nil {
		return outbound.Item{}, err
	}
	it, _, err := q.update(ctx, id, "record", func(it outbound.Item) (outbound.Item, updateOp, error) {
		for _, u := range updates {
			i := -1
			for j, r := range it.Recipients {
				if strings.EqualFold(r.Address, u.Address) {
					i = j
					break
				}
			}
			if i < 0 {
				return it, keep, fmt.Errorf("%s has no recipient %q", id, u.Address)
			}
			u.Address = it.Recipients[i].Address
			it.Recipients[i] = u
		}
		it.Rounds++
		return it, write, nil
	})
	return it, err
}

// Ack implements outbound.Queue. Removing the item ends its claim.
func (q *Queue) Ack(ctx context.Context, id string, round int) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	_, op, err := q.update(ctx, id, "ack", func(it outbound.Item) (outbound.Item, updateOp, error) {
		switch {
		case round < 0 || round > it.Rounds:
			return it, keep, fmt.Errorf("ack of round %d of %s, which has %d", round, id, it.Rounds)
		case round == it.Rounds && it.Done():
			return it, remove, nil
		case round <= it.Acked:
			return it, keep, nil
		}
		it.Acked = round
		return it, write, nil
	})
	return op == remove, err
}

// Remove implements outbound.Queue; any node removes any item.
func (q *Queue) Remove(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !outbound.ValidItemID(id) {
		return notQueued(id)
	}
	tag, err := q.db.Pool.Exec(ctx, "DELETE FROM aimx.outbound_queue WHERE id = $1", id)
	if err != nil {
		return fmt.Errorf("outbound queue: remove %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return notQueued(id)
	}
	q.countChanged()
	return nil
}

// List implements outbound.Queue.
func (q *Queue) List(ctx context.Context) ([]outbound.Item, error) {
	rows, err := q.db.Pool.Query(ctx, "SELECT record FROM aimx.outbound_queue ORDER BY enqueued, id")
	if err != nil {
		return nil, fmt.Errorf("outbound queue: list: %w", err)
	}
	return collect(rows, "list")
}

// Release implements outbound.Queue. The released item is unclaimed: the
// first node whose delivery loop looks takes it.
func (q *Queue) Release(ctx context.Context, id string, now time.Time) (outbound.Item, error) {
	if err := ctx.Err(); err != nil {
		return outbound.Item{}, err
	}
	it, _, err := q.update(ctx, id, "release", func(it outbound.Item) (outbound.Item, updateOp, error) {
		if !it.Held {
			return it, keep, nil
		}
		it.Held = false
		for i := range it.Recipients {
			it.Recipients[i].NextAttempt, it.Recipients[i].UpdatedAt = now.UTC(), now.UTC()
		}
		return it, write, nil
	})
	return it, err
}

// Len implements outbound.Queue: a count cached for LenMaxAge (a change
// made through this Queue drops the cache), refreshed by a query bounded
// by LenTimeout; when that fails, the last count.
func (q *Queue) Len() int {
	q.mu.Lock()
	if q.countOK && time.Since(q.countAt) < LenMaxAge {
		n := q.count
		q.mu.Unlock()
		return n
	}
	gen := q.countGen
	q.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), LenTimeout)
	defer cancel()
	var n int
	err := q.db.Pool.QueryRow(ctx, "SELECT count(*) FROM aimx.outbound_queue").Scan(&n)
	q.mu.Lock()
	defer q.mu.Unlock()
	if err != nil {
		return q.count
	}
	if gen == q.countGen {
		q.count, q.countAt, q.countOK = n, time.Now(), true
	}
	return n
}

// countChanged drops the cached count: this node added or removed an item.
func (q *Queue) countChanged() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.countGen++
	q.countOK = false
}
