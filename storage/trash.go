package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// The trash (book/storage.md, "Trash, archive and labels"): a per-mailbox
// folder, `<data>/<domain>/trash/<local>/`, that a deleted message is
// moved to (Move). The move records, as two frontmatter keys this codec
// keeps like any unknown key:
//
//	deleted_at = "2026-10-08T09:00:00Z"   when it was moved to the trash (RFC 3339, UTC)
//	deleted_from = "inbox"                 the folder it came from
//
// PurgeTrash removes for good the messages deleted before a cutoff (now
// minus the retention period). A trash message without deleted_at (a
// crash between the move and its bookkeeping, or a file put there by
// hand) is given one, "now", by the next purge: it is kept a full period
// from then rather than removed early.

// DefaultTrashRetention is how long a deleted message stays in the trash
// when the configuration does not say otherwise: 30 days.
const DefaultTrashRetention = 30 * 24 * time.Hour

// The frontmatter keys of the trash.
const (
	deletedAtKey   = "deleted_at"
	deletedFromKey = "deleted_from"
)

// TrashInfo returns when a trash message was deleted and from which
// folder, as its frontmatter records them (zero values when it does not).
func TrashInfo(fm *Frontmatter) (at time.Time, from Folder) {
	for _, f := range fm.Extra {
		switch f.Key {
		case deletedAtKey:
			switch v := f.Value.(type) {
			case string:
				at, _ = time.Parse(time.RFC3339Nano, v)
			case time.Time:
				at = v
			}
		case deletedFromKey:
			if v, ok := f.Value.(string); ok && Folder(v).Validate() == nil && Folder(v) != Trash {
				from = Folder(v)
			}
		}
	}
	return at, from
}

// RestoreFolder is where a trash message goes back to: the folder it was
// deleted from when the trash recorded it and the message may be there,
// else sent for a sent copy and inbox for received mail.
func RestoreFolder(fm *Frontmatter) Folder {
	home := HomeFolders(fm)
	if _, from := TrashInfo(fm); from != "" {
		for _, f := range home {
			if f == from {
				return from
			}
		}
	}
	return home[0]
}

// stampTrash sets deleted_at and deleted_from (replacing earlier ones).
func stampTrash(fm *Frontmatter, at time.Time, from Folder) bool {
	unstampTrash(fm)
	fm.Extra = append(fm.Extra, Field{Key: deletedAtKey, Value: at.UTC().Format(time.RFC3339Nano)})
	if from != "" {
		fm.Extra = append(fm.Extra, Field{Key: deletedFromKey, Value: string(from)})
	}
	return true
}

// unstampTrash removes deleted_at and deleted_from; false when absent.
func unstampTrash(fm *Frontmatter) bool {
	kept := fm.Extra[:0]
	for _, f := range fm.Extra {
		if f.Key != deletedAtKey && f.Key != deletedFromKey {
			kept = append(kept, f)
		}
	}
	changed := len(kept) != len(fm.Extra)
	fm.Extra = kept
	if len(fm.Extra) == 0 {
		fm.Extra = nil
	}
	return changed
}

// trashMemo is what the store remembers of a mailbox's trash between
// purges: no message in it expires before next, as long as gen is what
// it was when next was computed.
type trashMemo struct {
	next  time.Time // zero: unknown, scan
	known bool
	gen   uint64 // bumped by every move into the trash
}

// trashKey names a mailbox's trash in the store's memory.
func (s *Store) trashKey(ref MailboxRef) string { return s.folderDir(ref, Trash) }

// trashMovedIn notes a message moved into the trash, deleted at at.
func (s *Store) trashMovedIn(ref MailboxRef, at time.Time) {
	s.manage.mu.Lock()
	defer s.manage.mu.Unlock()
	if s.manage.trashNext == nil {
		s.manage.trashNext = map[string]*trashMemo{}
	}
	m := s.manage.trashNext[s.trashKey(ref)]
	if m == nil {
		m = &trashMemo{}
		s.manage.trashNext[s.trashKey(ref)] = m
	}
	m.gen++
	switch {
	case !m.known:
	case at.IsZero():
		m.known = false // not stamped: the next purge stamps it
	default:
		m.next = minTime(m.next, at)
	}
}

// PurgeTrash removes for good the messages of a mailbox's trash that were
// deleted before deletedBefore (the caller passes now minus the retention
// period) and returns how many it removed. It reads only what may have
// expired: a message received at or after the cutoff was deleted after it
// too, and after a purge the store remembers when the next message
// expires, so a purge before then reads nothing.
func (s *Store) PurgeTrash(ctx context.Context, ref MailboxRef, deletedBefore time.Time) (int, error) {
	if s.readOnly {
		return 0, ErrReadOnly
	}
	if err := ref.Validate(); err != nil {
		return 0, err
	}
	key := s.trashKey(ref)
	s.manage.mu.Lock()
	if s.manage.trashNext == nil {
		s.manage.trashNext = map[string]*trashMemo{}
	}
	m := s.manage.trashNext[key]
	if m == nil {
		m = &trashMemo{}
		s.manage.trashNext[key] = m
	}
	if m.known && !deletedBefore.After(m.next) {
		s.manage.mu.Unlock()
		return 0, nil
	}
	gen := m.gen
	s.manage.mu.Unlock()

	removed, next, err := s.purge(ctx, ref, deletedBefore)
	s.manage.mu.Lock()
	if cur := s.manage.trashNext[key]; cur == m && err == nil && m.gen == gen {
		m.next, m.known = next, true
	}
	s.manage.mu.Unlock()
	if err != nil {
		return removed, fmt.Errorf("purge trash of %s: %w", ref, err)
	}
	return removed, nil
}

// farFuture is the expiry of an empty trash.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// purge scans the trash once; next is the earliest time a message left in
// it may expire.
func (s *Store) purge(ctx context.Context, ref MailboxRef, deletedBefore time.Time) (removed int, next time.Time, err error) {
	next = farFuture
	fdir, err := s.openFolder(ref, Trash)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, next, nil
	}
	if err != nil {
		return 0, next, err
	}
	entries, err := listEntries(fdir)
	fdir.Close()
	if err != nil {
		return 0, next, err
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return removed, next, err
		}
		if t, ok := stemTime(e.stem); ok && !t.Before(deletedBefore) {
			next = minTime(next, t)
			continue
		}
		at, err := s.trashedAt(ref, e.stem)
		switch {
		case errors.Is(err, ErrNotFound):
			continue // moved or removed meanwhile
		case err != nil:
			// Unreadable (refused, broken frontmatter): never removed
			// unseen; logged, and looked at again by the next purge.
			s.log.Warn().Err(err).Str("mailbox", ref.String()).Str("id", e.stem).Msg("trash: message not purged")
			next = minTime(next, deletedBefore)
			continue
		}
		if at.Before(deletedBefore) {
			if _, err := s.Delete(ctx, ref, Trash, e.stem); err != nil && !errors.Is(err, ErrNotFound) {
				return removed, next, err
			}
			removed++
			continue
		}
		next = minTime(next, at)
	}
	return removed, next, nil
}

// trashedAt returns a trash message's deleted_at, stamping "now" first
// when it has none (see the top of this file).
func (s *Store) trashedAt(ref MailboxRef, id string) (time.Time, error) {
	unlock := s.lockMessage(ref, Trash, id)
	defer unlock()
	h, err := s.openMessage(ref, Trash, id)
	if err != nil {
		return time.Time{}, err
	}
	defer h.close()
	fm, err := s.rewriteFrontmatter(ref, h, func(fm *Frontmatter) (bool, error) {
		if at, _ := TrashInfo(fm); !at.IsZero() {
			return false, nil
		}
		_, from := TrashInfo(fm)
		return stampTrash(fm, s.now(), from), nil
	})
	if err != nil {
		return time.Time{}, err
	}
	at, _ := TrashInfo(fm)
	return at, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
