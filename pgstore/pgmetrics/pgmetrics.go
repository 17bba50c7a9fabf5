// Package pgmetrics feeds the postgres backend's figures to the daemon's
// metrics (book/operations.md, "Metrics"; book/scale-out.md): the pool of
// pgstore.DB and the shared queues' counts, read from the database at each
// scrape.
package pgmetrics

import (
	"context"
	"fmt"

	"github.com/aimx-dev/aimx/metrics"
	"github.com/aimx-dev/aimx/pgstore"
)

// Register puts db's pool figures and the shared queues' figures on m.
// Call it once, with the postgres backend only, after db.Register (the
// claims this node holds are those of its incarnation, db.Started).
func Register(m *metrics.Metrics, db *pgstore.DB) {
	m.Pool(db.Pool.Stat)
	m.SharedQueue(Figures(db))
}

// Figures counts, in one statement, the shared outbound queue's messages
// (aimx.outbound_queue), those this node's incarnation holds a claim on,
// and the hook jobs started and not done (aimx.hook_jobs). The counts are
// sequential scans of tables that stay small: the queue holds undelivered
// mail only, and done jobs are pruned.
func Figures(db *pgstore.DB) func(ctx context.Context) (metrics.QueueFigures, error) {
	return func(ctx context.Context) (metrics.QueueFigures, error) {
		var f metrics.QueueFigures
		err := db.Pool.QueryRow(ctx, `SELECT
	(SELECT count(*) FROM aimx.outbound_queue),
	(SELECT count(*) FROM aimx.outbound_queue WHERE claim_node = $1 AND claim_started = $2),
	(SELECT count(*) FROM aimx.hook_jobs WHERE NOT done)`, db.Node, db.Started).
			Scan(&f.OutboundQueued, &f.OutboundClaimed, &f.HookJobsUnfinished)
		if err != nil {
			return metrics.QueueFigures{}, fmt.Errorf("shared queue figures: %w", err)
		}
		return f, nil
	}
}
