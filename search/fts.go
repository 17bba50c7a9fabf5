package search

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver: SQLite with FTS5, no cgo
)

// schemaVersion names the layout of the tables and the tokenizer below;
// an index of another version is deleted and rebuilt (book/search.md).
const schemaVersion = "1"

// The schema (book/search.md, "The engine"). fts is contentless
// (content=”): it keeps the inverted index and the column sizes bm25
// needs, not the text, which stays in the .md files. detail=column keeps
// which columns a word is in but not its positions, which halves the size;
// phrases are therefore matched as all their words. box holds one token
// per document naming its folder, the visibility filter. docs maps a row
// to its folder and id; a row id orders documents by receipt time (at
// <<16 plus a tie-breaker), so "newest matches" is a reverse row-id scan.
// Incremental auto-vacuum lets Optimize give back the pages its merge
// freed.
const schema = `
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS boxes(id INTEGER PRIMARY KEY, mailbox TEXT NOT NULL, folder TEXT NOT NULL, UNIQUE(mailbox, folder));
CREATE TABLE IF NOT EXISTS docs(id INTEGER PRIMARY KEY, box INTEGER NOT NULL, stem TEXT NOT NULL, UNIQUE(box, stem));
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(box, subject, sender, rcpt, body,
	content='', contentless_delete=1, detail=column, tokenize='unicode61 remove_diacritics 2');
`

// epoch is where row ids start counting seconds; earlier times share 0.
var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

// rowsPerSecond is how many documents received in one second get ids of
// their own before they share the next second's range.
const rowsPerSecond = 1 << 16

// ErrStale is an index of another schema version: the caller deletes it
// and builds a new one.
var ErrStale = errors.New("search: index of another version")

// FTS is the SQLite FTS5 implementation of Index, in one database file.
type FTS struct {
	w *sql.DB // one connection: every write
	r *sql.DB // readers, concurrent with the writer (WAL)

	mu     sync.Mutex
	ids    map[Box]int64 // folder → its id in boxes
	boxes  map[int64]Box
	counts map[int64]int // documents per folder id
}

var _ Index = (*FTS)(nil)

// dsn is the file URI of path with the connection pragmas: WAL (readers
// never wait for the writer), synchronous NORMAL (a crash may lose the
// last commits, which the start-up reconciliation indexes again, but never
// corrupts the file) and a busy timeout.
func dsn(path string, readOnly bool) string {
	u := url.URL{Scheme: "file", Path: path}
	q := url.Values{}
	if !readOnly {
		q.Add("_pragma", "auto_vacuum(INCREMENTAL)") // before anything is written (schema)
	}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous(NORMAL)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
	}
	return u.String() + "?" + q.Encode()
}

// OpenFTS opens (creating when missing) the index at path. An index of
// another schema version answers ErrStale; an unreadable one, the
// driver's error: both mean delete and rebuild.
func OpenFTS(ctx context.Context, path string) (*FTS, error) {
	w, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("open search index: %w", err)
	}
	w.SetMaxOpenConns(1)
	f := &FTS{w: w}
	if err := f.init(ctx); err != nil {
		w.Close()
		return nil, err
	}
	if f.r, err = sql.Open("sqlite", dsn(path, true)); err != nil {
		w.Close()
		return nil, fmt.Errorf("open search index: %w", err)
	}
	f.r.SetMaxOpenConns(4)
	return f, nil
}

// init creates the schema, checks its version and loads the folder table
// and the per-folder counts.
func (f *FTS) init(ctx context.Context) error {
	var v string
	err := f.w.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'version'`).Scan(&v)
	switch {
	case err == nil && v != schemaVersion:
		return fmt.Errorf("%w: %q, want %q", ErrStale, v, schemaVersion)
	case err == nil:
	default: // a new file (no meta table yet), or an unreadable one
		if _, err := f.w.ExecContext(ctx, schema); err != nil {
			return fmt.Errorf("create search index: %w", err)
		}
		if _, err := f.w.ExecContext(ctx, `INSERT OR IGNORE INTO meta(key, value) VALUES('version', ?)`, schemaVersion); err != nil {
			return fmt.Errorf("create search index: %w", err)
		}
	}
	f.ids, f.boxes, f.counts = map[Box]int64{}, map[int64]Box{}, map[int64]int{}
	rows, err := f.w.QueryContext(ctx, `SELECT id, mailbox, folder FROM boxes`)
	if err != nil {
		return fmt.Errorf("read search index: %w", err)
	}
	for rows.Next() {
		var id int64
		var b Box
		if err := rows.Scan(&id, &b.Mailbox, &b.Folder); err != nil {
			rows.Close()
			return fmt.Errorf("read search index: %w", err)
		}
		f.ids[b], f.boxes[id] = id, b
	}
	rows.Close()
	rows, err = f.w.QueryContext(ctx, `SELECT box, count(*) FROM docs GROUP BY box`)
	if err != nil {
		return fmt.Errorf("read search index: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return fmt.Errorf("read search index: %w", err)
		}
		f.counts[id] = n
	}
	return rows.Err()
}

// Close checkpoints the write-ahead log and closes the file.
func (f *FTS) Close() error {
	if f.r != nil {
		f.r.Close()
	}
	_, _ = f.w.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	return f.w.Close()
}

// boxID returns the folder's id, creating it inside tx when create is set
// (0 when it has none). f.mu is held.
func (f *FTS) boxID(ctx context.Context, tx *sql.Tx, b Box, create bool) (int64, error) {
	if id, ok := f.ids[b]; ok || !create {
		return id, nil
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO boxes(mailbox, folder) VALUES(?, ?)`, b.Mailbox, string(b.Folder))
	if err != nil {
		return 0, fmt.Errorf("index folder %s/%s: %w", b.Mailbox, b.Folder, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("index folder %s/%s: %w", b.Mailbox, b.Folder, err)
	}
	f.ids[b], f.boxes[id] = id, b
	return id, nil
}

// write runs fn in one transaction under f.mu. On failure the folder
// table is reloaded, since fn may have cached ids the rollback undid.
func (f *FTS) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	tx, err := f.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("search index: %w", err)
	}
	counts := make(map[int64]int)
	for k, v := range f.counts {
		counts[k] = v
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		f.counts = counts
		if ierr := f.reloadLocked(ctx); ierr != nil {
			return errors.Join(err, ierr)
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		f.counts = counts
		return errors.Join(fmt.Errorf("search index: commit: %w", err), f.reloadLocked(ctx))
	}
	return nil
}

// reloadLocked reads the folder table again.
func (f *FTS) reloadLocked(ctx context.Context) error {
	counts := f.counts
	if err := f.init(ctx); err != nil {
		return err
	}
	f.counts = counts
	return nil
}
