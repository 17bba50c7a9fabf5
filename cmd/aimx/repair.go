package main

import (
	"context"
	"fmt"
	"os"
	"sort"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// storeOptions are the storage options of a daemon with cfg: every message
// file read is capped at max_message_bytes plus headroom (book/security.md).
func (a *app) storeOptions(cfg *domains.Config) storage.Options {
	return storage.Options{MaxFileBytes: cfg.SMTP.MaxMessageBytes + storage.FileHeadroom, Log: a.log, Panics: a.panics}
}

// repairStorage runs storage.Repair over every configured mailbox before
// any listener starts: trees in the old modes are re-owned and crash
// leftovers removed (book/storage.md). Owners are looked up only as root,
// where files are chowned; one that does not resolve keeps the daemon's
// group.
func (a *app) repairStorage(ctx context.Context, cfg *domains.Config, store *storage.Store) error {
	names := make([]string, 0, len(cfg.Mailboxes))
	for n := range cfg.Mailboxes {
		names = append(names, n)
	}
	sort.Strings(names)
	boxes := make([]storage.MailboxOwner, 0, len(names))
	for _, n := range names {
		mb := cfg.Mailboxes[n]
		entry := storage.MailboxOwner{Ref: domains.MailboxRef(n)}
		if os.Geteuid() == 0 && mb.Owner != "" {
			if o, err := domains.LookupOwner(mb.Owner); err == nil {
				entry.Owner = &storage.Owner{UID: o.UID, GID: o.GID}
			}
		}
		boxes = append(boxes, entry)
	}
	if _, err := store.Repair(ctx, boxes); err != nil {
		return fmt.Errorf("repair storage: %w", err)
	}
	return nil
}
