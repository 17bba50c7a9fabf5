package domains

import (
	"fmt"
	"sync"
)

// Updater applies a change to config.toml durably and returns the config
// it wrote. *Store does only that (the CLI with no daemon running);
// *Changer also publishes the result in the running daemon.
type Updater interface {
	Update(fn func(*Config) error) (*Config, error)
}

// ConfigStore is where a Changer's configuration lives: config.toml
// (*Store) on one host, or a store shared by several nodes
// (book/scale-out.md, "Configuration across nodes"). Update is atomic: fn
// sees the current config and either its result is stored whole or nothing
// is. Load returns the current config without changing it.
type ConfigStore interface {
	Updater
	Load() (*Config, error)
}

var (
	_ Updater     = (*Store)(nil)
	_ Updater     = (*Changer)(nil)
	_ ConfigStore = (*Store)(nil)
)

// Load reads and validates the config file (Load with the Store's Path and
// Options).
func (s *Store) Load() (*Config, error) { return Load(s.Path, s.Options) }

// Changer is the one way a running daemon changes its configuration
// (book/admin.md): a mailbox, hook or domain operation, or a SIGHUP reload. Each
// change is a locked, durable rewrite of config.toml (or a fresh load)
// followed by publishing the result in the Registry, and changes run one at
// a time, so the live config never goes back to an older one.
type Changer struct {
	// Store rewrites and loads config.toml.
	Store *Store
	// Backend, when set, is where the config lives instead of Store (the
	// postgres backend's shared config, book/scale-out.md); Store then
	// only names the host's own file.
	Backend ConfigStore
	// Registry is where the result goes live.
	Registry *Registry
	// Prepare derives the config to publish from the file's (a dev daemon
	// layers its run-time overrides here); nil publishes it as it is.
	Prepare func(*Config) *Config
	// OnPublish, when set, is told about every config published.
	OnPublish func(*Config)
	// Locks are the per-mailbox locks, taken before the config lock by
	// operations that remove mailboxes (book/admin.md) and shared by intake.
	Locks MailboxLocks

	mu sync.Mutex
}

// Update applies fn to the config through Store.Update and publishes the
// result. An error from fn, or a config that fails validation, changes
// nothing.
func (c *Changer) Update(fn func(*Config) error) (*Config, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg, err := c.store().Update(fn)
	if err != nil {
		return nil, err
	}
	return c.publish(cfg), nil
}

// Reload reads the config again (config.toml, or the Backend's current
// version) and publishes it. A config that does not load leaves the running
// config in place and returns the error.
func (c *Changer) Reload() (*Config, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.Backend == nil {
		cfg, err := Load(c.Store.Path, c.Store.Options)
		if err != nil {
			return nil, fmt.Errorf("reload %s: %w", c.Store.Path, err)
		}
		return c.publish(cfg), nil
	}
	cfg, err := c.Backend.Load()
	if err != nil {
		return nil, fmt.Errorf("reload config: %w", err)
	}
	return c.publish(cfg), nil
}

// store is where changes go: Backend when set, else Store.
func (c *Changer) store() Updater {
	if c.Backend != nil {
		return c.Backend
	}
	return c.Store
}

func (c *Changer) publish(cfg *Config) *Config {
	if c.Prepare != nil {
		cfg = c.Prepare(cfg)
	}
	c.Registry.Swap(cfg)
	if c.OnPublish != nil {
		c.OnPublish(cfg)
	}
	return cfg
}
