package doctor

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/aimx-dev/aimx/pgstore"
)

// The names of the database checks (book/doctor.md), made only with
// `[storage] backend = "postgres"`.
const (
	CheckDatabase      = "database"
	CheckDBSchema      = "db_schema"
	CheckDBNodes       = "db_nodes"
	CheckDBReplication = "db_replication"
)

// DatabaseTimeout bounds the database checks, the connection included, so
// a database that does not answer is a FAIL rather than a hang.
const DatabaseTimeout = 10 * time.Second

// ReplicationLagWarn is the standby replay lag from which doctor warns.
const ReplicationLagWarn = 10 * time.Second

// Database is the report's block on the shared PostgreSQL of the postgres
// backend (book/scale-out.md); absent on a files install.
type Database struct {
	// Target is the database as user@host:port/name, never its password.
	Target string  `json:"target"`
	Checks []Check `json:"checks"`
}

// fixDSN is what to do about a database that cannot be reached.
const fixDSN = "check [storage] dsn (or AIMX_STORAGE_DSN), that PostgreSQL runs there and that it lets this host in (pg_hba.conf, the password)"

// database checks the shared database at d.DSN: it answers and is the
// primary, its schema is this binary's, the nodes' heartbeats, and the
// standbys' replay lag. Nothing is changed: the schema is not migrated.
func (d *Doctor) database(ctx context.Context) *Database {
	if !d.Postgres {
		return nil
	}
	if d.DSN == "" {
		return &Database{Target: "(none)", Checks: []Check{fail(CheckDatabase, "[storage] backend is \"postgres\" but no dsn is set",
			"set [storage] dsn in config.toml, or AIMX_STORAGE_DSN in the daemon's environment (book/scale-out.md)")}}
	}
	timeout := d.DatabaseTimeout
	if timeout <= 0 {
		timeout = DatabaseTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := &Database{Target: dsnTarget(d.DSN), Checks: []Check{}}
	scrub := func(err error) string { return scrubPassword(d.DSN, err) }
	db, err := pgstore.Open(ctx, d.DSN, pgstore.Options{Node: "doctor", SkipMigrate: true, MaxConns: 2})
	if err != nil {
		out.Checks = append(out.Checks, fail(CheckDatabase, "cannot reach "+out.Target+": "+scrub(err), fixDSN))
		return out
	}
	defer db.Close()
	var (
		now        time.Time
		inRecovery bool
		version    string
	)
	err = db.Pool.QueryRow(ctx, "SELECT now(), pg_is_in_recovery(), current_setting('server_version')").Scan(&now, &inRecovery, &version)
	if err != nil {
		out.Checks = append(out.Checks, fail(CheckDatabase, "asking "+out.Target+": "+scrub(err), fixDSN))
		return out
	}
	if inRecovery {
		out.Checks = append(out.Checks, fail(CheckDatabase, out.Target+" is a standby (read-only): PostgreSQL "+version,
			"point [storage] dsn at the primary: every node writes mail, hook jobs and the queue there"))
	} else {
		out.Checks = append(out.Checks, ok(CheckDatabase, out.Target+" answers: PostgreSQL "+version+", primary"))
	}
	st, err := db.Status(ctx)
	if err != nil {
		out.Checks = append(out.Checks, fail(CheckDBSchema, "reading the schema version: "+scrub(err), fixDSN))
		return out
	}
	out.Checks = append(out.Checks, schemaCheck(st))
	if st.Current > 0 {
		nodes, err := db.Nodes(ctx)
		if err != nil {
			out.Checks = append(out.Checks, fail(CheckDBNodes, "reading aimx.nodes: "+scrub(err), fixDSN))
		} else {
			out.Checks = append(out.Checks, nodeChecks(nodes, now)...)
		}
	}
	if inRecovery {
		return out
	}
	standbys, err := replication(ctx, db)
	if err != nil {
		out.Checks = append(out.Checks, warn(CheckDBReplication, "reading pg_stat_replication: "+scrub(err),
			"grant the aimx user pg_monitor (GRANT pg_monitor TO ...) so doctor can see the standbys"))
		return out
	}
	out.Checks = append(out.Checks, replicationChecks(standbys)...)
	return out
}

// schemaCheck compares the database's schema with this binary's
// migrations.
func schemaCheck(st pgstore.SchemaStatus) Check {
	fix := "start aimx serve on one node: it brings the schema up to date at start, under a lock, before it serves"
	switch {
	case st.Current == 0:
		return fail(CheckDBSchema, fmt.Sprintf("the database has no aimx schema yet (this aimx's is version %d)", st.Latest), fix)
	case st.Current > st.Latest:
		return warn(CheckDBSchema, fmt.Sprintf("schema version %d is newer than this aimx knows (%d): another node runs a newer aimx", st.Current, st.Latest),
			"upgrade aimx on this host to the version the other nodes run")
	case len(st.Missing) > 0:
		return fail(CheckDBSchema, fmt.Sprintf("schema version %d, this aimx needs %d: migrations %s not applied", st.Current, st.Latest, ints(st.Missing)), fix)
	}
	return ok(CheckDBSchema, fmt.Sprintf("schema version %d, as this aimx expects", st.Current))
}

// nodeChecks is one finding per node: a node whose heartbeat is older than
// the lease is stale, and its claims are dead (book/scale-out.md).
func nodeChecks(nodes []pgstore.NodeInfo, now time.Time) []Check {
	if len(nodes) == 0 {
		return []Check{warn(CheckDBNodes, "no node has registered: no aimx serve has run against this database",
			"start aimx serve with [storage] backend = \"postgres\" on each host")}
	}
	out := make([]Check, 0, len(nodes))
	for _, n := range nodes {
		age := now.Sub(n.SeenAt).Round(time.Second)
		age = max(age, 0)
		up := now.Sub(n.StartedAt).Round(time.Second)
		if age > pgstore.DefaultLease {
			out = append(out, warn(CheckDBNodes, fmt.Sprintf("%s: last seen %s ago, stale (its claims are dead: live nodes take its work over)", n.Name, age),
				fmt.Sprintf("if %s should run, start it and read aimx logs there; if it was retired, remove it: DELETE FROM aimx.nodes WHERE name = '%s'",
					n.Name, strings.ReplaceAll(n.Name, "'", "''"))))
			continue
		}
		out = append(out, ok(CheckDBNodes, fmt.Sprintf("%s: seen %s ago, up %s, runs hooks for %d owners", n.Name, age, up, len(n.Owners))))
	}
	return out
}

// standby is one row of pg_stat_replication on the primary.
type standby struct {
	// Name is the standby's application_name, else its address.
	Name string
	// State is the WAL sender's state ("streaming"); "" when the aimx
	// user may not see it (it lacks pg_monitor).
	State string
	// ReplayLag is how far the standby's replay is behind; nil when it is
	// not measured (a standby caught up with an idle primary).
	ReplayLag *time.Duration
}

// replication lists the standbys streaming from the primary.
func replication(ctx context.Context, db *pgstore.DB) ([]standby, error) {
	rows, err := db.Pool.Query(ctx, `SELECT coalesce(nullif(application_name, ''), host(client_addr), 'pid ' || pid), coalesce(state, ''),
	extract(epoch FROM replay_lag)::float8 FROM pg_stat_replication ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("read pg_stat_replication: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (standby, error) {
		var s standby
		var lag *float64
		if err := r.Scan(&s.Name, &s.State, &lag); err != nil {
			return standby{}, err
		}
		if lag != nil {
			d := time.Duration(*lag * float64(time.Second))
			s.ReplayLag = &d
		}
		return s, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read pg_stat_replication: %w", err)
	}
	return out, nil
}

// replicationChecks is one finding per standby; none is fine (a standby is
// the operator's choice, not aimx's need).
func replicationChecks(standbys []standby) []Check {
	if len(standbys) == 0 {
		return []Check{ok(CheckDBReplication, "no standby streams from this primary (none is needed)")}
	}
	out := make([]Check, 0, len(standbys))
	for _, s := range standbys {
		switch {
		case s.State == "":
			out = append(out, warn(CheckDBReplication, "standby "+s.Name+": its state and lag are hidden from the aimx user",
				"grant the aimx user pg_monitor (GRANT pg_monitor TO ...) so doctor can see the lag"))
		case s.State != "streaming":
			out = append(out, warn(CheckDBReplication, "standby "+s.Name+" is "+s.State+", not streaming",
				"see the standby's PostgreSQL log: it is not keeping up with the primary yet"))
		case s.ReplayLag == nil:
			out = append(out, ok(CheckDBReplication, "standby "+s.Name+" is streaming, caught up"))
		case *s.ReplayLag > ReplicationLagWarn:
			out = append(out, warn(CheckDBReplication, fmt.Sprintf("standby %s replays %s behind the primary", s.Name, s.ReplayLag.Round(time.Millisecond)),
				"a standby promoted now would lose that much mail and queue: check its disk, network and PostgreSQL log"))
		default:
			out = append(out, ok(CheckDBReplication, fmt.Sprintf("standby %s is streaming, %s behind", s.Name, s.ReplayLag.Round(time.Millisecond))))
		}
	}
	return out
}

// dsnTarget names the database of dsn without its password.
func dsnTarget(dsn string) string {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return "the database ([storage] dsn does not parse)"
	}
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// scrubPassword is err's message with dsn's password, if any, masked:
// the drivers redact it already, and doctor makes sure.
func scrubPassword(dsn string, err error) string {
	msg := err.Error()
	cfg, perr := pgconn.ParseConfig(dsn)
	if perr == nil && cfg.Password != "" {
		msg = strings.ReplaceAll(msg, cfg.Password, "xxxxx")
	}
	return msg
}

// ints is "20, 21, 30".
func ints(vs []int) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ", ")
}
