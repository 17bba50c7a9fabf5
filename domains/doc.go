// Package domains is the aimx configuration model: the mail domains the
// server answers for, their per-domain overrides, the mailboxes with their
// owners and hooks, and the server-wide settings of config.toml (book/configuration.md).
//
// It loads config.toml strictly (an unknown key is an error naming file and
// line, except the Rust aimx keys of book/upgrade.md, which load with a warning),
// validates every rule of book/configuration.md, book/hooks.md, resolves layered settings with
// replace semantics, rewrites the file durably under a lock, and holds the
// live configuration of a running daemon in a Registry that is swapped
// atomically.
//
// A *Config that has been published (returned by Load, Update, or handed to
// Registry.Swap) is immutable: readers share it without locks, so nobody
// may modify it. To change the configuration, use Update, which loads a
// private copy, applies the change and returns a new *Config.
package domains
