package storage

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aimx-dev/aimx/internal/safefs"
)

// The per-folder index (issue "MCP", item 6): what listing, filtering and
// counting need of every message of one mailbox folder, held in memory so
// that neither reads every file. It is always derivable from the files: it
// is built lazily by one scan of the folder the first time the folder is
// listed or counted, and every write through the Store (Put, SetRead,
// RemoveMailbox) updates it synchronously after the write is durable. It
// adds no fsync and no file to the `250` path (book/storage.md budget).
//
// Writes made behind the Store's back (a hand edit, another process) are
// not seen until the daemon restarts (book/storage.md); a removed file is
// noticed when a listing reads its page, which rebuilds the index.

// indexEntry is one message as the index knows it.
type indexEntry struct {
	id             string
	bundle         bool
	at             int64 // stem receipt time, Unix seconds; valid when hasAt
	hasAt          bool
	from           string
	subject        string
	read           bool
	broken         bool // the .md did not decode; listed, never filtered in
	trusted        string
	threadID       string
	deliveryStatus string
}

func (e *indexEntry) entry() entry { return entry{stem: e.id, bundle: e.bundle} }

// newIndexEntry takes the indexed fields from a decoded frontmatter.
func newIndexEntry(id string, bundle bool, fm *Frontmatter) *indexEntry {
	e := &indexEntry{id: id, bundle: bundle}
	if t, ok := stemTime(id); ok {
		e.at, e.hasAt = t.Unix(), true
	}
	if fm == nil {
		e.broken = true
		return e
	}
	e.from = fm.From
	e.subject = fm.Subject
	e.read = fm.Read
	e.trusted = fm.Trusted
	e.threadID = fm.ThreadID
	e.deliveryStatus = fm.DeliveryStatus
	return e
}

// folderIndex indexes one folder dir. Entries are sorted by id ascending,
// so new mail (the newest stem) is usually appended at the end and a
// newest-first listing walks the slice backwards.
type folderIndex struct {
	dir   string
	ready chan struct{} // closed when the build is over (err says how)
	err   error

	mu       sync.Mutex
	building bool
	journal  []*indexEntry // upserts that arrived during the build, in order
	entries  []*indexEntry
	byID     map[string]*indexEntry
	unread   int
}

// index returns the built index of a folder, building it from the files on
// first use. Concurrent callers wait for one build, which runs on its own
// goroutine with the first caller's values but not its cancellation: a
// caller that gives up stops waiting, it does not fail the build the
// others wait for. A failed build is forgotten, so the next call tries
// again.
func (s *Store) index(ctx context.Context, ref MailboxRef, folder Folder) (*folderIndex, error) {
	dir := s.folderDir(ref, folder)
	s.mu.Lock()
	idx := s.indexes[dir]
	if idx == nil {
		idx = &folderIndex{dir: dir, ready: make(chan struct{}), building: true}
		s.indexes[dir] = idx
		bctx := context.WithoutCancel(ctx)
		go func() {
			defer func() {
				if p := recover(); p != nil {
					idx.err = fmt.Errorf("panic building the index: %v", p)
					s.panics.Recovered(s.log.With().Str("mailbox", ref.String()).Logger(), "storage index build", p)
				}
				close(idx.ready)
				if idx.err != nil {
					s.mu.Lock()
					if s.indexes[dir] == idx {
						delete(s.indexes, dir)
					}
					s.mu.Unlock()
				}
			}()
			idx.err = s.buildIndex(bctx, ref, folder, idx)
		}()
	}
	s.mu.Unlock()
	select {
	case <-idx.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if idx.err != nil {
		return nil, fmt.Errorf("index %s/%s: %w", ref, folder, idx.err)
	}
	return idx, nil
}

// buildIndex scans the folder and reads the frontmatter of every message,
// then applies the upserts journalled meanwhile, in order: each reflects a
// write at least as new as what the scan may have read.
func (s *Store) buildIndex(ctx context.Context, ref MailboxRef, folder Folder, idx *folderIndex) error {
	s.seam(SeamIndexBuild, idx.dir)
	var ents []entry
	fdir, err := s.openFolder(ref, folder)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// A mailbox with no storage yet lists as empty.
	case err != nil:
		return err
	default:
		defer fdir.Close()
		if ents, err = listEntries(fdir); err != nil {
			return err
		}
	}
	built := make([]*indexEntry, len(ents))
	err = parallel(ctx, len(ents), func(i int) error {
		fm, err := s.readHeadFrontmatter(fdir, ents[i].mdName())
		if errors.Is(err, ErrNotFound) {
			return nil // removed meanwhile
		}
		if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrNotRegular) {
			s.refused(fdir.Join(ents[i].mdName()), err)
			return nil // refused (H1, M1): not listed, never read whole
		}
		if err != nil {
			var perr *fs.PathError
			if errors.As(err, &perr) {
				return err // an I/O failure, not a bad file
			}
			fm = nil // undecodable: keep it listed, reading it reports why
		}
		built[i] = newIndexEntry(ents[i].stem, ents[i].bundle, fm)
		return nil
	})
	if err != nil {
		return err
	}
	built = slices.DeleteFunc(built, func(e *indexEntry) bool { return e == nil })
	slices.Reverse(built) // listEntries is newest first
	idx.mu.Lock()
	defer idx.mu.Unlock()
	idx.entries = built
	idx.byID = make(map[string]*indexEntry, len(built))
	for _, e := range built {
		idx.byID[e.id] = e
		if !e.read {
			idx.unread++
		}
	}
	for _, e := range idx.journal {
		idx.upsertLocked(e)
	}
	idx.journal = nil
	idx.building = false
	return nil
}

// readHeadFrontmatter decodes the frontmatter from a pooled head buffer.
func (s *Store) readHeadFrontmatter(dir *safefs.Dir, name string) (*Frontmatter, error) {
	bp, _ := s.heads.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, headSize)
		bp = &b
	}
	defer s.heads.Put(bp)
	head, err := readHead(dir, name, *bp, s.maxFile)
	if err != nil {
		return nil, err
	}
	fm, _, err := DecodeMD(head)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir.Join(name), err)
	}
	return fm, nil
}

// upsertLocked inserts e or replaces the entry with its id.
func (idx *folderIndex) upsertLocked(e *indexEntry) {
	if old, ok := idx.byID[e.id]; ok {
		if !old.read {
			idx.unread--
		}
		*old = *e
	} else {
		i := sort.Search(len(idx.entries), func(i int) bool { return idx.entries[i].id >= e.id })
		idx.entries = slices.Insert(idx.entries, i, e)
		idx.byID[e.id] = e
	}
	if !e.read {
		idx.unread++
	}
}

// indexUpsert records a message just written durably through the Store.
// A folder with no index yet needs nothing: its build reads the files.
func (s *Store) indexUpsert(ref MailboxRef, folder Folder, e *indexEntry) {
	s.mu.Lock()
	idx := s.indexes[s.folderDir(ref, folder)]
	s.mu.Unlock()
	if idx == nil {
		return
	}
	idx.mu.Lock()
	defer idx.mu.Unlock()
	if idx.building {
		idx.journal = append(idx.journal, e)
		return
	}
	idx.upsertLocked(e)
}

// dropIndex forgets a folder's index; the next use rebuilds it.
func (s *Store) dropIndex(dir string) {
	s.mu.Lock()
	delete(s.indexes, dir)
	s.mu.Unlock()
}

// matcher holds a ListQuery's filters, prepared once.
type matcher struct {
	unread        bool
	from, subject string
	since         int64
	hasSince      bool
}

func newMatcher(q ListQuery) matcher {
	m := matcher{unread: q.Unread, from: strings.ToLower(q.From), subject: strings.ToLower(q.Subject)}
	if !q.Since.IsZero() {
		m.since, m.hasSince = q.Since.Truncate(time.Second).Unix(), true
	}
	return m
}

func (m *matcher) filters() bool { return m.unread || m.from != "" || m.subject != "" || m.hasSince }

// match applies the filters of book/mcp.md email_list: unread, a
// case-insensitive substring of from and of subject, and a receipt time at
// or after since (a stem without a time passes the time filter).
func (m *matcher) match(e *indexEntry) bool {
	if m.hasSince && e.hasAt && e.at < m.since {
		return false
	}
	if m.unread && e.read {
		return false
	}
	if e.broken && (m.from != "" || m.subject != "") {
		return false
	}
	return containsFold(e.from, m.from) && containsFold(e.subject, m.subject)
}

// query returns the page of entries (newest first) and the number matching.
func (idx *folderIndex) query(q ListQuery) ([]entry, int) {
	m := newMatcher(q)
	idx.mu.Lock()
	defer idx.mu.Unlock()
	if !m.filters() {
		total := len(idx.entries)
		var page []entry
		for i := total - 1 - q.Offset; i >= 0 && len(page) < q.Limit; i-- {
			page = append(page, idx.entries[i].entry())
		}
		return page, total
	}
	var page []entry
	total := 0
	for i := len(idx.entries) - 1; i >= 0; i-- {
		e := idx.entries[i]
		if !m.match(e) {
			continue
		}
		if total >= q.Offset && len(page) < q.Limit {
			page = append(page, e.entry())
		}
		total++
	}
	return page, total
}

// counts returns the number of messages and of unread ones.
func (idx *folderIndex) counts() (total, unread int) {
	idx.mu.Lock()
	defer idx.mu.Unlock()
	return len(idx.entries), idx.unread
}

// containsFold reports whether sub is a substring of s, ignoring case,
// where sub is already lowercase. ASCII strings are compared without
// allocating; others through strings.ToLower.
func containsFold(s, sub string) bool {
	if sub == "" {
		return true
	}
	if !isASCII(s) || !isASCII(sub) {
		return strings.Contains(strings.ToLower(s), sub)
	}
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for j < n && lowerASCII(s[i+j]) == sub[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// readLockSlot picks the read-state lock of a message (FNV-1a of its path).
func readLockSlot(dir, id string) int {
	h := fnv.New32a()
	_, _ = io.WriteString(h, dir) // a hash.Hash never fails a write
	_, _ = io.WriteString(h, "/")
	_, _ = io.WriteString(h, id)
	return int(h.Sum32() % 64)
}
