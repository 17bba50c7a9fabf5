package pgstore

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestMigrateConcurrentNodes starts several nodes on one empty database at
// once: the advisory lock lets each version apply exactly once.
func TestMigrateConcurrentNodes(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	applied := make([]int, 4)
	errs := make([]error, 4)
	for i := range applied {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := Open(ctx, dsn, Options{Node: "n", SkipMigrate: true})
			if err != nil {
				errs[i] = err
				return
			}
			defer db.Close()
			applied[i], errs[i] = db.Migrate(ctx)
		}()
	}
	wg.Wait()
	total := 0
	for i := range applied {
		if errs[i] != nil {
			t.Fatalf("node %d: %v", i, errs[i])
		}
		total += applied[i]
	}
	if total != len(ms) {
		t.Fatalf("the nodes applied %d migrations in all, want each of %d once", total, len(ms))
	}
	db, err := Open(ctx, dsn, Options{Node: "n"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := db.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Missing) != 0 || st.Current != st.Latest {
		t.Fatalf("status after migrate = %+v", st)
	}
}

func TestOpenRefusesEmptyDSN(t *testing.T) {
	if _, err := Open(context.Background(), " ", Options{}); err == nil {
		t.Fatal("Open with no dsn succeeded")
	}
}

func TestStatusOfEmptyDatabase(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, pgtest.DSN(t), Options{Node: "n", SkipMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := db.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Current != 0 || len(st.Missing) == 0 {
		t.Fatalf("status of an empty database = %+v, want nothing applied", st)
	}
}

func TestListenDeliversNotifies(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dsn := pgtest.DSN(t)
	a, err := Open(ctx, dsn, Options{Node: "a"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, dsn, Options{Node: "b"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got := make(chan Notification, 4)
	up := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); b.Listen(ctx, []string{"aimx_test"}, up, func(n Notification) { got <- n }) }()
	<-up
	if err := a.Notify(ctx, "aimx_test", "hello"); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-got:
		if n.Channel != "aimx_test" || n.Payload != "hello" {
			t.Fatalf("got %+v", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notification within 10 s")
	}
	cancel()
	<-done
}

func TestHeartbeatAndNodes(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, pgtest.DSN(t), Options{Node: "a"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Heartbeat(ctx, nil); err == nil {
		t.Fatal("Heartbeat before Register succeeded")
	}
	if err := db.Register(ctx, []string{"alice", "bob"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Heartbeat(ctx, []string{"alice"}); err != nil {
		t.Fatal(err)
	}
	ns, err := db.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 1 || ns[0].Name != "a" || len(ns[0].Owners) != 1 || ns[0].Owners[0] != "alice" {
		t.Fatalf("nodes = %+v", ns)
	}
}

// TestClaimAlive: a claim dies when its node restarts (a new incarnation)
// or stops beating for longer than the lease.
func TestClaimAlive(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	db, err := Open(ctx, dsn, Options{Node: "a"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Register(ctx, nil); err != nil {
		t.Fatal(err)
	}
	alive := func(node string, started time.Time, lease string) bool {
		t.Helper()
		var ok bool
		if err := db.Pool.QueryRow(ctx, "SELECT aimx.claim_alive($1, $2, $3::interval)", node, started, lease).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	first := db.Started
	if !alive("a", first, "30 seconds") {
		t.Fatal("a fresh claim is dead")
	}
	if alive("b", first, "30 seconds") {
		t.Fatal("a claim of an unknown node is alive")
	}
	time.Sleep(20 * time.Millisecond)
	if alive("a", first, "1 millisecond") {
		t.Fatal("a claim whose heartbeat is older than the lease is alive")
	}
	again, err := Open(ctx, dsn, Options{Node: "a"})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if err := again.Register(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if alive("a", first, "30 seconds") {
		t.Fatal("a claim of the node's previous incarnation is alive after it restarted")
	}
	if !alive("a", again.Started, "30 seconds") {
		t.Fatal("the new incarnation's claim is dead")
	}
	if err := db.Heartbeat(ctx, nil); err == nil {
		t.Fatal("the old incarnation's heartbeat succeeded after a restart")
	}
}
