// Package search is the full-text index behind the email_search tool
// (book/search.md): subject, from, to and body text of every stored
// message, ranked, with snippets, across the mailboxes a caller may see.
//
// The index is derived data under <data>/.index/search (0700): the .md
// files stay the truth, and the index is rebuilt from them when it is
// missing, of another version, or unreadable. It is never trusted for
// visibility: every query carries the folders the caller may see, the
// engine filters by them inside the query, and the hits' text is read back
// from the store, so a message whose file is gone is never shown.
//
// Index is the engine interface (SQLite FTS5 through modernc.org/sqlite is
// the one implementation, chosen by the figures in book/search.md);
// Service runs it as a daemon component: it is fed stored and removed
// messages without blocking their writers, reconciles the index with the
// store after a start and every few seconds, and answers searches.
package search
