package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/aimx-dev/aimx/daemon"
	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/domains/tokens"
	"github.com/aimx-dev/aimx/hooks"
	"github.com/aimx-dev/aimx/internal/mailbus"
	"github.com/aimx-dev/aimx/mail/outbound"
	"github.com/aimx-dev/aimx/operations"
	"github.com/aimx-dev/aimx/pgstore"
	"github.com/aimx-dev/aimx/pgstore/pgbus"
	"github.com/aimx-dev/aimx/pgstore/pgconfig"
	"github.com/aimx-dev/aimx/pgstore/pghooks"
	"github.com/aimx-dev/aimx/pgstore/pgmessages"
	"github.com/aimx-dev/aimx/pgstore/pgmetrics"
	"github.com/aimx-dev/aimx/pgstore/pgqueue"
	"github.com/aimx-dev/aimx/pgstore/pgsearch"
	"github.com/aimx-dev/aimx/pgstore/pgtokens"
	"github.com/aimx-dev/aimx/search"
	"github.com/aimx-dev/aimx/storage"
)

// Environment variables that beat `[storage] dsn` and `node`
// (book/scale-out.md), so a DSN's password need not be in config.toml.
const (
	envStorageDSN = "AIMX_STORAGE_DSN"
	envNode       = "AIMX_NODE"
)

// storageEnv layers AIMX_STORAGE_DSN and AIMX_NODE over cfg's [storage]
// section; cfg is returned as it is when neither is set.
func storageEnv(env map[string]string, cfg *domains.Config) *domains.Config {
	dsn, node := env[envStorageDSN], env[envNode]
	if dsn == "" && node == "" {
		return cfg
	}
	cfg = cfg.Clone()
	if dsn != "" {
		cfg.Storage.DSN = dsn
	}
	if node != "" {
		cfg.Storage.Node = node
	}
	return cfg
}

// nodeBeat is the daemon component that keeps this node's row in
// aimx.nodes fresh (book/scale-out.md, "The schema and the nodes"): every claim the node
// holds lives as long as its heartbeat.
type nodeBeat struct {
	a      *app
	db     *pgstore.DB
	owners func() []string

	cancel context.CancelFunc
	done   chan struct{}
}

// Start begins beating.
func (b *nodeBeat) Start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel, b.done = cancel, make(chan struct{})
	go func() {
		defer close(b.done)
		b.db.Beat(ctx, 0, b.owners, func(err error) {
			b.a.log.Error().Err(err).Msg("node heartbeat failed; claims held by this node may be taken over")
		})
	}()
	return nil
}

// Stop ends the heartbeat; the node's claims then die after the lease.
func (b *nodeBeat) Stop(ctx context.Context) error {
	if b.cancel == nil {
		return nil
	}
	b.cancel()
	select {
	case <-b.done:
	case <-ctx.Done():
	}
	return nil
}

// openDB opens the shared database of the postgres backend, brings its
// schema up to date and registers this node.
func (a *app) openDB(ctx context.Context, cfg *domains.Config) (*pgstore.DB, error) {
	db, err := pgstore.Open(ctx, cfg.Storage.DSN, pgstore.Options{Node: cfg.Storage.Node})
	if err != nil {
		return nil, err
	}
	if err := db.Register(ctx, nil); err != nil {
		db.Close()
		return nil, err
	}
	a.log.Info().Str("node", db.Node).Msg("postgres backend: schema current, node registered")
	return db, nil
}

// backend is where a run keeps its mail and shared state: files under
// data_dir (files is set), or the postgres database (db is set).
type backend struct {
	files *storage.Store
	db    *pgstore.DB
	store storage.MessageStore
	// closers run at close, before the database is closed.
	closers []func() error
}

// openBackend opens the configured backend before any listener binds: the
// file store (repaired after a crash), or the database.
func (a *app) openBackend(ctx context.Context, cfg *domains.Config, paths domains.Paths) (*backend, error) {
	if !cfg.Storage.IsPostgres() {
		store, err := storage.Open(paths.DataDir, a.storeOptions(cfg))
		if err != nil {
			return nil, fmt.Errorf("open data dir: %w", err)
		}
		if err := a.repairStorage(ctx, cfg, store); err != nil {
			return nil, err
		}
		return &backend{files: store, store: store}, nil
	}
	db, err := a.openDB(ctx, cfg)
	if err != nil {
		return nil, err
	}
	store := pgmessages.New(db, pgmessages.Options{MaxFileBytes: cfg.SMTP.MaxMessageBytes + storage.FileHeadroom})
	return &backend{db: db, store: store}, nil
}

// close releases what the backend holds: the queue's dir, the database.
func (b *backend) close() {
	for _, c := range b.closers {
		_ = c() // at exit: nothing is left to tell
	}
	if b.db != nil {
		b.db.Close()
	}
}

// sharedRecoverInterval is how often a node looks for work a dead node
// left in the shared queue (book/scale-out.md, "Sending across nodes").
const sharedRecoverInterval = 10 * time.Second

// recoverInterval is the outbound Worker's RecoverInterval: none on one
// host, where only a restart leaves rounds unacknowledged.
func (b *backend) recoverInterval() time.Duration {
	if b.db != nil {
		return sharedRecoverInterval
	}
	return 0
}

// sendWorker is the delivery loop as a daemon component; with the shared
// queue its Stop also gives up this node's claims, so another node takes
// the items at once rather than after the lease.
func (b *backend) sendWorker(a *app, w *outbound.Worker, q outbound.Queue) daemon.Component {
	pq, ok := q.(*pgqueue.Queue)
	if !ok {
		return w
	}
	return releasingWorker{a: a, Worker: w, q: pq}
}

type releasingWorker struct {
	a *app
	*outbound.Worker
	q *pgqueue.Queue
}

func (r releasingWorker) Stop(ctx context.Context) error {
	err := r.Worker.Stop(ctx)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if rerr := r.q.ReleaseClaims(rctx); rerr != nil {
		r.a.log.Warn().Err(rerr).Msg("outbound claims not released; other nodes take them after the lease")
	}
	return err
}

// sharedConfigParts is the config of the postgres backend: the database's
// shared document merged with this host's config.toml.
type sharedConfigParts struct {
	store *pgconfig.Store
	cfg   *domains.Config
}

// sharedConfig imports this node's config.toml into an empty database
// (the first node to start) or loads the database's, writes the shared
// DKIM keys into the local key store, and returns the merged config with
// prepare applied; nil with the files backend.
func (a *app) sharedConfig(b *backend, paths domains.Paths, prepare func(*domains.Config) *domains.Config) (*sharedConfigParts, error) {
	if b.db == nil {
		return nil, nil
	}
	cs := pgconfig.NewStore(b.db, &domains.Store{Path: paths.ConfigFile()}, dkimkey.NewStore(paths.ConfigDir))
	res, err := cs.Init(a.ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres backend: shared config: %w", err)
	}
	ev := a.log.Info().Int64("version", res.Version)
	if res.Imported {
		ev.Msg("shared config imported from this node's config.toml (the first node)")
	} else {
		ev.Msg("shared config loaded from the database")
	}
	if res.LocalDiffers {
		a.log.Warn().Msg("this node's config.toml has shared settings (domains, mailboxes, hooks, ...) that differ from the database's; " +
			"the database's apply: change them through admin.sock (book/scale-out.md)")
	}
	for _, d := range res.KeysGenerated {
		a.log.Warn().Str("domain", d).Msg("generated a DKIM key for the domain; publish its record (aimx dkim-keygen --domain " + d + " prints it)")
	}
	for _, d := range res.Keys.Conflicts {
		a.log.Warn().Str("domain", d).Msg("this node's DKIM key file differs from the database's; the database's key signs")
	}
	if res.KeysErr != nil {
		a.log.Error().Err(res.KeysErr).Msg("DKIM keys from the database not all written to this node")
	}
	return &sharedConfigParts{store: cs, cfg: prepare(res.Config)}, nil
}

// hookState is the durable hook state of a shared backend (the database's,
// whose claims make a hook fire once across nodes); nil on one host, where
// the scheduler keeps its files in <data>/.spool/hooks.
func (b *backend) hookState() hooks.StateStore {
	if b.db == nil {
		return nil
	}
	return pghooks.New(b.db, pghooks.Options{})
}

// searchIndex opens the shared full-text index in the database; nil on
// one host (SQLite under the data dir).
func (b *backend) searchIndex() func(ctx context.Context, reset bool) (search.Index, error) {
	if b.db == nil {
		return nil
	}
	return pgsearch.Open(b.db, pgsearch.Options{})
}

// mailBridge publishes the mail other nodes store into this node's
// new-mail broadcast, so email_wait and the resource subscriptions hear
// of it (book/scale-out.md); nothing on one host.
func (b *backend) mailBridge(d *daemon.Daemon, a *app, bus *mailbus.Bus, store storage.MessageStore, registry *domains.Registry) {
	if b.db == nil {
		return
	}
	d.AddComponent("mail-bridge", &pgbus.Bridge{DB: b.db, Bus: bus, Store: store, Log: a.log,
		Mailboxes: func() []string { return registry.Current().MailboxNames() }})
}

// sharedReadOnly is what a read-only command reads with the postgres
// backend, where this host's files are not the truth: the shared config
// merged with this host's config.toml, and the counts from the database.
// It migrates nothing; done closes the database.
func (a *app) sharedReadOnly(cfg *domains.Config, paths domains.Paths) (_ *domains.Config, _ operations.Counter, done func(), _ error) {
	st := storageEnv(a.env, cfg).Storage
	db, err := pgstore.Open(a.ctx, st.DSN, pgstore.Options{Node: st.Node, SkipMigrate: true, MaxConns: 2})
	if err != nil {
		return nil, nil, nil, err
	}
	shared, err := pgconfig.NewStore(db, &domains.Store{Path: paths.ConfigFile()}, nil).Load()
	if err != nil {
		db.Close()
		return nil, nil, nil, fmt.Errorf("postgres backend: shared config: %w", err)
	}
	return shared, pgmessages.New(db, pgmessages.Options{}), db.Close, nil
}

// shareKeys stores a domain's keys, just written to this host's key store,
// in the shared database, replacing the ones there: every node's config
// watcher then signs with them.
func (a *app) shareKeys(cfg *domains.Config, keys *dkimkey.Store, domain string) error {
	set, err := keys.LoadSet(domain)
	if err != nil {
		return err
	}
	st := storageEnv(a.env, cfg).Storage
	db, err := pgstore.Open(a.ctx, st.DSN, pgstore.Options{Node: st.Node, SkipMigrate: true, MaxConns: 1})
	if err != nil {
		return err
	}
	defer db.Close()
	return pgconfig.PutKeys(a.ctx, db, set)
}

// sharedMetrics adds the database pool and shared queue figures to
// /metrics (book/operations.md, "Metrics"); nothing without metrics or a
// database.
func (b *backend) sharedMetrics(sm *serveMetrics) {
	if sm != nil && b.db != nil {
		pgmetrics.Register(sm.m, b.db)
	}
}

// tokens returns the MCP bearer token store: tokens.json in the config
// dir, or the database's, shared by every node (book/tokens.md).
func (b *backend) tokens(paths domains.Paths) tokens.Backend {
	if b.db != nil {
		return pgtokens.New(b.db, pgtokens.Options{})
	}
	return tokenStore(paths)
}

// sendState returns the outbound queue and the idempotency keys of sends
// (book/sending.md): files under <data>/.spool, or tables in the database.
func (b *backend) sendState(cfg *domains.Config, paths domains.Paths) (outbound.Queue, operations.Idempotency, error) {
	maxMsg := cfg.SMTP.MaxMessageBytes + storage.FileHeadroom
	if b.db != nil {
		q, err := pgqueue.NewQueue(b.db, pgqueue.QueueOptions{MaxMessageBytes: maxMsg})
		if err != nil {
			return nil, nil, err
		}
		return q, pgqueue.NewIdempotency(b.db), nil
	}
	q, err := outbound.OpenFileQueue(filepath.Join(paths.DataDir, ".spool", "outbound"), outbound.FileQueueOptions{MaxMessageBytes: maxMsg})
	if err != nil {
		return nil, nil, fmt.Errorf("outbound queue: %w", err)
	}
	b.closers = append(b.closers, q.Close)
	idem, err := operations.OpenFileIdempotency(filepath.Join(paths.DataDir, ".spool", "idempotency"))
	if err != nil {
		return nil, nil, err
	}
	return q, idem, nil
}
