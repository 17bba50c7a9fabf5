package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aimx-dev/aimx/internal/pgtest"
)

// The postgres phase (bench/README.md, "PostgreSQL backend"): SMTP intake
// at C=20 against one, two and three nodes over one PostgreSQL, beside the
// files backend in the same run, and email_list at 1,000,000 messages
// stored in PostgreSQL (pglist.go).

// pgIntakeSlack is how far below the files backend's rate the one-node
// postgres rate may be (issue 15: within 30 %).
const pgIntakeSlack = 0.30

// pgCluster is the run's own PostgreSQL cluster, started with durable
// commits (fsync, synchronous_commit and full_page_writes on) so that its
// figures compare with the files backend's fsynced writes.
type pgCluster struct {
	dir   string
	admin string // DSN of the postgres database
	stop  func()
}

// startPG starts the cluster in a temp dir of its own: as root the
// cluster runs as nobody, who must reach the dir (the run's temp dir is
// root's alone).
func startPG() (*pgCluster, error) {
	dir, err := os.MkdirTemp("", "aimx-benchpg-")
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	progress("postgres: starting a cluster in %s", dir)
	dsn, stop, err := pgtest.StartCluster(dir, "fsync=on", "synchronous_commit=on", "full_page_writes=on", "shared_buffers=256MB")
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &pgCluster{dir: dir, admin: dsn, stop: stop}, nil
}

func (p *pgCluster) close() {
	p.stop()
	_ = os.RemoveAll(p.dir)
}

// database creates an empty database and returns its DSN.
func (p *pgCluster) database(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, p.admin)
	if err != nil {
		return "", fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(context.Background())
	// name is one of this file's constants, never user input.
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("postgres: create database %s: %w", name, err)
	}
	return p.admin + " dbname=" + name, nil
}

// writePGConfig writes a node's dev config: the bench's mailboxes and
// hook (writeConfig) and the [storage] section naming the database.
func writePGConfig(dir, owner, hookLog, dsn, node string, boxes []fixtureBox) error {
	if err := writeConfig(dir, owner, hookLog, boxes); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, "config.toml"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	_, err = fmt.Fprintf(f, "\n[storage]\nbackend = \"postgres\"\ndsn = %q\nnode = %q\n", dsn, node)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// startNodes starts k nodes over dsn, each on its own dev dir under
// tmp/name-<i>, and waits until every one listens.
func (s *session) startNodes(name, dsn string, k int, boxes []fixtureBox) ([]*daemonProc, error) {
	var nodes []*daemonProc
	for i := range k {
		dir := filepath.Join(s.tmp, fmt.Sprintf("%s-%d", name, i))
		if err := writePGConfig(dir, s.owner, s.hookLog, dsn, fmt.Sprintf("%s%d", name, i), boxes); err != nil {
			stopAll(nodes)
			return nil, err
		}
		d, err := startDaemon(s.bin, dir)
		if err != nil {
			stopAll(nodes)
			return nil, err
		}
		nodes = append(nodes, d)
		if _, err := d.waitListen(120 * time.Second); err != nil {
			stopAll(nodes)
			return nil, err
		}
	}
	return nodes, nil
}

func stopAll(nodes []*daemonProc) {
	for _, d := range nodes {
		if err := d.stop(60 * time.Second); err != nil {
			progress("%v", err)
		}
	}
}

// postgres is the postgres phase: intake on the files backend, then on
// one, two and three nodes over one database, then listing at scale.
func (s *session) postgres(ctx context.Context) error {
	pg, err := startPG()
	if err != nil {
		return err
	}
	defer pg.close()
	s.note("Load average at the start of the postgres phase: %s.", loadAvg())
	n := s.o.Intake[1]
	rcpt := intakeBox + "@" + benchDomain
	const conns, size = 20, 4 << 10

	progress("postgres: files backend, %d messages of 4 KiB over %d connections", n, conns)
	d, err := s.startIntake()
	if err != nil {
		return err
	}
	if _, err := d.waitIdle(30 * time.Second); err != nil {
		_ = d.stop(60 * time.Second)
		return err
	}
	files, err := runIntakeSpread([]string{d.Listen["smtp"]}, rcpt, "files", n, conns, size)
	if serr := d.stop(60 * time.Second); err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	s.add(info(fmt.Sprintf("SMTP intake 4 KiB, C=20, files backend (%d msgs)", n), intakeFigure(files)))

	for k := 1; k <= 3; k++ {
		dsn, err := pg.database(ctx, fmt.Sprintf("intake%d", k))
		if err != nil {
			return err
		}
		progress("postgres: %d node(s), %d messages of 4 KiB over %d connections", k, n, conns)
		nodes, err := s.startNodes(fmt.Sprintf("pg%d", k), dsn, k, nil)
		if err != nil {
			return err
		}
		var addrs []string
		for _, d := range nodes {
			if _, err := d.waitIdle(30 * time.Second); err != nil {
				progress("postgres: %v; measuring all the same", err)
			}
			addrs = append(addrs, d.Listen["smtp"])
		}
		r, err := runIntakeSpread(addrs, rcpt, fmt.Sprintf("pg%d", k), n, conns, size)
		stopAll(nodes)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("SMTP intake 4 KiB, C=20, postgres, %d node(s) (%d msgs)", k, n)
		if k == 1 {
			// Within 30 % of the files backend: the rate, and the p99.
			fp99, p99 := files.Lat.percentile(0.99), r.Lat.percentile(0.99)
			s.add(check(name+": rate", intakeFigure(r)+fmt.Sprintf(" (%.0f %% of files)", 100*r.rate()/files.rate()),
				"≥ 70 % of the files backend's msg/s", r.rate() >= files.rate()*(1-pgIntakeSlack)),
				check(name+": p99", fmt.Sprintf("%s (files %s)", ms(p99), ms(fp99)),
					"≤ 130 % of the files backend's p99", float64(p99) <= float64(fp99)*(1+pgIntakeSlack)))
		} else {
			s.add(info(name, intakeFigure(r)+fmt.Sprintf(" (%.0f %% of files)", 100*r.rate()/files.rate())))
		}
	}
	s.note("The postgres phase ran PostgreSQL %s on the same machine with fsync, synchronous_commit and full_page_writes on; "+
		"2 cores serve the driver, every node and the database, so the node figures are about overhead, not scaling.", pgVersion(ctx, pg.admin))
	if err := s.pgList(ctx, pg); err != nil {
		return err
	}
	s.note("Load average at its end: %s.", loadAvg())
	return nil
}

// loadAvg is the 1, 5 and 15 minute load averages (/proc/loadavg,
// proc(5)): other work on the machine shows in every figure.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], ", ")
}

// intakeFigure is "N msg/s, p50 X, p99 Y".
func intakeFigure(r intakeResult) string {
	return fmt.Sprintf("%.0f msg/s, p50 %s, p99 %s", r.rate(), ms(r.Lat.percentile(0.5)), ms(r.Lat.percentile(0.99)))
}

// pgVersion is the server's version string, or "?".
func pgVersion(ctx context.Context, dsn string) string {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "?"
	}
	defer conn.Close(context.Background())
	var v string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "?"
	}
	return v
}

// runIntakeSpread is runIntake over several nodes: message i goes to
// addrs[i % len(addrs)], one message per connection, conns at once.
func runIntakeSpread(addrs []string, rcpt, tag string, n, conns, size int) (intakeResult, error) {
	body := messageBody(size)
	var next atomic.Int64
	lat := make(latencies, n)
	var wg sync.WaitGroup
	var firstErr error
	var mu sync.Mutex
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				d, err := sendOne(addrs[i%len(addrs)], rcpt, fmt.Sprintf("intake-%s-%d@example.test", tag, i), body)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				lat[i] = d
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return intakeResult{}, fmt.Errorf("intake: %w", firstErr)
	}
	return intakeResult{N: n, Elapsed: time.Since(start), Lat: lat}, nil
}
