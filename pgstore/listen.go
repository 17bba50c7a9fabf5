package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Notify sends payload on channel to every node listening (NOTIFY is
// delivered when the sending transaction commits; outside one, at once).
func (db *DB) Notify(ctx context.Context, channel, payload string) error {
	if _, err := db.Pool.Exec(ctx, "SELECT pg_notify($1, $2)", channel, payload); err != nil {
		return fmt.Errorf("notify %s: %w", channel, err)
	}
	return nil
}

// NotifyTx sends payload on channel when tx commits.
func NotifyTx(ctx context.Context, tx pgx.Tx, channel, payload string) error {
	if _, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", channel, payload); err != nil {
		return fmt.Errorf("notify %s: %w", channel, err)
	}
	return nil
}

// Notification is one NOTIFY received.
type Notification struct {
	Channel string
	Payload string
}

// Listen holds one connection that LISTENs on channels and calls handle for
// each notification, in order, until ctx ends. When the connection is lost
// it reconnects (after a second, then up to every 10 s) and calls handle
// with an empty Notification (Channel "") so the caller can catch up on
// what it may have missed. It returns once ctx is done; connected is closed
// after the first LISTEN succeeded (nil: not wanted).
func (db *DB) Listen(ctx context.Context, channels []string, connected chan<- struct{}, handle func(Notification)) {
	backoff := time.Second
	first := true
	for ctx.Err() == nil {
		err := db.listenOnce(ctx, channels, func() {
			if first {
				first = false
				if connected != nil {
					close(connected)
				}
			} else {
				handle(Notification{})
			}
			backoff = time.Second
		}, handle)
		if ctx.Err() != nil {
			return
		}
		_ = err // the next round reconnects; the caller catches up on the empty Notification
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

func (db *DB) listenOnce(ctx context.Context, channels []string, up func(), handle func(Notification)) error {
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("listen: acquire: %w", err)
	}
	// The connection carries LISTEN state: never give it back to the pool.
	defer func() {
		c := conn.Hijack()
		_ = c.Close(context.WithoutCancel(ctx))
	}()
	for _, ch := range channels {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return fmt.Errorf("listen %s: %w", ch, err)
		}
	}
	up()
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		handle(Notification{Channel: n.Channel, Payload: n.Payload})
	}
}

// NodeInfo is one node's row in aimx.nodes.
type NodeInfo struct {
	Name      string
	Owners    []string
	StartedAt time.Time
	SeenAt    time.Time
}

// DefaultLease is how long a node's claims outlive its last heartbeat.
const DefaultLease = 30 * time.Second

// DefaultBeat is how often Beat refreshes this node's heartbeat.
const DefaultBeat = 5 * time.Second

// Register starts this node's incarnation: its row in aimx.nodes gets a new
// started_at (kept in db.Started), so every claim it held before a restart
// is dead at once, and owners lists the mailbox owners it can run hooks for
// (book/scale-out.md, "Hooks across nodes"). Call it once at start,
// before taking any claim.
func (db *DB) Register(ctx context.Context, owners []string) error {
	if owners == nil {
		owners = []string{}
	}
	err := db.Pool.QueryRow(ctx, `INSERT INTO aimx.nodes (name, owners, started_at, seen_at) VALUES ($1, $2, clock_timestamp(), clock_timestamp())
ON CONFLICT (name) DO UPDATE SET owners = excluded.owners, started_at = excluded.started_at, seen_at = excluded.seen_at
RETURNING started_at`, db.Node, owners).Scan(&db.Started)
	if err != nil {
		return fmt.Errorf("register node %s: %w", db.Node, err)
	}
	return nil
}

// Heartbeat refreshes this node's row: it still runs, and can run hooks for
// owners.
func (db *DB) Heartbeat(ctx context.Context, owners []string) error {
	if owners == nil {
		owners = []string{}
	}
	tag, err := db.Pool.Exec(ctx, `UPDATE aimx.nodes SET owners = $3, seen_at = clock_timestamp() WHERE name = $1 AND started_at = $2`,
		db.Node, db.Started, owners)
	if err != nil {
		return fmt.Errorf("node heartbeat: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("node heartbeat: node %s was registered again by another process (two nodes share the name?)", db.Node)
	}
	return nil
}

// Beat calls Heartbeat every interval (DefaultBeat when 0) until ctx ends,
// logging nothing: errors go to onErr (may be nil).
func (db *DB) Beat(ctx context.Context, interval time.Duration, owners func() []string, onErr func(error)) {
	if interval <= 0 {
		interval = DefaultBeat
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			var o []string
			if owners != nil {
				o = owners()
			}
			if err := db.Heartbeat(ctx, o); err != nil && onErr != nil && ctx.Err() == nil {
				onErr(err)
			}
		}
	}
}

// Nodes lists the nodes that have run, most recently seen first.
func (db *DB) Nodes(ctx context.Context) ([]NodeInfo, error) {
	rows, err := db.Pool.Query(ctx, "SELECT name, owners, started_at, seen_at FROM aimx.nodes ORDER BY seen_at DESC, name")
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (NodeInfo, error) {
		var n NodeInfo
		err := r.Scan(&n.Name, &n.Owners, &n.StartedAt, &n.SeenAt)
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	return out, nil
}
