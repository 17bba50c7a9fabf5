package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/aimx-dev/aimx/daemon"
	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/safefs"
	"github.com/aimx-dev/aimx/pgstore"
	"github.com/aimx-dev/aimx/pgstore/pgmessages"
	"github.com/aimx-dev/aimx/storage"
	"github.com/aimx-dev/aimx/storemove"
)

// storageFlags are the flags of `aimx storage export|import`.
type storageFlags struct {
	dsn        string
	verifyOnly bool
}

// openMessagesFunc opens the message store of the postgres database at
// dsn; the caller calls done when finished with it.
type openMessagesFunc func(ctx context.Context, cfg *domains.Config, dsn string) (store storage.MessageStore, done func(), err error)

// storageCommand is `aimx storage export|import`: moving an install's mail
// between the files under data_dir and the postgres backend
// (book/scale-out.md, "Moving between backends").
func (a *app) storageCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "storage",
		Short: "Copy the mail between data_dir and the postgres backend",
		Long: "Copy every configured mailbox's mail between the files under data_dir and a PostgreSQL database\n" +
			"(the postgres backend, book/scale-out.md): export copies the files into the database, import copies\n" +
			"the database into data_dir. Ids, folders, read state, labels, delivery state, raw messages and\n" +
			"attachments are kept. A copy that stops is resumed by running it again: what the target holds is\n" +
			"skipped. Both end with a verification (message counts and digests per mailbox and folder) and\n" +
			"exit 1 when it finds a difference. Run with the daemon stopped, on every node.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var expFlags, impFlags storageFlags
	export := &cobra.Command{
		Use:   "export",
		Short: "Copy the mail under data_dir into a PostgreSQL database",
		Long: "Copy the mail of every mailbox in config.toml from data_dir into the database at --to (its schema\n" +
			"is created or brought up to date first), then verify the copy. Progress goes to stderr, the\n" +
			"summary to stdout. --verify-only compares without copying.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.storageMove(cmd.Context(), true, expFlags, openPGMessages)
		},
	}
	export.Flags().StringVar(&expFlags.dsn, "to", "", "the database to copy into (default: [storage] dsn or AIMX_STORAGE_DSN)")
	export.Flags().BoolVar(&expFlags.verifyOnly, "verify-only", false, "compare the two sides without copying anything")
	imp := &cobra.Command{
		Use:   "import",
		Short: "Copy the mail of a PostgreSQL database into data_dir",
		Long: "Copy the mail of every mailbox in config.toml from the database at --from into data_dir, then\n" +
			"verify the copy. Progress goes to stderr, the summary to stdout. --verify-only compares without\n" +
			"copying.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.storageMove(cmd.Context(), false, impFlags, openPGMessages)
		},
	}
	imp.Flags().StringVar(&impFlags.dsn, "from", "", "the database to copy from (default: [storage] dsn or AIMX_STORAGE_DSN)")
	imp.Flags().BoolVar(&impFlags.verifyOnly, "verify-only", false, "compare the two sides without copying anything")
	cmd.AddCommand(export, imp)
	return cmd
}

// storageMove runs export (files to the database) or import (the
// database to files), or their verification alone.
func (a *app) storageMove(ctx context.Context, export bool, f storageFlags, openPG openMessagesFunc) error {
	cfg, paths, err := a.loadConfig()
	if err != nil {
		return err
	}
	cfg = storageEnv(a.env, cfg)
	dsn := f.dsn
	if dsn == "" {
		dsn = cfg.Storage.DSN
	}
	flag := "--from"
	if export {
		flag = "--to"
	}
	if dsn == "" {
		return usageError{fmt.Errorf("no database: give %s DSN (or set [storage] dsn or %s)", flag, envStorageDSN)}
	}
	if pid, err := daemon.ReadPID(paths.RuntimeDir); err == nil {
		return fmt.Errorf("an aimx daemon (pid %d) runs on %s: stop it (systemctl stop aimx) before moving its mail", pid, paths.RuntimeDir)
	}
	files, err := storage.Open(paths.DataDir, a.storeOptions(cfg))
	if err != nil {
		return fmt.Errorf("open data dir %s: %w", paths.DataDir, err)
	}
	defer files.Close()
	pg, done, err := openPG(ctx, cfg, dsn)
	if err != nil {
		return err
	}
	defer done()
	src, dst := storage.MessageStore(files), pg
	if !export {
		src, dst = pg, files
	}
	opts := storemove.Options{Mailboxes: configMailboxes(cfg), Progress: a.stderr}
	verb := "imported"
	if export {
		verb = "exported"
	}
	if f.verifyOnly {
		checks, err := storemove.Verify(ctx, src, dst, opts)
		if err != nil {
			return err
		}
		n := 0
		for _, c := range checks {
			n += c.Source
		}
		_, err = fmt.Fprintf(a.stdout, "verified %d messages of %d mailboxes: counts and digests equal in all %d folders\n",
			n, len(opts.Mailboxes), len(checks))
		return err
	}
	start := time.Now()
	res, err := storemove.Copy(ctx, src, dst, opts)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(a.stdout, "%s %d messages of %d mailboxes in %s (%d copied, %d already there); verified: counts and digests equal in all %d folders\n",
		verb, res.Messages(), res.Mailboxes, time.Since(start).Round(time.Second), res.Copied, res.Skipped, len(res.Folders))
	if !export && hasHookState(paths.DataDir) {
		fmt.Fprintf(a.stderr, "note: %s/.spool/hooks is this host's hook state from before the move; remove it before starting aimx, "+
			"or hooks due for mail received since then fire again (book/scale-out.md)\n", paths.DataDir)
	}
	return err
}

// hasHookState reports whether the data dir holds a file hook state
// (book/hooks.md, "Hook state on disk").
func hasHookState(dataDir string) bool {
	d, err := safefs.OpenDir(dataDir)
	if err != nil {
		return false
	}
	defer d.Close()
	_, err = d.Lstat(".spool/hooks")
	return err == nil
}

// configMailboxes lists cfg's mailboxes with their owners, by name. Owners
// are looked up only as root, where files are chowned (as the daemon's
// start-up repair does); one that does not resolve keeps the daemon's
// group.
func configMailboxes(cfg *domains.Config) []storage.MailboxOwner {
	names := make([]string, 0, len(cfg.Mailboxes))
	for n := range cfg.Mailboxes {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]storage.MailboxOwner, 0, len(names))
	for _, n := range names {
		mb := storage.MailboxOwner{Ref: domains.MailboxRef(n)}
		if owner := cfg.Mailboxes[n].Owner; os.Geteuid() == 0 && owner != "" {
			if o, err := domains.LookupOwner(owner); err == nil {
				mb.Owner = &storage.Owner{UID: o.UID, GID: o.GID}
			}
		}
		out = append(out, mb)
	}
	return out
}

// openPGMessages opens the message store of the database at dsn, bringing
// its schema up to date, and refuses a database a node is serving from:
// mail it takes in during the copy would be missed (import) or mixed in
// (export).
func openPGMessages(ctx context.Context, cfg *domains.Config, dsn string) (storage.MessageStore, func(), error) {
	db, err := pgstore.Open(ctx, dsn, pgstore.Options{Node: cfg.Storage.Node, MaxConns: 8})
	if err != nil {
		return nil, nil, err
	}
	if err := refuseLiveNodes(ctx, db); err != nil {
		db.Close()
		return nil, nil, err
	}
	store := pgmessages.New(db, pgmessages.Options{MaxFileBytes: cfg.SMTP.MaxMessageBytes + storage.FileHeadroom})
	return store, db.Close, nil
}

// refuseLiveNodes fails when a node of the database beat within the lease.
func refuseLiveNodes(ctx context.Context, db *pgstore.DB) error {
	nodes, err := db.Nodes(ctx)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if time.Since(n.SeenAt) < pgstore.DefaultLease {
			return fmt.Errorf("node %s serves from this database (last seen %s ago): stop aimx serve on every node first",
				n.Name, time.Since(n.SeenAt).Round(time.Second))
		}
	}
	return nil
}
