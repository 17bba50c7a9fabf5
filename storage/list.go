package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/aimx-dev/aimx/internal/safefs"
)

// DefaultListLimit is the page size when ListQuery.Limit is zero.
const DefaultListLimit = 50

// ListQuery selects a page of a folder. Filters combine with AND.
type ListQuery struct {
	Mailbox MailboxRef
	Folder  Folder // "" means Inbox
	Limit   int    // 0 means DefaultListLimit
	// Offset skips that many matching messages (after Cursor, when set).
	Offset int
	// Cursor continues after the last row of an earlier page: its
	// ListResult.NextCursor. A cursor no listing returned is ErrBadCursor.
	Cursor string
	// Oldest lists oldest first instead of newest first.
	Oldest    bool
	Unread    bool      // only messages not marked read
	From      string    // case-insensitive substring of `from`
	Subject   string    // case-insensitive substring of `subject`
	Since     time.Time // received at or after (the stem's UTC receipt time)
	ThreadID  string    // exactly this thread_id
	MessageID string    // exactly this message_id (without <>)
	Trusted   string    // exactly this trusted verdict: "true", "false" or "none"
	// Label keeps the messages carrying this label (book/storage.md,
	// "Trash, archive and labels"); ErrInvalidLabel when it is not one.
	Label string

	// labeled are the ids carrying Label, looked up by listOnce.
	labeled map[string]bool
}

// Summary is one listed message: its id and its frontmatter.
type Summary struct {
	ID          string
	Frontmatter *Frontmatter
	// Order is its place among the mail of its receipt second (the
	// listing order; CompareReceipt).
	Order uint32
}

// CompareReceipt orders two listed messages by receipt, oldest first, as
// a listing does (book/storage.md): the receipt second of the id, then
// the order within it, then the id. It merges the pages of two folders (a
// thread's inbox and sent mail).
func CompareReceipt(a, b Summary) int {
	as, bs := receiptSecond(a.ID), receiptSecond(b.ID)
	switch {
	case as < bs:
		return -1
	case as > bs:
		return 1
	}
	return compareKey(a.Order, []byte(a.ID), b.Order, []byte(b.ID))
}

// receiptSecond is the stem's second, or -1 for an id without one.
func receiptSecond(id string) int64 {
	if t, ok := stemTime(id); ok {
		return t.Unix()
	}
	return -1
}

// ListResult is one page in listing order (newest first unless
// ListQuery.Oldest) and how many messages match in all.
type ListResult struct {
	Messages []Summary
	Total    int
	// NextCursor continues after this page when more messages match; ""
	// when the page is the last.
	NextCursor string
}

// Counts are a mailbox's totals, for mailbox_list.
type Counts struct {
	Total  int // messages in inbox
	Unread int // inbox messages not marked read
	Sent   int // sent copies
}

// entry is one message found in a folder dir.
type entry struct {
	stem   string
	bundle bool
	order  uint32 // place within its receipt second (receiptOrder)
}

// mdName is the entry's .md relative to its folder dir.
func (e entry) mdName() string {
	if e.bundle {
		return e.stem + "/" + e.stem + ".md"
	}
	return e.stem + ".md"
}

// listEntries returns the messages in dir, newest first: flat `<stem>.md`
// files and bundle dirs holding `<stem>/<stem>.md`. Dot-names, symlinks,
// FIFOs, `.eml` files without their `.md` and anything else are ignored.
func listEntries(dir *safefs.Dir) ([]entry, error) {
	des, err := dir.Names()
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir.Path(), err)
	}
	out := make([]entry, 0, len(des))
	flat := make(map[string]bool, len(des))
	for _, d := range des {
		name := d.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		switch t := d.Type(); {
		case t.IsRegular() && strings.HasSuffix(name, ".md"):
			stem := strings.TrimSuffix(name, ".md")
			if stem != "" {
				flat[stem] = true
				out = append(out, entry{stem: stem})
			}
		case t.IsDir():
			st, err := dir.Lstat(name + "/" + name + ".md")
			if err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
				out = append(out, entry{stem: name, bundle: true})
			}
		}
	}
	// A flat file and a bundle of the same stem cannot both be written by
	// us; if a hand edit made both, the flat one wins.
	n := 0
	for _, e := range out {
		if e.bundle && flat[e.stem] {
			continue
		}
		out[n] = e
		n++
	}
	out = out[:n]
	// Stems start with the UTC receipt time, so name order is time order.
	slices.SortFunc(out, func(a, b entry) int { return strings.Compare(b.stem, a.stem) })
	return out, nil
}

// headSize is how much of a .md is read first when only the frontmatter is
// needed; sent copies carry the whole signed MIME as their body.
const headSize = 4 << 10

// MaxFrontmatterBytes caps the frontmatter of a .md: one whose closing
// `+++` is not within it is refused, never read whole (H1).
const MaxFrontmatterBytes = 256 << 10

// readHead returns a prefix of the file name in dir that holds the whole
// frontmatter, reading into buf when it fits and never more than
// MaxFrontmatterBytes (or the whole file, when smaller), and the file's
// stat taken before any of it was read. The file must be a regular file
// within maxFile.
func readHead(dir *safefs.Dir, name string, buf []byte, maxFile int64) ([]byte, unix.Stat_t, error) {
	var st unix.Stat_t
	f, size, err := dir.OpenFile(name, maxFile)
	if err != nil {
		return nil, st, mapFileErr(err)
	}
	defer f.Close()
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, st, fmt.Errorf("fstat %s: %w", dir.Join(name), err)
	}
	n, err := io.ReadFull(f, buf)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return buf[:n], st, nil
	}
	if err != nil {
		return nil, st, fmt.Errorf("read %s: %w", dir.Join(name), err)
	}
	if i := bytes.Index(buf, []byte("\n+++\n")); i > 0 && !hasMultilineString(buf[:i]) {
		return buf, st, nil
	}
	limit := min(size, MaxFrontmatterBytes)
	out := make([]byte, limit)
	copy(out, buf)
	m, err := io.ReadFull(f, out[len(buf):])
	out = out[:len(buf)+m]
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, st, fmt.Errorf("read %s: %w", dir.Join(name), err)
	}
	if size > MaxFrontmatterBytes {
		// Cut at the end of the frontmatter: the body may be long (sent
		// copies), the frontmatter may not.
		end := bytes.Index(out[4:], []byte("\n+++\n"))
		if end < 0 {
			return nil, st, fmt.Errorf("%w: %s: no end of frontmatter within %d bytes", ErrTooLarge, dir.Join(name), MaxFrontmatterBytes)
		}
		out = out[:4+end+5]
	}
	return out, st, nil
}

// readHeadFrontmatter decodes the frontmatter from a pooled head buffer.
func (s *Store) readHeadFrontmatter(dir *safefs.Dir, name string) (*Frontmatter, error) {
	fm, _, err := s.readHeadFrontmatterStamp(dir, name)
	return fm, err
}

func hasMultilineString(b []byte) bool {
	return bytes.Contains(b, []byte(`"""`)) || bytes.Contains(b, []byte(`'''`))
}

// readLineValue returns the value of a `read = v` line.
func readLineValue(line []byte) (string, bool) {
	rest, ok := bytes.CutPrefix(line, []byte("read"))
	if !ok {
		return "", false
	}
	rest = bytes.TrimLeft(rest, " \t")
	rest, ok = bytes.CutPrefix(rest, []byte("="))
	if !ok {
		return "", false
	}
	v := bytes.TrimSpace(rest)
	if i := bytes.IndexByte(v, '#'); i >= 0 {
		v = bytes.TrimSpace(v[:i])
	}
	return string(v), true
}

// parallel runs fn(i) for i in [0,n) on a few workers, stopping at the
// first error or when ctx ends.
func parallel(ctx context.Context, n int, fn func(i int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(4, 2*runtime.GOMAXPROCS(0)))
	for i := range n {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			return fn(i)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// List returns one page of a folder, newest first, with the total number of
// messages matching the filters. Filtering and counting use the folder's
// index (index.go); only the page's own files are read. A mailbox with no
// storage lists as empty.
func (s *Store) List(ctx context.Context, q ListQuery) (*ListResult, error) {
	if q.Folder == "" {
		q.Folder = Inbox
	}
	if err := checkRef(q.Mailbox, q.Folder); err != nil {
		return nil, err
	}
	if q.Limit < 0 || q.Offset < 0 {
		return nil, fmt.Errorf("list: limit and offset must not be negative")
	}
	if q.Limit == 0 {
		q.Limit = DefaultListLimit
	}
	res, err := s.listOnce(ctx, q)
	if errors.Is(err, fs.ErrNotExist) {
		// A message vanished behind the Store's back: rebuild the index
		// from the files and try once more.
		s.dropIndex(q.Mailbox, q.Folder)
		res, err = s.listOnce(ctx, q)
	}
	if err != nil {
		return nil, fmt.Errorf("list %s/%s: %w", q.Mailbox, q.Folder, err)
	}
	return res, nil
}

func (s *Store) listOnce(ctx context.Context, q ListQuery) (*ListResult, error) {
	var ck *orderKey
	if q.Cursor != "" {
		var err error
		if ck, err = decodeCursor(q.Cursor, q.Oldest); err != nil {
			return nil, err
		}
	}
	if q.Label != "" {
		keep, err := s.labeledIDs(ctx, q.Mailbox, q.Folder, q.Label)
		if err != nil {
			return nil, err
		}
		if keep == nil {
			keep = map[string]bool{}
		}
		q.labeled = keep
	}
	idx, err := s.index(ctx, q.Mailbox, q.Folder, true)
	if err != nil {
		return nil, err
	}
	p := idx.query(q, ck)
	idx.unpin()
	if len(p.rows) == 0 {
		return &ListResult{Total: p.total}, nil
	}
	fdir, err := s.openFolder(q.Mailbox, q.Folder)
	if err != nil {
		return nil, err
	}
	defer fdir.Close()
	fms := make([]*Frontmatter, len(p.rows))
	err = parallel(ctx, len(p.rows), func(i int) error {
		fm, err := s.readHeadFrontmatter(fdir, p.rows[i].mdName())
		fms[i] = fm
		return err
	})
	if err != nil {
		return nil, err
	}
	if p.hashed {
		p = confirmHashed(p, fms, newMatcher(q), q)
	}
	res := &ListResult{Total: p.total, Messages: make([]Summary, len(p.rows))}
	for i, e := range p.rows {
		res.Messages[i] = Summary{ID: e.stem, Frontmatter: fms[i], Order: e.order}
	}
	if p.more && len(p.rows) > 0 {
		last := p.rows[len(p.rows)-1]
		res.NextCursor = EncodeCursor(q.Oldest, last.order, last.stem)
	}
	return res, nil
}

// confirmHashed keeps the candidates of a hashed filter whose files hold
// the values asked for, counts them, and pages those after the cursor
// (fms is the frontmatter of each candidate, in p.rows' order, and is
// rewritten to follow the page).
func confirmHashed(p indexPage, fms []*Frontmatter, m matcher, q ListQuery) indexPage {
	out := indexPage{}
	page := fms[:0]
	skipped := 0
	for i, e := range p.rows {
		if !m.confirm(fms[i]) {
			continue
		}
		out.total++
		switch {
		case i < p.split:
		case skipped < q.Offset:
			skipped++
		case len(out.rows) < q.Limit:
			out.rows = append(out.rows, e)
			page = append(page, fms[i])
		default:
			out.more = true
		}
	}
	return out
}

// Counts returns the inbox total, the unread count and the sent total, from
// the folders' indexes (or the counts they kept when evicted).
func (s *Store) Counts(ctx context.Context, ref MailboxRef) (Counts, error) {
	if err := ref.Validate(); err != nil {
		return Counts{}, err
	}
	var c Counts
	var err error
	if c.Total, c.Unread, err = s.folderCounts(ctx, ref, Inbox); err != nil {
		return Counts{}, fmt.Errorf("count %s: %w", ref, err)
	}
	if c.Sent, _, err = s.folderCounts(ctx, ref, Sent); err != nil {
		return Counts{}, fmt.Errorf("count %s: %w", ref, err)
	}
	return c, nil
}

// folderCounts answers from counts an evicted index kept, else loads the
// index (as a cold one: a count is no reason to keep entries in memory).
func (s *Store) folderCounts(ctx context.Context, ref MailboxRef, folder Folder) (total, unread int, err error) {
	idx := s.folderIndexOf(ref, folder)
	idx.mu.Lock()
	if idx.countsOK && !idx.building {
		total, unread = idx.total, idx.unread
		idx.mu.Unlock()
		return total, unread, nil
	}
	fresh := !idx.resident && !idx.building && !idx.headerTried && !idx.noTrust
	idx.headerTried = true
	idx.mu.Unlock()
	if fresh {
		// First count since the start: the cache file's header, if the
		// folder did not change since it was written.
		if t, u, ok := s.headerCounts(ref, folder); ok {
			idx.mu.Lock()
			if !idx.countsOK && !idx.resident && !idx.building {
				idx.total, idx.unread, idx.countsOK = t, u, true
			}
			total, unread, ok = idx.total, idx.unread, idx.countsOK && !idx.building
			idx.mu.Unlock()
			if ok {
				return total, unread, nil
			}
		}
	}
	if idx, err = s.index(ctx, ref, folder, false); err != nil {
		return 0, 0, err
	}
	defer idx.unpin()
	total, unread = idx.counts()
	return total, unread, nil
}
