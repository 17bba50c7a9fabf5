// The claims: which node delivers an item (book/scale-out.md, "Sending
// across nodes").

package pgqueue

import (
	"context"
	"fmt"
	"time"

	"github.com/aimx-dev/aimx/mail/outbound"
)

// Due implements outbound.Queue, claiming what it returns for this node:
// the items with a recipient due at now that are not held and are either
// this incarnation's already, or unclaimed or dead-claimed with every
// round handed on (a dead node's round not handed on yet is Unacked's, so
// that its hand-off comes before any new round). Rows another node has
// locked are skipped, so two nodes never both get an item; rows this node
// holds already are not written again.
func (q *Queue) Due(ctx context.Context, now time.Time) ([]outbound.Item, error) {
	rows, err := q.db.Pool.Query(ctx, `WITH c AS (
	SELECT id, enqueued, claim_node IS DISTINCT FROM $1 OR claim_started IS DISTINCT FROM $2 AS take
	FROM aimx.outbound_queue
	WHERE NOT held AND next_due <= $3
	  AND ((claim_node = $1 AND claim_started = $2)
	       OR (acked = rounds AND (claim_node IS NULL OR NOT aimx.claim_alive(claim_node, claim_started, $4))))
	ORDER BY enqueued, id
	FOR UPDATE SKIP LOCKED
), taken AS (
	UPDATE aimx.outbound_queue o SET claim_node = $1, claim_started = $2
	FROM c WHERE o.id = c.id AND c.take
)
SELECT o.record FROM aimx.outbound_queue o JOIN c ON o.id = c.id ORDER BY c.enqueued, c.id`,
		q.db.Node, q.db.Started, now, q.lease)
	if err != nil {
		return nil, fmt.Errorf("outbound queue: due: %w", err)
	}
	return collect(rows, "due")
}

// Unacked implements outbound.Queue, claiming what it returns for this
// node: the items with a round not handed on that this incarnation holds,
// or that are unclaimed or dead-claimed. At a node's start (a new
// incarnation) that is its own rounds of before the restart, and the
// rounds of nodes that died; a live node's are left to it.
func (q *Queue) Unacked(ctx context.Context) ([]outbound.Item, error) {
	rows, err := q.db.Pool.Query(ctx, `WITH c AS (
	SELECT id, enqueued FROM aimx.outbound_queue
	WHERE acked < rounds
	  AND (claim_node IS NULL OR (claim_node = $1 AND claim_started = $2)
	       OR NOT aimx.claim_alive(claim_node, claim_started, $3))
	ORDER BY enqueued, id
	FOR UPDATE SKIP LOCKED
), taken AS (
	UPDATE aimx.outbound_queue o SET claim_node = $1, claim_started = $2
	FROM c WHERE o.id = c.id AND (o.claim_node IS DISTINCT FROM $1 OR o.claim_started IS DISTINCT FROM $2)
)
SELECT o.record FROM aimx.outbound_queue o JOIN c ON o.id = c.id ORDER BY c.enqueued, c.id`,
		q.db.Node, q.db.Started, q.lease)
	if err != nil {
		return nil, fmt.Errorf("outbound queue: unacked: %w", err)
	}
	return collect(rows, "unacked")
}

// ReleaseClaims gives up this incarnation's claims on the items whose
// rounds are all handed on, so that another node takes them at once
// rather than after the lease. Call it at a graceful stop, after the
// delivery loop stopped.
func (q *Queue) ReleaseClaims(ctx context.Context) error {
	_, err := q.db.Pool.Exec(ctx, `UPDATE aimx.outbound_queue SET claim_node = NULL, claim_started = NULL
WHERE claim_node = $1 AND claim_started = $2 AND acked = rounds`, q.db.Node, q.db.Started)
	if err != nil {
		return fmt.Errorf("outbound queue: release claims: %w", err)
	}
	return nil
}
