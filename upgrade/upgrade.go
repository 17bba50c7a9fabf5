// Package upgrade migrates a single-domain install, as earlier versions
// and the Rust aimx wrote it, to the multi-domain layout, once, when
// `aimx serve` starts and before any listener binds (book/upgrade.md):
//
//  1. `<data>/inbox` and `<data>/sent` move under `<data>/<default domain>/`;
//  2. `<config>/dkim/{private,public}.key` move under `<config>/dkim/<default domain>/`;
//  3. config.toml is rewritten with `domains = [...]` and FQDN mailbox keys;
//  4. `<data>/.layout-version` is written, last.
//
// Everything moves with rename(2), never by copying. Each step is
// idempotent and a half-done migration resumes where it stopped. Paths
// are reached through internal/safefs, following no symlink
// (book/security.md).
package upgrade

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/safefs"
	"github.com/aimx-dev/aimx/storage"
)

// Step names one step of the migration, in the order they run.
type Step int

// The steps of the migration (book/upgrade.md).
const (
	StepStorage Step = iota + 1 // mail trees moved under <data>/<domain>/
	StepDKIM                    // DKIM keys moved under dkim/<domain>/
	StepConfig                  // config.toml rewritten
	StepMarker                  // layout marker written
)

// String names the step for logs and test failures.
func (s Step) String() string {
	switch s {
	case StepStorage:
		return "storage"
	case StepDKIM:
		return "dkim"
	case StepConfig:
		return "config"
	case StepMarker:
		return "marker"
	}
	return fmt.Sprintf("step-%d", int(s))
}

// Options say what to migrate.
type Options struct {
	// Paths are the install's config dir (config.toml and dkim/) and data
	// dir, resolved as every command resolves them.
	Paths domains.Paths
	// Log receives the one line that says what moved.
	Log zerolog.Logger
	// DevSeeded is what dev mode seeded at this start (daemon.DevDir's
	// Seeded, such as "dkim/a.com"). Dev mode seeds a DKIM key for every
	// configured domain before the migration runs; a key it made at this
	// start is replaced by the install's legacy key rather than reported
	// as a conflict.
	DevSeeded []string

	seams seams
}

// seams are the test hooks; their zero value is production.
type seams struct {
	// after runs after each step; an error stops the run there, as a
	// crash would.
	after func(Step) error
	// rename moves one entry (replace: may replace an existing file).
	rename func(from *safefs.Dir, oldName string, to *safefs.Dir, newName string, replace bool) error
	// writer writes config.toml and the marker.
	writer storage.Writer
}

// Report says what Run did.
type Report struct {
	// Migrated is set when Run changed anything (a resumed run included).
	Migrated bool
	// Domain is the default domain everything moved under.
	Domain string
	// Mailboxes and Messages count the mailbox dirs moved (inbox and
	// sent apiece) and the messages in them.
	Mailboxes, Messages int
	// Folders lists the whole legacy trees moved ("inbox", "sent").
	Folders []string
	// Keys counts the DKIM key files moved.
	Keys int
	// ConfigRewritten is set when config.toml was rewritten.
	ConfigRewritten bool
	// MarkerWritten is set when the layout marker was written.
	MarkerWritten bool
}

// Run migrates the install when it is in the single-domain layout (or a
// migration of it was cut short), and does nothing otherwise: an install
// with the layout marker, or a new one. It must run before the store is
// opened and before any listener binds. A corrupt marker, a legacy tree
// beside the marker, a path present both in its old and its new place, or
// a move across file systems stops it with an error that says what to
// fix; nothing is ever half-copied.
func Run(opts Options) (Report, error) {
	var rep Report
	if opts.seams.rename == nil {
		opts.seams.rename = rename
	}
	cfgFile := opts.Paths.ConfigFile()
	cfg, err := domains.Load(cfgFile, domains.LoadOptions{LookupOwner: noLookup})
	if err != nil {
		return rep, fmt.Errorf("upgrade: %w", err)
	}
	rep.Domain = cfg.DefaultDomain()
	layout, err := storage.InspectLayout(opts.Paths.DataDir)
	if err != nil {
		return rep, fmt.Errorf("upgrade: %w", err)
	}
	if layout == storage.LayoutCurrent {
		return rep, nil // migrated already, or a multi-domain install
	}
	keysLeft, err := legacyKeys(opts.Paths.ConfigDir)
	if err != nil {
		return rep, err
	}
	legacyCfg := cfg.Source != nil && (cfg.Source.LegacyDomain || cfg.Source.LegacyMailboxKeys)
	resumed := false
	if layout == storage.LayoutNew {
		// A domain dir with no marker is only ever left by a migration
		// stopped before its last step: a new data dir gets the marker
		// before any mailbox dir.
		if resumed, err = exists(opts.Paths.DataDir, rep.Domain); err != nil {
			return rep, err
		}
	}
	if layout != storage.LayoutLegacy && !keysLeft && !legacyCfg && !resumed {
		return rep, nil // a new install: the store writes the marker
	}
	if err := migrate(&opts, cfgFile, layout, &rep); err != nil {
		return rep, err
	}
	logReport(opts, rep)
	return rep, nil
}

// migrate runs the four steps in order. The moves of steps 1 and 2 are
// planned first: a conflict or a cross-device move found in either stops
// the run before anything moves.
func migrate(opts *Options, cfgFile string, layout storage.Layout, rep *Report) error {
	sm := &opts.seams
	fresh := devSeededKey(opts.DevSeeded, rep.Domain)
	if err := preflight(opts.Paths, rep.Domain, layout, fresh); err != nil {
		return err
	}
	if layout == storage.LayoutLegacy {
		if err := moveStorage(opts.Paths.DataDir, rep, sm, opts.Log); err != nil {
			return err
		}
	}
	if err := sm.step(StepStorage); err != nil {
		return err
	}
	if err := moveKeys(opts.Paths.ConfigDir, rep, fresh, sm); err != nil {
		return err
	}
	if err := sm.step(StepDKIM); err != nil {
		return err
	}
	if err := rewriteConfig(cfgFile, rep, sm); err != nil {
		return err
	}
	if err := sm.step(StepConfig); err != nil {
		return err
	}
	root, err := safefs.MkdirAll(opts.Paths.DataDir, 0o755)
	if err != nil {
		return fmt.Errorf("upgrade: open data dir: %w", err)
	}
	defer root.Close()
	if err := storage.WriteLayoutMarker(root, &sm.writer); err != nil {
		return fmt.Errorf("upgrade: %w", err)
	}
	rep.MarkerWritten = true
	rep.Migrated = true
	return sm.step(StepMarker)
}

// preflight plans the storage and key moves without making any.
func preflight(p domains.Paths, domain string, layout storage.Layout, fresh bool) error {
	if layout == storage.LayoutLegacy {
		root, err := safefs.OpenDir(p.DataDir)
		if err != nil {
			return fmt.Errorf("upgrade: open data dir: %w", err)
		}
		_, err = planStorage(root, domain)
		root.Close()
		if err != nil {
			return err
		}
	}
	top, err := safefs.OpenDir(filepath.Join(p.ConfigDir, "dkim"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("upgrade: open DKIM key dir: %w", err)
	}
	defer top.Close()
	_, err = planKeys(top, domain, fresh)
	return err
}

func (sm *seams) step(s Step) error {
	if sm.after == nil {
		return nil
	}
	if err := sm.after(s); err != nil {
		return fmt.Errorf("upgrade: stopped after step %s: %w", s, err)
	}
	return nil
}

// rewriteConfig rewrites config.toml through the config store: under its
// lock, durably, keeping the file's mode and owner (book/configuration.md).
// Loading folds the legacy forms into the current ones, and the encoder
// writes `domains`, FQDN mailbox keys (the `catchall` key as `*@domain`)
// and none of the Rust keys, which the loader already warned about.
// Rewriting a current file changes nothing.
func rewriteConfig(path string, rep *Report, sm *seams) error {
	before, err := safefs.ReadPath(path, domains.MaxConfigBytes)
	if err != nil {
		return fmt.Errorf("upgrade: read config: %w", err)
	}
	st := &domains.Store{Path: path, Writer: sm.writer, Options: domains.LoadOptions{LookupOwner: noLookup}}
	if _, err := st.Update(func(*domains.Config) error { return nil }); err != nil {
		return fmt.Errorf("upgrade: rewrite config: %w", err)
	}
	after, err := safefs.ReadPath(path, domains.MaxConfigBytes)
	if err != nil {
		return fmt.Errorf("upgrade: read config: %w", err)
	}
	if !bytes.Equal(before, after) {
		rep.ConfigRewritten, rep.Migrated = true, true
	}
	return nil
}

// noLookup skips owner lookups: the migration only rewrites the file, and
// the daemon's own load reports owners that do not resolve.
func noLookup(name string) (domains.Owner, error) { return domains.Owner{Name: name}, nil }

// exists reports whether name exists in dir (not following it).
func exists(dir, name string) (bool, error) {
	d, err := safefs.OpenDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("upgrade: %w", err)
	}
	defer d.Close()
	if _, err := d.Lstat(name); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("upgrade: %w", err)
	}
	return true, nil
}

// devSeededKey reports whether dev mode seeded the domain's key at this
// start (daemon.DevDir's Seeded names it "dkim/<domain>").
func devSeededKey(seeded []string, domain string) bool {
	return slices.Contains(seeded, "dkim/"+domain)
}

// logReport writes the one line that says what moved.
func logReport(opts Options, rep Report) {
	if !rep.Migrated {
		return
	}
	dataTo := filepath.Join(opts.Paths.DataDir, rep.Domain)
	keysTo := filepath.Join(opts.Paths.ConfigDir, "dkim", rep.Domain)
	opts.Log.Info().Str("domain", rep.Domain).
		Str("data_from", filepath.Join(opts.Paths.DataDir, "{inbox,sent}")).Str("data_to", dataTo).
		Str("folders", strings.Join(rep.Folders, ",")).Int("mailbox_dirs", rep.Mailboxes).Int("messages", rep.Messages).
		Str("dkim_from", filepath.Join(opts.Paths.ConfigDir, "dkim")).Str("dkim_to", keysTo).Int("dkim_files", rep.Keys).
		Str("config", opts.Paths.ConfigFile()).Bool("config_rewritten", rep.ConfigRewritten).
		Bool("marker_written", rep.MarkerWritten).
		Msg("upgrade: single-domain install migrated to the multi-domain layout (book/upgrade.md)")
}
