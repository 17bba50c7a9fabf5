package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/aimx-dev/aimx/internal/safefs"
)

// LegacyView reads an unmigrated single-domain (Rust v1) data dir as it
// is, `<data>/inbox/<local>/` and `<data>/sent/<local>/`, for the
// read-only commands: they never migrate or write anything, so before the
// first `aimx serve` they read the legacy paths (book/upgrade.md). Every
// mailbox of the view belongs to its one domain.
type LegacyView struct {
	s      *Store
	domain string
}

// OpenLegacyReadOnly opens the legacy data dir at dataDir for reading, its
// mailboxes being those of domain (the config's default domain). It
// creates and writes nothing. A data dir that is not in the legacy layout
// is refused: open it with OpenReadOnly.
func OpenLegacyReadOnly(dataDir, domain string) (*LegacyView, error) {
	root, err := safefs.OpenDir(dataDir)
	if err != nil {
		return nil, fmt.Errorf("open data dir: %w", err)
	}
	l, err := inspect(root)
	if err == nil && l != LayoutLegacy {
		err = fmt.Errorf("open legacy data dir %s: it is not in the single-domain layout", dataDir)
	}
	if err != nil {
		root.Close()
		return nil, err
	}
	s := newStore(dataDir, Options{}, true)
	s.root = root
	return &LegacyView{s: s, domain: domain}, nil
}

// Close releases the data dir.
func (v *LegacyView) Close() error { return v.s.Close() }

// Counts returns a mailbox's totals as Store.Counts does, from its legacy
// dirs. A mailbox of another domain, or one with no storage yet, counts
// as empty.
func (v *LegacyView) Counts(ctx context.Context, ref MailboxRef) (Counts, error) {
	if err := ref.Validate(); err != nil {
		return Counts{}, err
	}
	var c Counts
	if ref.Domain != v.domain {
		return c, nil
	}
	var err error
	if c.Total, c.Unread, err = v.folderCounts(ctx, ref, Inbox); err != nil {
		return Counts{}, fmt.Errorf("count %s: %w", ref, err)
	}
	if c.Sent, _, err = v.folderCounts(ctx, ref, Sent); err != nil {
		return Counts{}, fmt.Errorf("count %s: %w", ref, err)
	}
	return c, nil
}

// folderCounts counts the messages of `<data>/<folder>/<local>` the way
// an index load does: files it refuses (over the cap, not regular) are
// not counted, an undecodable one counts as unread.
func (v *LegacyView) folderCounts(ctx context.Context, ref MailboxRef, folder Folder) (total, unread int, err error) {
	dir, err := v.s.root.OpenDir(string(folder) + "/" + ref.Local)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	defer dir.Close()
	ents, err := listEntries(dir)
	if err != nil {
		return 0, 0, err
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		fm, err := v.s.readHeadFrontmatter(dir, e.mdName())
		switch {
		case errors.Is(err, ErrNotFound), errors.Is(err, ErrTooLarge), errors.Is(err, ErrNotRegular):
			continue
		case err != nil:
			var perr *fs.PathError
			if errors.As(err, &perr) {
				return 0, 0, err
			}
			fm = nil
		}
		total++
		if fm == nil || !fm.Read {
			unread++
		}
	}
	return total, unread, nil
}
