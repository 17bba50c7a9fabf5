package metrics

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// Pool registers the figures of the postgres backend's connection pool
// (book/operations.md, "Metrics"; book/scale-out.md), read from stat at
// every scrape: pgstore.DB's Pool.Stat. Call it once, and only with the
// postgres backend: on a files install these series do not exist.
func (m *Metrics) Pool(stat func() *pgxpool.Stat) {
	m.reg.MustRegister(newPoolCollector(stat))
}

// poolCollector reads one pgxpool.Stat per scrape.
type poolCollector struct {
	stat func() *pgxpool.Stat

	total, idle, acquired, constructing, maxConns *prometheus.Desc
	acquires, acquireSecs, emptyAcquires          *prometheus.Desc
	emptyWaitSecs, canceledAcquires, newConns     *prometheus.Desc
}

func poolDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "db_pool", name), help, nil, nil)
}

func newPoolCollector(stat func() *pgxpool.Stat) *poolCollector {
	return &poolCollector{
		stat:             stat,
		total:            poolDesc("total_conns", "Connections in the database pool now: idle, acquired and being opened."),
		idle:             poolDesc("idle_conns", "Idle connections in the database pool."),
		acquired:         poolDesc("acquired_conns", "Connections of the database pool in use now."),
		constructing:     poolDesc("constructing_conns", "Connections of the database pool being opened now."),
		maxConns:         poolDesc("max_conns", "The database pool's size limit."),
		acquires:         poolDesc("acquires_total", "Connections taken from the database pool."),
		acquireSecs:      poolDesc("acquire_seconds_total", "Time spent taking connections from the database pool, waits included."),
		emptyAcquires:    poolDesc("empty_acquires_total", "Takes from the database pool that found no idle connection and waited for one."),
		emptyWaitSecs:    poolDesc("empty_acquire_wait_seconds_total", "Time those takes waited for a connection."),
		canceledAcquires: poolDesc("canceled_acquires_total", "Takes from the database pool given up before a connection came."),
		newConns:         poolDesc("new_conns_total", "Connections the database pool opened."),
	}
}

// Describe sends the descriptions of every pool metric.
func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.total, c.idle, c.acquired, c.constructing, c.maxConns, c.acquires,
		c.acquireSecs, c.emptyAcquires, c.emptyWaitSecs, c.canceledAcquires, c.newConns} {
		ch <- d
	}
}

// Collect reads the pool's figures once.
func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stat()
	if s == nil {
		return
	}
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(c.total, float64(s.TotalConns()))
	gauge(c.idle, float64(s.IdleConns()))
	gauge(c.acquired, float64(s.AcquiredConns()))
	gauge(c.constructing, float64(s.ConstructingConns()))
	gauge(c.maxConns, float64(s.MaxConns()))
	counter(c.acquires, float64(s.AcquireCount()))
	counter(c.acquireSecs, s.AcquireDuration().Seconds())
	counter(c.emptyAcquires, float64(s.EmptyAcquireCount()))
	counter(c.emptyWaitSecs, s.EmptyAcquireWaitTime().Seconds())
	counter(c.canceledAcquires, float64(s.CanceledAcquireCount()))
	counter(c.newConns, float64(s.NewConnsCount()))
}

// QueueFigures are the shared work queues' figures at one scrape, as the
// postgres backend's stores count them in the database (book/scale-out.md).
// A figure below 0 is unknown and left out of the scrape.
type QueueFigures struct {
	// OutboundQueued counts the messages in the shared outbound queue, of
	// every node.
	OutboundQueued int64
	// OutboundClaimed counts those this node holds a live claim on (it
	// delivers them).
	OutboundClaimed int64
	// HookJobsUnfinished counts the hook jobs a node started that are not
	// done yet (running, or waiting for a retry), of every node. Jobs due
	// that no node has started yet are not among them.
	HookJobsUnfinished int64
}

// QueueTimeout bounds the figures' work at each scrape.
const QueueTimeout = 2 * time.Second

// SharedQueue registers the shared queues' figures, read from figures at
// every scrape (with QueueTimeout; an error leaves them out of that scrape
// and the rest is served). Call it once, and only with the postgres
// backend.
func (m *Metrics) SharedQueue(figures func(ctx context.Context) (QueueFigures, error)) {
	m.reg.MustRegister(&queueCollector{
		figures: figures,
		queued: prometheus.NewDesc(prometheus.BuildFQName(namespace, "shared", "outbound_queued"),
			"Messages in the shared outbound queue, of every node.", nil, nil),
		claimed: prometheus.NewDesc(prometheus.BuildFQName(namespace, "shared", "outbound_claimed"),
			"Messages of the shared outbound queue this node holds a live claim on.", nil, nil),
		hookJobs: prometheus.NewDesc(prometheus.BuildFQName(namespace, "shared", "hook_jobs_unfinished"),
			"Hook jobs started and not done yet (running, or waiting for a retry), of every node.", nil, nil),
	})
}

// queueCollector asks for the figures once per scrape.
type queueCollector struct {
	figures                   func(ctx context.Context) (QueueFigures, error)
	queued, claimed, hookJobs *prometheus.Desc
}

// Describe sends the descriptions of the queue metrics.
func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.queued
	ch <- c.claimed
	ch <- c.hookJobs
}

// Collect asks for the figures; a failure is reported as an invalid
// metric, which the handler leaves out (promhttp.ContinueOnError).
func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), QueueTimeout)
	defer cancel()
	f, err := c.figures(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.queued, err)
		return
	}
	for _, v := range []struct {
		d *prometheus.Desc
		n int64
	}{{c.queued, f.OutboundQueued}, {c.claimed, f.OutboundClaimed}, {c.hookJobs, f.HookJobsUnfinished}} {
		if v.n >= 0 {
			ch <- prometheus.MustNewConstMetric(v.d, prometheus.GaugeValue, float64(v.n))
		}
	}
}
