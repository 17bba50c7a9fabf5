package pgtest

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestDSNGivesFreshDatabases(t *testing.T) {
	ctx := context.Background()
	a, b := DSN(t), DSN(t)
	if a == b {
		t.Fatalf("two DSN calls gave the same database %q", a)
	}
	conn, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE TABLE x (n int)"); err != nil {
		t.Fatal(err)
	}
	conn2, err := pgx.Connect(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close(ctx)
	var n int
	if err := conn2.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'x'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("the second database sees the first one's table")
	}
}

func TestWithDatabase(t *testing.T) {
	for _, c := range []struct{ in, old, want string }{
		{"host=/tmp/x user=postgres dbname=postgres", "postgres", "host=/tmp/x user=postgres dbname=postgres dbname=t1"},
		{"postgres://u@h:5432/main?sslmode=disable", "main", "postgres://u@h:5432/t1?sslmode=disable"},
		{"postgres://u@h:5432", "", "postgres://u@h:5432?dbname=t1"},
	} {
		if got := withDatabase(c.in, c.old, "t1"); got != c.want {
			t.Errorf("withDatabase(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestStartClusterSettings: a cluster for a non-test caller takes the
// caller's settings over the tests' defaults and is gone after stop.
func TestStartClusterSettings(t *testing.T) {
	_ = DSN(t) // the one skip: no binaries and no AIMX_TEST_PG_DSN
	if _, _, err := StartCluster("/tmp/x", "fsync=on; DROP"); err == nil {
		t.Fatal("a setting with a space was accepted")
	}
	dir, err := os.MkdirTemp("", "pgc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	dsn, stop, err := StartCluster(dir, "fsync=on", "synchronous_commit=on")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		stop()
		t.Fatal(err)
	}
	for name, want := range map[string]string{"fsync": "on", "synchronous_commit": "on", "full_page_writes": "off"} {
		var got string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&got); err != nil || got != want {
			t.Errorf("%s = %q (%v), want %q", name, got, err, want)
		}
	}
	conn.Close(ctx)
	stop()
	if c, err := pgx.Connect(ctx, dsn); err == nil {
		c.Close(ctx)
		t.Fatal("the cluster still answers after stop")
	}
}
