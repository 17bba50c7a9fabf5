// Package pgconfig is the configuration of the postgres backend
// (book/scale-out.md, "Configuration across nodes"): the shared part of
// config.toml lives in PostgreSQL as one versioned document, every node
// merges its own per-host settings over it, a change made through any node
// is live on every node within a second (LISTEN/NOTIFY, Watcher), and the
// domains' DKIM keys live beside it so every node signs with the same key.
package pgconfig

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/pgstore"
)

// Channel is the NOTIFY channel a new config version (or a new DKIM key)
// is announced on; the payload is the current version.
const Channel = "aimx_config"

// KeepVersions is how many versions of the config the table keeps; older
// ones are deleted by the change that makes them older.
const KeepVersions = 100

// DefaultTimeout bounds one Update or Load.
const DefaultTimeout = 30 * time.Second

// ErrNotInitialized is the error of a Load or Update before any node ran
// Init on the database.
var ErrNotInitialized = errors.New("the shared config is empty (Init imports a node's config.toml)")

// Store is the shared configuration: a domains.ConfigStore for a
// domains.Changer's Backend. Update is one transaction under a table lock,
// so changes from every node apply one at a time and none is lost; refusals
// and cascades are the operations' own, run inside it. Load and Update
// return the shared config merged with this host's settings (Merge), read
// from its config.toml each time, so a broken config.toml fails them as it
// fails a reload on one host.
type Store struct {
	db    *pgstore.DB
	local *domains.Store
	keys  *dkimkey.Store
	// version is the highest version Load, Update or Init returned: what
	// the Changer last published.
	version atomic.Int64
	// Timeout bounds each Update and Load; 0 means DefaultTimeout. Set it
	// before first use.
	Timeout time.Duration
}

var _ domains.ConfigStore = (*Store)(nil)

// NewStore returns the shared config of db for the node whose config.toml
// local names (its Options are used for every parse: the owner lookups
// are this host's). keys is this node's DKIM key store: a change that adds
// a domain publishes the domain's key from it (generating one when it has
// none) in the same transaction; nil leaves the keys alone.
func NewStore(db *pgstore.DB, local *domains.Store, keys *dkimkey.Store) *Store {
	return &Store{db: db, local: local, keys: keys}
}

// InitResult is what Init found and did.
type InitResult struct {
	// Config is the shared config merged with this host's settings.
	Config *domains.Config
	// Version is its version.
	Version int64
	// Imported is set when the table was empty and this node's config.toml
	// became version 1.
	Imported bool
	// LocalDiffers is set when this node's config.toml has shared settings
	// (domains, mailboxes, ...) that differ from the database's, which
	// win: the file's shared part is only read by the first import.
	LocalDiffers bool
	// KeysGenerated are the domains that had a DKIM key neither in the
	// database nor on this node: Init generated one (their DNS record is
	// still to publish).
	KeysGenerated []string
	// Keys is the DKIM key sync into the local key store, and KeysErr what
	// failed in it (a key row or file that does not load): the node still
	// starts, and keeps trying at each Watcher check.
	Keys    SyncResult
	KeysErr error
}

// Init prepares the store at a node's start. On an empty table it imports
// the shared part of this node's config.toml as version 1; two nodes
// starting at once import once (the table lock). Every domain the database
// has no DKIM key for gets this node's key, or a new one when it has none;
// then the database's keys this node's key store lacks are written to it.
func (s *Store) Init(ctx context.Context) (*InitResult, error) {
	local, err := s.local.Load()
	if err != nil {
		return nil, fmt.Errorf("shared config: this host's %w", err)
	}
	res := &InitResult{}
	var shared *domains.Config
	err = pgx.BeginFunc(ctx, s.db.Pool, func(tx pgx.Tx) error {
		if err := lockConfig(ctx, tx); err != nil {
			return err
		}
		cur, data, err := current(ctx, tx)
		if err != nil {
			return err
		}
		if cur == 0 {
			want := Shared(local)
			enc, back, err := s.encode(want, 1)
			if err != nil {
				return err
			}
			if err := s.insert(ctx, tx, 1, enc); err != nil {
				return err
			}
			res.Imported, shared, cur = true, back, 1
		} else if shared, err = s.parse(data, cur); err != nil {
			return err
		}
		res.Version = cur
		res.KeysGenerated, err = s.publishKeys(ctx, tx, shared.Domains)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("shared config: init: %w", err)
	}
	s.seen(res.Version)
	res.Config = Merge(shared, local)
	res.LocalDiffers = !res.Imported && !domains.Equal(Shared(local), shared)
	if s.keys != nil {
		res.Keys, res.KeysErr = SyncKeys(ctx, s.db, s.keys, nil)
	}
	return res, nil
}

// Load returns the current shared config merged with this host's settings.
func (s *Store) Load() (*domains.Config, error) {
	ctx, cancel := s.context()
	defer cancel()
	local, err := s.local.Load()
	if err != nil {
		return nil, fmt.Errorf("shared config: this host's %w", err)
	}
	cur, data, err := current(ctx, s.db.Pool)
	if err != nil {
		return nil, fmt.Errorf("shared config: %w", err)
	}
	if cur == 0 {
		return nil, fmt.Errorf("shared config: %w", ErrNotInitialized)
	}
	shared, err := s.parse(data, cur)
	if err != nil {
		return nil, fmt.Errorf("shared config: %w", err)
	}
	s.seen(cur)
	return Merge(shared, local), nil
}

// Update applies fn to the current config (merged with this host's
// settings) in one transaction: lock, load, fn, validate, store the shared
// part as the next version, store the DKIM keys of domains it adds (this
// node's, generated when it has none), NOTIFY, commit. An error from fn,
// or a config that fails validation, changes nothing; a change that leaves
// the shared part as it was stores no new version, and what fn changes in
// the per-host settings is not kept (they are config.toml's). It returns
// the merged config, ready to publish.
func (s *Store) Update(fn func(*domains.Config) error) (*domains.Config, error) {
	ctx, cancel := s.context()
	defer cancel()
	local, err := s.local.Load()
	if err != nil {
		return nil, fmt.Errorf("update shared config: this host's %w", err)
	}
	var out *domains.Config
	var ver int64
	err = pgx.BeginFunc(ctx, s.db.Pool, func(tx pgx.Tx) error {
		if err := lockConfig(ctx, tx); err != nil {
			return err
		}
		cur, data, err := current(ctx, tx)
		if err != nil {
			return err
		}
		if cur == 0 {
			return ErrNotInitialized
		}
		old, err := s.parse(data, cur)
		if err != nil {
			return err
		}
		c := Merge(old, local)
		if err := fn(c); err != nil {
			return err
		}
		if err := c.Validate(); err != nil {
			return err
		}
		shared := Shared(c)
		ver, out = cur, Merge(old, local)
		if enc := shared.Encode(); string(enc) == data {
			return nil
		}
		enc, back, err := s.encode(shared, cur+1)
		if err != nil {
			return err
		}
		if _, err := s.publishKeys(ctx, tx, back.Domains); err != nil {
			return err
		}
		if err := s.insert(ctx, tx, cur+1, enc); err != nil {
			return err
		}
		ver, out = cur+1, Merge(back, local)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("update shared config: %w", err)
	}
	s.seen(ver)
	return out, nil
}

// Version is the highest version this store has returned (0 before any).
func (s *Store) Version() int64 { return s.version.Load() }

// Latest is the current version in the database (0 when empty).
func (s *Store) Latest(ctx context.Context) (int64, error) {
	var v int64
	if err := s.db.Pool.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM aimx.config").Scan(&v); err != nil {
		return 0, fmt.Errorf("shared config: latest version: %w", err)
	}
	return v, nil
}

// seen raises Version to v.
func (s *Store) seen(v int64) {
	for {
		old := s.version.Load()
		if v <= old || s.version.CompareAndSwap(old, v) {
			return
		}
	}
}

func (s *Store) context() (context.Context, context.CancelFunc) {
	t := s.Timeout
	if t <= 0 {
		t = DefaultTimeout
	}
	return context.WithTimeout(context.Background(), t)
}

// lockConfig makes this transaction the only writer of aimx.config until it
// ends. A row lock on the newest version would not do: a waiter would wake
// up holding the row it read, not the version its predecessor inserted.
// SHARE ROW EXCLUSIVE conflicts with itself and with INSERT, not with
// plain reads.
func lockConfig(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, "LOCK TABLE aimx.config IN SHARE ROW EXCLUSIVE MODE"); err != nil {
		return fmt.Errorf("lock aimx.config: %w", err)
	}
	return nil
}

// querier is a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// current reads the newest version and its document; version 0 means none.
func current(ctx context.Context, q querier) (int64, string, error) {
	var v int64
	var data string
	err := q.QueryRow(ctx, "SELECT version, toml FROM aimx.config ORDER BY version DESC LIMIT 1").Scan(&v, &data)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("read aimx.config: %w", err)
	}
	return v, data, nil
}

// parse decodes a stored document with the strict loader, naming it by
// version in errors.
func (s *Store) parse(data string, version int64) (*domains.Config, error) {
	if len(data) > domains.MaxConfigBytes {
		return nil, fmt.Errorf("aimx.config version %d: %d bytes, over the %d limit", version, len(data), domains.MaxConfigBytes)
	}
	c, err := domains.Parse([]byte(data), docName(version), s.local.Options)
	if err != nil {
		return nil, fmt.Errorf("aimx.config version %d: %w", version, err)
	}
	return c, nil
}

// encode validates and encodes the shared config and proves the bytes
// load back to the same config, as a file rewrite does.
func (s *Store) encode(shared *domains.Config, version int64) ([]byte, *domains.Config, error) {
	if err := shared.Validate(); err != nil {
		return nil, nil, err
	}
	enc := shared.Encode()
	if len(enc) > domains.MaxConfigBytes {
		return nil, nil, fmt.Errorf("the config is %d bytes, over the %d limit", len(enc), domains.MaxConfigBytes)
	}
	back, err := domains.Parse(enc, docName(version), s.local.Options)
	if err != nil || !domains.Equal(back, shared) {
		return nil, nil, fmt.Errorf("encoded config does not load back the same (a bug): %v", err)
	}
	return enc, back, nil
}

// insert stores version v, drops versions older than KeepVersions, and
// announces v on commit.
func (s *Store) insert(ctx context.Context, tx pgx.Tx, v int64, enc []byte) error {
	if _, err := tx.Exec(ctx, "INSERT INTO aimx.config (version, toml, updated_by) VALUES ($1, $2, $3)", v, string(enc), s.db.Node); err != nil {
		return fmt.Errorf("store config version %d: %w", v, err)
	}
	if _, err := tx.Exec(ctx, "DELETE FROM aimx.config WHERE version <= $1", v-KeepVersions); err != nil {
		return fmt.Errorf("prune old config versions: %w", err)
	}
	return pgstore.NotifyTx(ctx, tx, Channel, fmt.Sprint(v))
}

func docName(version int64) string { return fmt.Sprintf("aimx.config@%d", version) }
