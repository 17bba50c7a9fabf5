package main

import (
	"context"
	"time"

	"github.com/aimx-dev/aimx/daemon"
	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/mail/inbound"
	"github.com/aimx-dev/aimx/search"
	"github.com/aimx-dev/aimx/storage"
)

// searchOffEnv turns the search index off for a run when set to "off"
// (book/search.md, "Turning it off"): email_search then answers that
// search is not available, and nothing is indexed.
const searchOffEnv = "AIMX_SEARCH"

// sharedSweepEvery is the search sweep period of the postgres backend.
const sharedSweepEvery = time.Minute

// searchParts is the daemon's search index (book/search.md). A nil
// *searchParts (search turned off) wires nothing: every method passes its
// argument through.
type searchParts struct{ svc *search.Service }

// newSearch builds the search service over the data dir, or nil when it
// is turned off.
func newSearch(a *app, paths domains.Paths, store storage.MessageStore, registry *domains.Registry,
	open func(ctx context.Context, reset bool) (search.Index, error)) *searchParts {
	if a.env[searchOffEnv] == "off" {
		a.log.Info().Msg("search index turned off (" + searchOffEnv + "=off)")
		return nil
	}
	svc := &search.Service{DataDir: paths.DataDir, Store: store, Registry: registry, Log: a.log, Panics: a.panics}
	if open != nil {
		// A shared index in the database: no files here (book/search.md),
		// and every node sweeps it, so less often: what a crashed node left
		// unindexed is found within a minute (book/scale-out.md).
		svc.DataDir, svc.Open, svc.SweepEvery = "", open, sharedSweepEvery
	}
	return &searchParts{svc: svc}
}

// add makes the index a daemon component: opened (or rebuilt) and
// reconciled in the background after start, stopped with the daemon.
func (p *searchParts) add(d *daemon.Daemon) {
	if p != nil {
		d.AddComponent("search", p.svc)
	}
}

// onStored chains intake's OnStored hand-off: every message intake
// stores is queued for indexing without blocking the transaction.
func (p *searchParts) onStored(next func(inbound.StoredMessage)) func(inbound.StoredMessage) {
	if p == nil {
		return next
	}
	return func(m inbound.StoredMessage) {
		next(m)
		p.svc.Stored(search.Box{Mailbox: m.Mailbox.Name, Folder: storage.Inbox}, m.ID)
	}
}

// watch returns store with the writes made through it reported to the
// index: the sent copies of the send path and the mailboxes the doors
// remove.
func (p *searchParts) watch(store storage.MessageStore) storage.MessageStore {
	if p == nil {
		return store
	}
	return p.svc.Watch(store)
}

// searcher is what the MCP door searches with; nil when search is off.
func (p *searchParts) searcher() search.Searcher {
	if p == nil {
		return nil
	}
	return p.svc
}
