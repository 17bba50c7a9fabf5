package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/aimx-dev/aimx/internal/pgtest"
	"github.com/aimx-dev/aimx/pgstore"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// byCheck is the checks of db named name.
func byCheck(db *Database, name string) []Check {
	var out []Check
	for _, c := range db.Checks {
		if c.Check == name {
			out = append(out, c)
		}
	}
	return out
}

// TestDatabaseChecks runs the database checks against a real database:
// before any node migrated it (reachable, schema FAIL, no nodes looked
// at), and after two nodes registered, one of them stale.
func TestDatabaseChecks(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	d := &Doctor{Postgres: true, DSN: dsn}

	db := d.database(ctx)
	if db == nil || db.Target == "" || strings.Contains(db.Target, "password") {
		t.Fatalf("database block %+v", db)
	}
	if c := byCheck(db, CheckDatabase); len(c) != 1 || c[0].Status != OK || !strings.Contains(c[0].Detail, "primary") {
		t.Errorf("database: %+v", c)
	}
	if c := byCheck(db, CheckDBSchema); len(c) != 1 || c[0].Status != Fail || c[0].Fix == "" || !strings.Contains(c[0].Detail, "no aimx schema") {
		t.Errorf("db_schema of an empty database: %+v", c)
	}
	if c := byCheck(db, CheckDBNodes); len(c) != 0 {
		t.Errorf("nodes of an unmigrated database: %+v", c)
	}
	conn, err := pgconn.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	res := conn.ExecParams(ctx, "SELECT to_regclass('aimx.schema_migrations') IS NOT NULL", nil, nil, nil, nil).Read()
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if string(res.Rows[0][0]) == "t" {
		t.Fatal("doctor migrated the database: it must change nothing")
	}

	for _, node := range []string{"mx1", "mx2"} {
		n, err := pgstore.Open(ctx, dsn, pgstore.Options{Node: node})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Register(ctx, []string{"alice", "bob"}); err != nil {
			t.Fatal(err)
		}
		if node == "mx2" {
			if _, err := n.Pool.Exec(ctx, "UPDATE aimx.nodes SET seen_at = now() - interval '5 minutes' WHERE name = $1", node); err != nil {
				t.Fatal(err)
			}
		}
		n.Close()
	}
	db = d.database(ctx)
	if c := byCheck(db, CheckDBSchema); len(c) != 1 || c[0].Status != OK {
		t.Errorf("db_schema after a migration: %+v", c)
	}
	nodes := byCheck(db, CheckDBNodes)
	if len(nodes) != 2 {
		t.Fatalf("db_nodes: %+v", nodes)
	}
	for _, c := range nodes {
		switch {
		case strings.HasPrefix(c.Detail, "mx1:"):
			if c.Status != OK || !strings.Contains(c.Detail, "2 owners") {
				t.Errorf("fresh node: %+v", c)
			}
		case strings.HasPrefix(c.Detail, "mx2:"):
			if c.Status != Warn || !strings.Contains(c.Detail, "stale") || !strings.Contains(c.Detail, "5m0s") || !strings.Contains(c.Fix, "name = 'mx2'") {
				t.Errorf("stale node: %+v", c)
			}
		default:
			t.Errorf("a node check of no node: %+v", c)
		}
	}
	if c := byCheck(db, CheckDBReplication); len(c) != 1 || c[0].Status != OK || !strings.Contains(c[0].Detail, "no standby") {
		t.Errorf("db_replication without standbys: %+v", c)
	}
}

// TestDatabaseInReport: the block is in the text and the JSON report
// (which follows schema.json) with the postgres backend, and absent
// without it.
func TestDatabaseInReport(t *testing.T) {
	f := newFixture(t, map[string]string{"support@example.com": "alice"})
	f.publishAll()
	d := f.doctor()
	_, text, js := render(t, f, d)
	if strings.Contains(text, "Database") || strings.Contains(js, `"database"`) {
		t.Errorf("a files install reports a database:\n%s", text)
	}
	d.Postgres, d.DSN = true, pgtest.DSN(t)
	rep, text, js := render(t, f, d)
	if rep.Database == nil || !strings.Contains(text, "\nDatabase ") || !strings.Contains(text, "FAIL  db_schema") ||
		!strings.Contains(js, `"check": "db_schema"`) {
		t.Errorf("the database block is missing:\n%s", text)
	}
	if rep.OK {
		t.Error("an unmigrated database leaves the report OK")
	}
}

// TestDatabaseUnreachable: a refused connection and a server that never
// answers are both a FAIL within the timeout, saying what to do, and the
// DSN's password is in no output.
func TestDatabaseUnreachable(t *testing.T) {
	const password = "s3cret-Pw-91"
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedAddr := refused.Addr().String()
	refused.Close()
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		var held []net.Conn // open, never answered
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	for _, tc := range []struct{ name, addr string }{{"refused", refusedAddr}, {"silent", silent.Addr().String()}} {
		t.Run(tc.name, func(t *testing.T) {
			d := &Doctor{Postgres: true, DSN: "postgres://aimx:" + password + "@" + tc.addr + "/aimx?sslmode=disable", DatabaseTimeout: 2 * time.Second}
			start := time.Now()
			db := d.database(context.Background())
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("the check took %v", took)
			}
			if len(db.Checks) != 1 || db.Checks[0].Check != CheckDatabase || db.Checks[0].Status != Fail || db.Checks[0].Fix == "" {
				t.Fatalf("checks %+v", db.Checks)
			}
			if !strings.Contains(db.Checks[0].Detail, "aimx@127.0.0.1:") {
				t.Errorf("the detail does not name the database: %s", db.Checks[0].Detail)
			}
			rep := &Report{Database: db}
			rep.finish()
			var text bytes.Buffer
			if err := WriteText(&text, rep); err != nil {
				t.Fatal(err)
			}
			js, err := json.Marshal(rep)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(text.String(), password) || strings.Contains(string(js), password) {
				t.Errorf("the password is printed:\n%s", text.String())
			}
		})
	}
}

// TestDatabaseNoDSN: the postgres backend without a DSN is a FAIL that
// says where to set one.
func TestDatabaseNoDSN(t *testing.T) {
	db := (&Doctor{Postgres: true}).database(context.Background())
	if db == nil || len(db.Checks) != 1 || db.Checks[0].Status != Fail || !strings.Contains(db.Checks[0].Fix, "AIMX_STORAGE_DSN") {
		t.Errorf("no dsn: %+v", db)
	}
	if db := (&Doctor{DSN: "postgres://x@y/z"}).database(context.Background()); db != nil {
		t.Errorf("a files install got database checks: %+v", db)
	}
}

// TestScrubPassword: a message that quotes the password has it masked.
func TestScrubPassword(t *testing.T) {
	if got := scrubPassword("postgres://u@h/db", errString("auth failed")); got != "auth failed" {
		t.Errorf("scrub without a password = %q", got)
	}
	if got := scrubPassword("postgres://u:hunter22@h/db", errString("auth for hunter22 failed")); got != "auth for xxxxx failed" {
		t.Errorf("scrub = %q", got)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func lag(d time.Duration) *time.Duration { return &d }

// TestReplicationChecks: each standby's state and lag against the 10 s
// threshold; no standby is fine.
func TestReplicationChecks(t *testing.T) {
	for _, tc := range []struct {
		name     string
		standbys []standby
		want     []Status
		detail   string
	}{
		{"none", nil, []Status{OK}, "no standby"},
		{"caught up", []standby{{Name: "db2", State: "streaming"}}, []Status{OK}, "db2 is streaming, caught up"},
		{"small lag", []standby{{Name: "db2", State: "streaming", ReplayLag: lag(1500 * time.Millisecond)}}, []Status{OK}, "1.5s behind"},
		{"at the threshold", []standby{{Name: "db2", State: "streaming", ReplayLag: lag(ReplicationLagWarn)}}, []Status{OK}, "10s behind"},
		{"lagging", []standby{{Name: "db2", State: "streaming", ReplayLag: lag(42 * time.Second)}}, []Status{Warn}, "replays 42s behind"},
		{"catching up", []standby{{Name: "db2", State: "catchup"}}, []Status{Warn}, "catchup, not streaming"},
		{"hidden", []standby{{Name: "10.0.0.2"}}, []Status{Warn}, "hidden"},
		{"two", []standby{{Name: "a", State: "streaming"}, {Name: "b", State: "streaming", ReplayLag: lag(time.Minute)}}, []Status{OK, Warn}, "b replays 1m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := replicationChecks(tc.standbys)
			if len(got) != len(tc.want) {
				t.Fatalf("checks %+v", got)
			}
			var details []string
			for i, c := range got {
				if c.Check != CheckDBReplication || c.Status != tc.want[i] || (c.Status != OK && c.Fix == "") {
					t.Errorf("check %d: %+v, want %s", i, c, tc.want[i])
				}
				details = append(details, c.Detail)
			}
			if all := strings.Join(details, "; "); !strings.Contains(all, tc.detail) {
				t.Errorf("details %q lack %q", all, tc.detail)
			}
		})
	}
}

// TestSchemaCheck: current, never migrated, behind, ahead.
func TestSchemaCheck(t *testing.T) {
	for _, tc := range []struct {
		st   pgstore.SchemaStatus
		want Status
	}{
		{pgstore.SchemaStatus{Current: 60, Latest: 60}, OK},
		{pgstore.SchemaStatus{Current: 0, Latest: 60, Missing: []int{1, 60}}, Fail},
		{pgstore.SchemaStatus{Current: 20, Latest: 60, Missing: []int{60}}, Fail},
		{pgstore.SchemaStatus{Current: 70, Latest: 60}, Warn},
	} {
		if c := schemaCheck(tc.st); c.Status != tc.want || c.Check != CheckDBSchema || (c.Status != OK && c.Fix == "") {
			t.Errorf("schemaCheck(%+v) = %+v, want %s", tc.st, c, tc.want)
		}
	}
}
