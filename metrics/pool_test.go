package metrics

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/aimx-dev/aimx/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestPoolFigures: with a real pool, one connection held and a few
// queries run, the pool series are on /metrics with values that fit.
func TestPoolFigures(t *testing.T) {
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 7
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	m := New("test")
	if v := value(scrape(t, m.Handler()), "aimx_db_pool_max_conns"); v != -1 {
		t.Fatalf("pool series before Pool: %v", v)
	}
	m.Pool(pool.Stat)
	for range 3 {
		if _, err := pool.Exec(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
	}
	held, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	fams := scrape(t, m.Handler())
	for _, c := range []struct {
		name     string
		min, max float64
	}{
		{"aimx_db_pool_max_conns", 7, 7},
		{"aimx_db_pool_total_conns", 1, 7},
		{"aimx_db_pool_acquired_conns", 1, 1},
		{"aimx_db_pool_idle_conns", 0, 6},
		{"aimx_db_pool_constructing_conns", 0, 7},
		{"aimx_db_pool_acquires_total", 4, 4},
		{"aimx_db_pool_acquire_seconds_total", 0, 60},
		{"aimx_db_pool_empty_acquires_total", 1, 4},
		{"aimx_db_pool_empty_acquire_wait_seconds_total", 0, 60},
		{"aimx_db_pool_canceled_acquires_total", 0, 0},
		{"aimx_db_pool_new_conns_total", 1, 7},
	} {
		if v := value(fams, c.name); v < c.min || v > c.max {
			t.Errorf("%s = %v, want %v..%v", c.name, v, c.min, c.max)
		}
	}
	if got := fams["aimx_db_pool_acquires_total"].GetType().String(); got != "COUNTER" {
		t.Errorf("aimx_db_pool_acquires_total is a %s", got)
	}
}

// TestSharedQueueFigures: the figures are read at each scrape within a
// deadline; an unknown figure is left out; a failure leaves the three out
// and the rest of /metrics is served.
func TestSharedQueueFigures(t *testing.T) {
	m := New("test")
	var next QueueFigures
	var fail error
	m.SharedQueue(func(ctx context.Context) (QueueFigures, error) {
		if d, ok := ctx.Deadline(); !ok || time.Until(d) > QueueTimeout {
			t.Errorf("figures asked without the scrape's deadline")
		}
		return next, fail
	})
	for _, tc := range []struct {
		name                     string
		figures                  QueueFigures
		err                      error
		queued, claimed, pending float64
	}{
		{"counts", QueueFigures{OutboundQueued: 12, OutboundClaimed: 5, HookJobsUnfinished: 3}, nil, 12, 5, 3},
		{"empty", QueueFigures{}, nil, 0, 0, 0},
		{"hook jobs unknown", QueueFigures{OutboundQueued: 2, OutboundClaimed: 1, HookJobsUnfinished: -1}, nil, 2, 1, -1},
		{"database down", QueueFigures{OutboundQueued: 9}, errors.New("no database"), -1, -1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, fail = tc.figures, tc.err
			fams := scrape(t, m.Handler())
			if v := value(fams, "aimx_shared_outbound_queued"); v != tc.queued {
				t.Errorf("queued = %v, want %v", v, tc.queued)
			}
			if v := value(fams, "aimx_shared_outbound_claimed"); v != tc.claimed {
				t.Errorf("claimed = %v, want %v", v, tc.claimed)
			}
			if v := value(fams, "aimx_shared_hook_jobs_unfinished"); v != tc.pending {
				t.Errorf("hook jobs = %v, want %v", v, tc.pending)
			}
			if v := value(fams, "aimx_build_info", "version", "test"); v != 1 {
				t.Errorf("the rest of /metrics went missing: build_info = %v", v)
			}
		})
	}
}
