package search

import (
	"context"
	"slices"
	"strings"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// folders are the folders of a mailbox that are indexed.
var folders = [...]storage.Folder{storage.Inbox, storage.Sent}

// reconcileAll brings the index in line with the store (book/search.md,
// "Keeping it current"): folders of mailboxes no longer configured are
// dropped, and each configured folder is compared with its directory.
// With full every folder is compared id by id (after a start); otherwise
// only folders whose count in the store differs from the index's (a sweep).
func (s *Service) reconcileAll(ctx context.Context, full bool) (added, removed int) {
	ib := s.idx.Load()
	if ib == nil {
		return 0, 0
	}
	idx := ib.Index
	cfg := s.Registry.Current()
	if cfg == nil {
		return 0, 0
	}
	want := make(map[Box]storage.MailboxRef, 2*len(cfg.Mailboxes))
	for _, m := range cfg.Mailboxes {
		ref := domains.MailboxRef(m.Name)
		for _, f := range folders {
			want[Box{Mailbox: m.Name, Folder: f}] = ref
		}
	}
	have, err := idx.Boxes(ctx)
	if err != nil {
		s.Log.Warn().Err(err).Msg("search index: folders not read")
		return 0, 0
	}
	for b, n := range have {
		if _, ok := want[b]; ok {
			continue
		}
		if err := idx.DeleteBox(ctx, b); err != nil {
			s.Log.Warn().Err(err).Str("mailbox", b.Mailbox).Msg("search index: folder not removed")
			continue
		}
		removed += n
	}
	boxes := make([]Box, 0, len(want))
	for b := range want {
		boxes = append(boxes, b)
	}
	slices.SortFunc(boxes, func(a, b Box) int {
		return strings.Compare(a.Mailbox+"/"+string(a.Folder), b.Mailbox+"/"+string(b.Folder))
	})
	counts := map[string]storage.Counts{}
	for _, b := range boxes {
		if ctx.Err() != nil {
			return added, removed
		}
		ref := want[b]
		storeN := -1
		if !full {
			c, ok := counts[b.Mailbox]
			if !ok {
				if c, err = s.Store.Counts(ctx, ref); err != nil {
					continue
				}
				counts[b.Mailbox] = c
			}
			storeN = c.Total
			if b.Folder == storage.Sent {
				storeN = c.Sent
			}
			if storeN == have[b] || s.memo[b] == (memo{storeN, have[b]}) {
				continue
			}
		}
		a, r, err := s.reconcile(ctx, idx, b, ref)
		added, removed = added+a, removed+r
		if err != nil {
			if ctx.Err() == nil {
				s.Log.Warn().Err(err).Str("mailbox", b.Mailbox).Str("folder", string(b.Folder)).Msg("search index: folder not reconciled")
			}
			continue
		}
		if !full {
			after, _ := idx.Boxes(ctx)
			if s.memo == nil {
				s.memo = map[Box]memo{}
			}
			s.memo[b] = memo{storeN, after[b]}
		}
	}
	return added, removed
}

// reconcile compares one folder's ids in the store with the index's,
// indexes the missing and removes the extra. Changes queued meanwhile are
// indexed between its batches, so new mail waits for no rebuild.
func (s *Service) reconcile(ctx context.Context, idx Index, b Box, ref storage.MailboxRef) (added, removed int, err error) {
	var ids []string
	if s.DataDir != "" {
		ids, err = fileLister{s.DataDir}.ids(b, ref)
	} else {
		ids, err = storeLister{s.Store}.ids(ctx, b, ref)
	}
	if err != nil {
		return 0, 0, err
	}
	indexed, err := idx.IDs(ctx, b)
	if err != nil {
		return 0, 0, err
	}
	inStore := make(map[string]bool, len(ids))
	for _, id := range ids {
		inStore[id] = true
	}
	inIndex := make(map[string]bool, len(indexed))
	var extra []Key
	for _, id := range indexed {
		inIndex[id] = true
		if !inStore[id] {
			extra = append(extra, Key{Box: b, ID: id})
		}
	}
	if err := idx.Delete(ctx, extra); err != nil {
		return 0, 0, err
	}
	var missing []Key
	for _, id := range ids {
		if !inIndex[id] {
			missing = append(missing, Key{Box: b, ID: id})
		}
	}
	// Oldest first, so an interrupted rebuild has the older mail; the row
	// ids order by receipt time whatever the order of indexing.
	slices.SortFunc(missing, func(a, b Key) int { return strings.Compare(a.ID, b.ID) })
	for len(missing) > 0 {
		n := min(len(missing), batchSize)
		if err := s.addKeys(ctx, idx, missing[:n]); err != nil {
			return added, len(extra), err
		}
		added += n
		missing = missing[n:]
		s.drain(ctx, idx)
	}
	return added, len(extra), nil
}
