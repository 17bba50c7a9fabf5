package pgconfig_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/internal/pgtest"
	"github.com/aimx-dev/aimx/pgstore"
	"github.com/aimx-dev/aimx/pgstore/pgconfig"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var testOpts = domains.LoadOptions{LookupOwner: func(n string) (domains.Owner, error) { return domains.Owner{Name: n}, nil }}

// node is one aimx serve's config wiring over the shared database, as
// serve builds it: its own config.toml and key dir, a Changer whose
// Backend is the shared store, a keyring and a Watcher.
type node struct {
	name      string
	db        *pgstore.DB
	local     *domains.Store
	keys      *dkimkey.Store
	store     *pgconfig.Store
	ch        *domains.Changer
	ring      *dkimkey.Keyring
	w         *pgconfig.Watcher
	init      *pgconfig.InitResult
	published atomic.Int32

	mu      sync.Mutex
	noKeyed map[string]bool // domains published while the ring had no key for them
}

// keyless reports whether a config naming d was published while the
// node's keyring had no key for d.
func (n *node) keyless(d string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.noKeyed[d]
}

// localConfig is a node's config.toml: the domain a.test, one mailbox
// named after the node, and per-host settings of its own.
func localConfig(name, listen string) *domains.Config {
	c := domains.Default("a.test")
	c.Mailboxes["local-"+name+"@a.test"] = domains.Mailbox{Name: "local-" + name + "@a.test", Owner: "u"}
	c.SMTP.Listen = listen
	c.SMTP.Hostname = name + ".a.test"
	c.Hooks.Workers = 7
	c.Storage.Backend, c.Storage.DSN, c.Storage.Node = domains.BackendPostgres, "postgres://"+name+"/aimx", name
	return c
}

// newNode writes the node's config.toml and opens the database, without
// Init.
func newNode(t *testing.T, dsn, name string, local *domains.Config) *node {
	t.Helper()
	dir := t.TempDir()
	n := &node{name: name, local: &domains.Store{Path: filepath.Join(dir, "config.toml"), Options: testOpts},
		keys: dkimkey.NewStore(dir)}
	if err := n.local.Save(local); err != nil {
		t.Fatal(err)
	}
	db, err := pgstore.Open(context.Background(), dsn, pgstore.Options{Node: name, MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	n.db = db
	n.store = pgconfig.NewStore(db, n.local, n.keys)
	return n
}

// start runs Init and starts the node's watcher, as serve would.
func (n *node) start(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	res, err := n.store.Init(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.KeysErr != nil {
		t.Fatal(res.KeysErr)
	}
	n.init = res
	ring, _, err := dkimkey.LoadKeyring(n.keys, res.Config.Domains)
	if err != nil {
		t.Fatal(err)
	}
	n.ring = ring
	n.ch = &domains.Changer{Store: n.local, Backend: n.store, Registry: domains.NewRegistry(res.Config),
		OnPublish: func(c *domains.Config) {
			n.published.Add(1)
			n.mu.Lock()
			defer n.mu.Unlock()
			for _, d := range c.Domains {
				if _, err := ring.KeySet(d); err != nil {
					if n.noKeyed == nil {
						n.noKeyed = map[string]bool{}
					}
					n.noKeyed[d] = true
				}
			}
		}}
	n.w = &pgconfig.Watcher{DB: n.db, Store: n.store, Changer: n.ch, Keys: n.keys, Ring: n.ring,
		Interval: time.Hour, Log: zerolog.Nop()}
	if err := n.w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := n.w.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
}

// startNodes starts named nodes, one after the other, over one fresh
// database; the first imports its config.toml.
func startNodes(t *testing.T, names ...string) []*node {
	t.Helper()
	dsn := pgtest.DSN(t)
	out := make([]*node, len(names))
	for i, name := range names {
		out[i] = newNode(t, dsn, name, localConfig(name, "127.0.0.1:"+string(rune('1'+i))+"025"))
		out[i].start(t)
	}
	return out
}

// eventually polls cond until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func addMailbox(name string) func(*domains.Config) error {
	return func(c *domains.Config) error {
		c.Mailboxes[name] = domains.Mailbox{Name: name, Owner: "u"}
		return nil
	}
}

func hasMailbox(n *node, name string) bool {
	_, ok := n.ch.Registry.Current().Mailboxes[name]
	return ok
}

func versions(t *testing.T, db *pgstore.DB) int {
	t.Helper()
	var c int
	if err := db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM aimx.config").Scan(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func writeFile(path, data string) error { return os.WriteFile(path, []byte(data), 0o640) }
