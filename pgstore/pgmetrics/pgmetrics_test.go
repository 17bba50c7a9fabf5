package pgmetrics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/aimx-dev/aimx/internal/pgtest"
	"github.com/aimx-dev/aimx/metrics"
	"github.com/aimx-dev/aimx/pgstore"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// scrape fetches /metrics and returns each gauge or counter without
// labels by name.
func scrape(t *testing.T, m *metrics.Metrics) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, metrics.MetricsPath, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		if !strings.HasPrefix(name, "aimx_") || len(f.GetMetric()) != 1 {
			continue
		}
		mt := f.GetMetric()[0]
		switch f.GetType() {
		case dto.MetricType_GAUGE:
			out[name] = mt.GetGauge().GetValue()
		case dto.MetricType_COUNTER:
			out[name] = mt.GetCounter().GetValue()
		}
	}
	return out
}

// TestRegister: over a real database with queued mail (two items claimed
// by this node, one by another, one unclaimed) and hook jobs (one running,
// one done), /metrics carries the pool and the shared figures.
func TestRegister(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	db, err := pgstore.Open(ctx, dsn, pgstore.Options{Node: "mx1"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Register(ctx, nil); err != nil {
		t.Fatal(err)
	}
	other, err := pgstore.Open(ctx, dsn, pgstore.Options{Node: "mx2"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Register(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for i, claim := range []*pgstore.DB{db, db, other, nil} {
		var node, started any
		if claim != nil {
			node, started = claim.Node, claim.Started
		}
		if _, err := db.Pool.Exec(ctx, `INSERT INTO aimx.outbound_queue (id, enqueued, held, claim_node, claim_started, record, data)
VALUES ($1, now(), false, $2, $3, '\x7b7d', '\x')`, "q"+string(rune('a'+i)), node, started); err != nil {
			t.Fatal(err)
		}
	}
	for _, job := range []struct {
		id   string
		done bool
	}{{"j1", false}, {"j2", true}} {
		if _, err := db.Pool.Exec(ctx, "INSERT INTO aimx.hook_jobs (id, done, updated_at) VALUES ($1, $2, now())", job.id, job.done); err != nil {
			t.Fatal(err)
		}
	}
	m := metrics.New("test")
	if got := scrape(t, m); got["aimx_db_pool_max_conns"] != 0 || got["aimx_shared_outbound_queued"] != 0 {
		t.Fatalf("postgres series before Register: %v", got)
	}
	Register(m, db)
	got := scrape(t, m)
	for name, want := range map[string]float64{
		"aimx_shared_outbound_queued":      4,
		"aimx_shared_outbound_claimed":     2,
		"aimx_shared_hook_jobs_unfinished": 1,
		"aimx_db_pool_max_conns":           32,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
	if got["aimx_db_pool_total_conns"] < 1 || got["aimx_db_pool_acquires_total"] < 1 {
		t.Errorf("pool figures: total %v, acquires %v", got["aimx_db_pool_total_conns"], got["aimx_db_pool_acquires_total"])
	}
}
