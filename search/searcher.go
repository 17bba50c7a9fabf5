package search

import (
	"context"
	"errors"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// Request is one search as a door asks it: the query text and the folders
// the caller may see and asked for (book/mcp.md, "Who sees what").
type Request struct {
	Text          string
	Boxes         []Box
	Limit, Offset int
}

// SearchHit is one ranked message with what an agent is shown of it,
// read back from the store (not from the index). Every string but ID is
// the sender's text: the door cleans it before showing it.
type SearchHit struct {
	Key
	Score   float64
	From    string
	Subject string
	Date    string
	Trusted string
	Snippet string
}

// Response is one page of hits.
type Response struct {
	Hits []SearchHit
	// Total is how many messages match in the requested folders, at most
	// TotalCap; Capped says there are more.
	Total  int
	Capped bool
	// Indexing is true until the index has been reconciled with the
	// store after a start: some messages may be missing.
	Indexing bool
}

// Searcher answers searches; *Service is the one implementation, and the
// MCP door holds this interface (mcp.Deps.Search).
type Searcher interface {
	Search(ctx context.Context, r Request) (*Response, error)
}

var _ Searcher = (*Service)(nil)

// Search runs r (book/search.md): the engine ranks within r.Boxes, and
// each hit of the page is read back from the store for its header fields
// and snippet; a hit whose message is gone or unreadable is left out of
// the page.
func (s *Service) Search(ctx context.Context, r Request) (*Response, error) {
	e, err := ParseQuery(r.Text)
	if err != nil {
		return nil, err
	}
	if s.opened == nil {
		return nil, ErrUnavailable // never started
	}
	select { // the open takes milliseconds; a search right after a start waits for it
	case <-s.opened:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	ib := s.idx.Load()
	if ib == nil {
		return nil, ErrUnavailable
	}
	res, err := ib.Search(ctx, Query{Expr: e, Boxes: r.Boxes, Limit: r.Limit, Offset: r.Offset})
	if err != nil {
		return nil, err
	}
	out := &Response{Total: res.Total, Capped: res.Capped, Indexing: !s.ready.Load(), Hits: make([]SearchHit, 0, len(res.Hits))}
	for _, h := range res.Hits {
		m, err := load(ctx, s.Store, h.Key, domains.MailboxRef(h.Mailbox))
		if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalidID) {
			s.Stored(h.Box, h.ID) // gone: the worker finds it missing and drops it
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// One file the store refuses (over its size cap, say) costs
			// its hit, not the search.
			s.Log.Warn().Err(err).Str("mailbox", h.Mailbox).Str("id", h.ID).Msg("search hit not readable; left out")
			continue
		}
		out.Hits = append(out.Hits, SearchHit{Key: h.Key, Score: h.Score, From: m.fm.From, Subject: m.fm.Subject,
			Date: m.fm.Date, Trusted: m.fm.Trusted, Snippet: Snippet(m.body, e)})
	}
	return out, nil
}
