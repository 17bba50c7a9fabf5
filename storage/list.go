package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// DefaultListLimit is the page size when ListQuery.Limit is zero.
const DefaultListLimit = 50

// ListQuery selects a page of a folder. Filters combine with AND.
type ListQuery struct {
	Mailbox MailboxRef
	Folder  Folder // "" means Inbox
	Limit   int    // 0 means DefaultListLimit
	Offset  int
	Unread  bool      // only messages not marked read
	From    string    // case-insensitive substring of `from`
	Subject string    // case-insensitive substring of `subject`
	Since   time.Time // received at or after (the stem's UTC receipt time)
}

// Summary is one listed message: its id and its frontmatter.
type Summary struct {
	ID          string
	Frontmatter *Frontmatter
}

// ListResult is one page, newest first, and how many messages match in all.
type ListResult struct {
	Messages []Summary
	Total    int
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
}

func (e entry) mdPath(dir string) string {
	if e.bundle {
		return filepath.Join(dir, e.stem, e.stem+".md")
	}
	return filepath.Join(dir, e.stem+".md")
}

// listEntries returns the messages in dir, newest first: flat `<stem>.md`
// files and bundle dirs holding `<stem>/<stem>.md`. Dot-names, symlinks,
// `.eml` files without their `.md` and anything else are ignored. A
// missing dir has no messages.
func listEntries(dir string) ([]entry, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
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
			fi, err := os.Lstat(filepath.Join(dir, name, name+".md"))
			if err == nil && fi.Mode().IsRegular() {
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
	sort.Slice(out, func(i, j int) bool { return out[i].stem > out[j].stem })
	return out, nil
}

// headSize is how much of a .md is read first when only the frontmatter is
// needed; sent copies carry the whole signed MIME as their body.
const headSize = 4 << 10

// readFrontmatter reads and decodes only the frontmatter of a .md file.
func readFrontmatter(path string) (*Frontmatter, error) {
	buf := make([]byte, headSize)
	head, err := readHead(path, buf)
	if err != nil {
		return nil, err
	}
	fm, _, err := DecodeMD(head)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return fm, nil
}

// readHead returns a prefix of the file that holds the whole frontmatter
// (the whole file when the frontmatter is longer than buf or unusual),
// reading into buf when it fits.
func readHead(path string, buf []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n, err := io.ReadFull(f, buf)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return buf[:n], nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if i := bytes.Index(buf, []byte("\n+++\n")); i > 0 && !hasMultilineString(buf[:i]) {
		return buf, nil
	}
	rest, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return append(append([]byte(nil), buf...), rest...), nil
}

func hasMultilineString(b []byte) bool {
	return bytes.Contains(b, []byte(`"""`)) || bytes.Contains(b, []byte(`'''`))
}

// readState reports whether a message is marked read, by a line scan of
// the frontmatter's top-level `read = ...` line (what Rust does too),
// falling back to a full decode for frontmatter the scan cannot trust.
func (s *Store) readState(path string) (bool, error) {
	bp, _ := s.heads.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, headSize)
		bp = &b
	}
	defer s.heads.Put(bp)
	head, err := readHead(path, *bp)
	if err != nil {
		return false, err
	}
	if read, ok := scanRead(head); ok {
		return read, nil
	}
	fm, _, err := DecodeMD(head)
	if err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	return fm.Read, nil
}

// scanRead finds the top-level read line between the +++ lines. ok is
// false when the file is not plainly shaped (multi-line strings, no
// closing line), so the caller decodes it properly.
func scanRead(data []byte) (read, ok bool) {
	if !bytes.HasPrefix(data, []byte("+++\n")) {
		return false, false
	}
	end := bytes.Index(data, []byte("\n+++\n"))
	if end < 0 {
		return false, false
	}
	fm := data[4 : end+1]
	if hasMultilineString(fm) {
		return false, false
	}
	for len(fm) > 0 {
		i := bytes.IndexByte(fm, '\n')
		line := fm[:i]
		fm = fm[i+1:]
		if len(line) > 0 && line[0] == '[' {
			break // tables follow; read is a top-level key
		}
		if v, isRead := readLineValue(line); isRead {
			switch v {
			case "true":
				return true, true
			case "false":
				return false, true
			}
			return false, false
		}
	}
	return false, true // no read line: not read (sent copies)
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
// messages matching the filters. A mailbox with no storage lists as empty.
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
	dir := s.folderDir(q.Mailbox, q.Folder)
	entries, err := listEntries(dir)
	if err != nil {
		return nil, err
	}
	if !q.Since.IsZero() {
		entries = sinceFilter(entries, q.Since)
	}
	needFM := q.From != "" || q.Subject != ""
	if q.Unread || needFM {
		match := make([]bool, len(entries))
		from, subject := strings.ToLower(q.From), strings.ToLower(q.Subject)
		err := parallel(ctx, len(entries), func(i int) error {
			p := entries[i].mdPath(dir)
			if !needFM {
				read, err := s.readState(p)
				if err != nil {
					return skipBroken(err)
				}
				match[i] = !read
				return nil
			}
			fm, err := readFrontmatter(p)
			if err != nil {
				return skipBroken(err)
			}
			match[i] = (!q.Unread || !fm.Read) &&
				strings.Contains(strings.ToLower(fm.From), from) &&
				strings.Contains(strings.ToLower(fm.Subject), subject)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list %s/%s: %w", q.Mailbox, q.Folder, err)
		}
		n := 0
		for i, e := range entries {
			if match[i] {
				entries[n] = e
				n++
			}
		}
		entries = entries[:n]
	}
	res := &ListResult{Total: len(entries)}
	if q.Offset >= len(entries) {
		return res, nil
	}
	page := entries[q.Offset:min(len(entries), q.Offset+q.Limit)]
	res.Messages = make([]Summary, len(page))
	err = parallel(ctx, len(page), func(i int) error {
		fm, err := readFrontmatter(page[i].mdPath(dir))
		if err != nil {
			return err
		}
		res.Messages[i] = Summary{ID: page[i].stem, Frontmatter: fm}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s/%s: %w", q.Mailbox, q.Folder, err)
	}
	return res, nil
}

// skipBroken lets a filter pass over a message removed meanwhile; other
// errors stop the listing.
func skipBroken(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// sinceFilter keeps messages whose stem time is at or after since.
// Entries are newest first, so it stops at the first older one; a stem
// without a time is kept.
func sinceFilter(entries []entry, since time.Time) []entry {
	out := entries[:0]
	for _, e := range entries {
		t, ok := stemTime(e.stem)
		if ok && t.Before(since.Truncate(time.Second)) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// Counts returns the inbox total, the unread count and the sent total.
func (s *Store) Counts(ctx context.Context, ref MailboxRef) (Counts, error) {
	if err := ref.Validate(); err != nil {
		return Counts{}, err
	}
	inboxDir := s.folderDir(ref, Inbox)
	inbox, err := listEntries(inboxDir)
	if err != nil {
		return Counts{}, err
	}
	sent, err := listEntries(s.folderDir(ref, Sent))
	if err != nil {
		return Counts{}, err
	}
	unread := make([]bool, len(inbox))
	err = parallel(ctx, len(inbox), func(i int) error {
		read, err := s.readState(inbox[i].mdPath(inboxDir))
		if err != nil {
			return skipBroken(err)
		}
		unread[i] = !read
		return nil
	})
	if err != nil {
		return Counts{}, fmt.Errorf("count %s: %w", ref, err)
	}
	c := Counts{Total: len(inbox), Sent: len(sent)}
	for _, u := range unread {
		if u {
			c.Unread++
		}
	}
	return c, nil
}
