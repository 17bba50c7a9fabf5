package search

import (
	"context"

	"github.com/aimx-dev/aimx/storage"
)

// Watch returns store with its writes reported to s (book/search.md,
// "Keeping it current"): a message stored through it is queued for
// indexing, and a removed mailbox's folders are dropped from the index.
// Every other method is store's own. The daemon hands it to the send path,
// whose sent copies intake's OnStored never sees, and to the doors that
// delete mailboxes.
func (s *Service) Watch(store storage.MessageStore) storage.MessageStore {
	return watched{MessageStore: store, s: s}
}

type watched struct {
	storage.MessageStore
	s *Service
}

// Put stores the message and queues it.
func (w watched) Put(ctx context.Context, req storage.PutRequest) (*storage.Stored, error) {
	st, err := w.MessageStore.Put(ctx, req)
	if err == nil {
		w.s.Stored(Box{Mailbox: req.Mailbox.String(), Folder: req.Folder}, st.ID)
	}
	return st, err
}

// RemoveMailbox removes the mailbox's storage and its folders' documents.
func (w watched) RemoveMailbox(ctx context.Context, ref storage.MailboxRef) (int, error) {
	n, err := w.MessageStore.RemoveMailbox(ctx, ref)
	for _, f := range folders {
		w.s.Removed(Box{Mailbox: ref.String(), Folder: f})
	}
	return n, err
}
