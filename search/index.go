package search

import (
	"context"
	"errors"
	"time"

	"github.com/aimx-dev/aimx/storage"
)

// Box is one mailbox folder: the unit of visibility and of the index's
// bookkeeping (book/search.md).
type Box struct {
	// Mailbox is the mailbox's full name (local@domain, *@domain for a
	// catchall), as the config and the frontmatter spell it.
	Mailbox string
	Folder  storage.Folder
}

// Key names one message in the index.
type Key struct {
	Box
	ID string // the message's id (its stem)
}

// Doc is one message as the index sees it: its key, its receipt time
// (which orders the rows, newest last) and the four searchable fields.
type Doc struct {
	Key
	At      time.Time
	Subject string
	From    string
	To      string // To and Cc, joined
	Body    string
}

// Query is one search as the engine runs it.
type Query struct {
	// Expr is the parsed query text (ParseQuery).
	Expr *Expr
	// Boxes are the folders the caller may see and asked for. Nothing
	// outside them is counted or returned; empty finds nothing.
	Boxes []Box
	// Limit and Offset page the ranked hits.
	Limit, Offset int
}

// Hit is one ranked match: its key and its score (higher is better).
type Hit struct {
	Key
	Score float64
}

// Result is one page of ranked hits and how many messages match in all.
type Result struct {
	Hits []Hit
	// Total counts the matches in the visible folders, up to TotalCap;
	// Capped says there are more.
	Total  int
	Capped bool
}

// Index is a full-text engine (book/architecture.md: a backend behind an
// interface). Implementations are safe for concurrent use.
type Index interface {
	// Add indexes docs; a key already indexed is left as it is (a stored
	// message's text never changes).
	Add(ctx context.Context, docs []Doc) error
	// Delete removes the keys; unknown keys are ignored.
	Delete(ctx context.Context, keys []Key) error
	// DeleteBox removes every document of a folder.
	DeleteBox(ctx context.Context, b Box) error
	// Search runs one query.
	Search(ctx context.Context, q Query) (*Result, error)
	// IDs lists the ids indexed for a folder, for reconciliation.
	IDs(ctx context.Context, b Box) ([]string, error)
	// Boxes reports every folder with documents and how many each has.
	Boxes(ctx context.Context) (map[Box]int, error)
	// Optimize merges the index after a bulk load; it may take a while.
	Optimize(ctx context.Context) error
	// Close releases the engine.
	Close() error
}

// Paging bounds (book/search.md).
const (
	// DefaultLimit and MaxLimit bound a page of hits.
	DefaultLimit = 20
	MaxLimit     = 100
	// RankWindow is how many of the newest matches are ranked: a query
	// that matches more ranks the newest RankWindow of them, which bounds
	// its cost whatever the mailbox size. Offset+Limit may not pass it.
	RankWindow = 2000
	// TotalCap bounds the count of matches (Result.Capped past it).
	TotalCap = 10000
)

// ErrPastWindow is a page that starts beyond the ranked window.
var ErrPastWindow = errors.New("search: page past the ranked window")

// ErrUnavailable is a search while the index cannot answer (not opened,
// or stopped).
var ErrUnavailable = errors.New("search: index unavailable")
