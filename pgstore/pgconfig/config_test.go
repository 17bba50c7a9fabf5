package pgconfig_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/pgtest"
	"github.com/aimx-dev/aimx/pgstore/pgconfig"
)

// TestChangeLiveOnEveryNode: a mailbox created through node A is in node
// B's live config within a second, and each node keeps its own per-host
// settings.
func TestChangeLiveOnEveryNode(t *testing.T) {
	t.Parallel()
	nodes := startNodes(t, "a", "b")
	a, b := nodes[0], nodes[1]
	if !a.init.Imported || b.init.Imported {
		t.Fatalf("imported: a %v, b %v; want the first node only", a.init.Imported, b.init.Imported)
	}
	// No node had a key for a.test: the importer generated one, the other
	// node took it.
	if !slices.Equal(a.init.KeysGenerated, []string{"a.test"}) || len(b.init.KeysGenerated) != 0 ||
		!slices.Equal(b.init.Keys.Written, []string{"a.test"}) {
		t.Errorf("keys: a generated %v, b generated %v and wrote %v", a.init.KeysGenerated, b.init.KeysGenerated, b.init.Keys.Written)
	}
	if !b.init.LocalDiffers {
		t.Error("b's config.toml names another mailbox than the database, LocalDiffers not set")
	}
	if hasMailbox(b, "local-b@a.test") || !hasMailbox(b, "local-a@a.test") {
		t.Fatal("b runs its own config.toml's mailboxes, not the database's")
	}
	if _, err := a.ch.Update(addMailbox("new@a.test")); err != nil {
		t.Fatal(err)
	}
	if !hasMailbox(a, "new@a.test") {
		t.Fatal("not live on the node that made the change")
	}
	eventually(t, time.Second, "the mailbox live on b", func() bool { return hasMailbox(b, "new@a.test") })
	for _, n := range nodes {
		c := n.ch.Registry.Current()
		want := localConfig(n.name, "")
		if c.SMTP.Hostname != want.SMTP.Hostname || c.Storage.Node != n.name || c.Storage.DSN != want.Storage.DSN || c.Hooks.Workers != 7 {
			t.Errorf("node %s runs host settings %+v %+v", n.name, c.SMTP, c.Storage)
		}
	}
	if a.ch.Registry.Current().SMTP.Listen == b.ch.Registry.Current().SMTP.Listen {
		t.Error("the nodes share one smtp listen address")
	}
	// The stored document holds no node's host settings.
	var doc string
	if err := a.db.Pool.QueryRow(context.Background(), "SELECT toml FROM aimx.config ORDER BY version DESC LIMIT 1").Scan(&doc); err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"listen", "hostname", "dsn", "node", "workers", "postgres"} {
		if strings.Contains(doc, host) {
			t.Errorf("the shared document holds %q:\n%s", host, doc)
		}
	}
	// Node b's own change reaches a, and a publishes it once.
	before := a.published.Load()
	if _, err := b.ch.Update(addMailbox("fromb@a.test")); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "b's mailbox live on a", func() bool { return hasMailbox(a, "fromb@a.test") })
	time.Sleep(50 * time.Millisecond)
	if got := a.published.Load() - before; got != 1 {
		t.Errorf("a published %d configs for one change", got)
	}
}

// TestConcurrentUpdatesAllLand: changes made at once through two nodes
// all land; none overwrites another.
func TestConcurrentUpdatesAllLand(t *testing.T) {
	t.Parallel()
	nodes := startNodes(t, "a", "b")
	const each = 10
	var wg sync.WaitGroup
	for _, n := range nodes {
		for i := range each {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := n.ch.Update(addMailbox(fmt.Sprintf("%s%d@a.test", n.name, i))); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	for _, n := range nodes {
		eventually(t, time.Second, "every mailbox live on "+n.name, func() bool {
			for _, m := range nodes {
				for i := range each {
					if !hasMailbox(n, fmt.Sprintf("%s%d@a.test", m.name, i)) {
						return false
					}
				}
			}
			return true
		})
	}
	if got := versions(t, nodes[0].db); got != 1+2*each {
		t.Errorf("%d versions stored, want %d", got, 1+2*each)
	}
}

// TestRefusedChangeChangesNothing: an error from the change or a config
// that does not validate stores no version and publishes nothing on any
// node.
func TestRefusedChangeChangesNothing(t *testing.T) {
	t.Parallel()
	nodes := startNodes(t, "a", "b")
	a, b := nodes[0], nodes[1]
	liveB := b.ch.Registry.Current()
	boom := errors.New("boom")
	refused := []struct {
		name string
		fn   func(*domains.Config) error
	}{
		{"error", func(c *domains.Config) error {
			c.Mailboxes["x@a.test"] = domains.Mailbox{Name: "x@a.test", Owner: "u"}
			return boom
		}},
		{"no domains", func(c *domains.Config) error { c.Domains = nil; return nil }},
		{"mailbox of no domain", addMailbox("x@elsewhere.test")},
		{"bad hook", func(c *domains.Config) error {
			m := c.Mailboxes["local-a@a.test"]
			m.Hooks = append(m.Hooks, domains.Hook{Event: domains.EventOnReceive, Cmd: []string{"relative"}, TimeoutSecs: 1})
			c.Mailboxes[m.Name] = m
			return nil
		}},
	}
	for _, tc := range refused {
		_, err := a.ch.Update(tc.fn)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
		if tc.name == "error" && !errors.Is(err, boom) {
			t.Errorf("error: %v does not wrap the change's error", err)
		}
	}
	// An unchanged config stores no version either.
	if _, err := a.ch.Update(func(*domains.Config) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if got := versions(t, a.db); got != 1 {
		t.Errorf("%d versions after refused changes, want 1", got)
	}
	if err := b.w.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b.ch.Registry.Current() != liveB || b.published.Load() != 0 {
		t.Error("b published a config after refused changes")
	}
	if _, ok := a.ch.Registry.Current().Mailboxes["x@a.test"]; ok {
		t.Error("a refused change is live on a")
	}
}

// TestFirstStartImportsOnce: nodes starting together on an empty database
// import one config.toml, once; every node then runs it.
func TestFirstStartImportsOnce(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	const n = 4
	nodes := make([]*node, n)
	for i := range nodes {
		nodes[i] = newNode(t, dsn, fmt.Sprintf("n%d", i), localConfig(fmt.Sprintf("n%d", i), fmt.Sprintf("127.0.0.1:%d", 2500+i)))
	}
	results := make([]*pgconfig.InitResult, n)
	var wg sync.WaitGroup
	for i, nd := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := nd.store.Init(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			results[i] = res
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	imported := 0
	var winner string
	for i, r := range results {
		if r.Imported {
			imported++
			winner = nodes[i].name
		}
		if r.Version != 1 {
			t.Errorf("node %d runs version %d", i, r.Version)
		}
	}
	if imported != 1 || versions(t, nodes[0].db) != 1 {
		t.Fatalf("%d imports, %d versions; want one", imported, versions(t, nodes[0].db))
	}
	for i, r := range results {
		if _, ok := r.Config.Mailboxes["local-"+winner+"@a.test"]; !ok || len(r.Config.Mailboxes) != 1 {
			t.Errorf("node %d runs mailboxes %v, want the importer's", i, r.Config.MailboxNames())
		}
		if r.Config.SMTP.Listen != fmt.Sprintf("127.0.0.1:%d", 2500+i) {
			t.Errorf("node %d listens on %s", i, r.Config.SMTP.Listen)
		}
		if r.LocalDiffers == r.Imported {
			t.Errorf("node %d: imported %v, local differs %v", i, r.Imported, r.LocalDiffers)
		}
	}
}

// TestLoadBeforeInit: a store nobody initialised says so rather than
// serving an empty config.
func TestLoadBeforeInit(t *testing.T) {
	t.Parallel()
	nd := newNode(t, pgtest.DSN(t), "a", localConfig("a", ":25"))
	if _, err := nd.store.Load(); !errors.Is(err, pgconfig.ErrNotInitialized) {
		t.Fatalf("Load = %v", err)
	}
	if _, err := nd.store.Update(addMailbox("x@a.test")); !errors.Is(err, pgconfig.ErrNotInitialized) {
		t.Fatalf("Update = %v", err)
	}
}

// TestCatchUp: a version the watcher was not told about (a lost
// notification) goes live at the next check, and a broken local
// config.toml holds it back without replacing the running config.
func TestCatchUp(t *testing.T) {
	t.Parallel()
	nodes := startNodes(t, "a", "b")
	a, b := nodes[0], nodes[1]
	if err := b.w.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.store.Update(addMailbox("quiet@a.test")); err != nil { // the store, not the Changer: a is not told either
		t.Fatal(err)
	}
	live := b.ch.Registry.Current()
	if err := writeFile(b.local.Path, "bogus = 1\n"); err != nil {
		t.Fatal(err)
	}
	if err := b.w.Check(context.Background()); err == nil || b.ch.Registry.Current() != live {
		t.Fatalf("broken config.toml: Check = %v, config replaced %v", err, b.ch.Registry.Current() != live)
	}
	if err := b.local.Save(localConfig("b", "127.0.0.1:2025")); err != nil {
		t.Fatal(err)
	}
	if err := b.w.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !hasMailbox(b, "quiet@a.test") {
		t.Fatal("the missed version is not live after a check")
	}
}

// TestReconnectCatchesUp: a version committed while a node's LISTEN
// connection is down (its notification lost) goes live once the watcher
// reconnects, without waiting for the backstop check.
func TestReconnectCatchesUp(t *testing.T) {
	t.Parallel()
	nodes := startNodes(t, "a", "b") // the backstop interval is an hour
	a, b := nodes[0], nodes[1]
	ctx := context.Background()
	var killed int
	if err := a.db.Pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND query LIKE 'LISTEN %'`).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed != 2 {
		t.Fatalf("terminated %d LISTEN connections, want both nodes'", killed)
	}
	eventually(t, time.Second, "the LISTEN connections gone", func() bool {
		var left int
		err := a.db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND query LIKE 'LISTEN %'`).Scan(&left)
		return err == nil && left == 0
	})
	// Committed at once (through a's store: a's Changer would publish it on
	// a): the watchers reconnect after a second at the soonest.
	if _, err := a.store.Update(addMailbox("missed@a.test")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the missed version live on b after the reconnect", func() bool { return hasMailbox(b, "missed@a.test") })
}

// TestOldVersionsPruned: the table keeps the newest KeepVersions versions.
func TestOldVersionsPruned(t *testing.T) {
	t.Parallel()
	a := startNodes(t, "a")[0]
	for i := range pgconfig.KeepVersions + 5 {
		if _, err := a.ch.Update(addMailbox(fmt.Sprintf("m%d@a.test", i))); err != nil {
			t.Fatal(err)
		}
	}
	latest, err := a.store.Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := versions(t, a.db); got != pgconfig.KeepVersions || latest != pgconfig.KeepVersions+6 {
		t.Errorf("%d versions kept, latest %d; want %d, %d", got, latest, pgconfig.KeepVersions, pgconfig.KeepVersions+6)
	}
}
