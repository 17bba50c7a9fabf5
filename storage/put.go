package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/aimx-dev/aimx/internal/safefs"
)

// maxStemAttempts bounds the retries when another writer publishes the
// stem we reserved (another process sharing the dir); it never happens
// with one daemon.
const maxStemAttempts = 1000

// PutRequest is one message to store: an inbound message for one mailbox,
// or the sent copy of an outbound one.
type PutRequest struct {
	Mailbox MailboxRef
	Folder  Folder // Inbox or Sent; Sent marks the frontmatter Outbound
	// Owner of the files and mailbox dirs (chowned when running as root).
	Owner *Owner
	// At is the receipt (or submission) time that names the stem; zero
	// means the store's clock.
	At time.Time
	// Raw is the exact .eml bytes (trace headers + the bytes received, or
	// the signed bytes sent); nil stores no .eml unless RawSource is set.
	Raw []byte
	// RawFrom, when set (and Raw is nil), streams the .eml instead (trace
	// headers followed by the spooled DATA, say), so a large message is
	// never held in memory (book/security.md). Its Size becomes size_bytes
	// when the frontmatter leaves that zero.
	RawFrom Source
	// Frontmatter of the .md. ID is filled by the store, as are Mailbox,
	// SizeBytes (from Raw) and Attachments when left empty.
	Frontmatter Frontmatter
	// Body of the .md: the text/plain part, or the HTML converted to Markdown.
	Body string
	// BodyFrom, when set, streams the body instead of Body.
	BodyFrom Source
	// Attachments make the message a bundle dir.
	Attachments []Attachment

	// ID, when set, is the id to store under instead of one made from At
	// and the subject: `aimx storage export|import` keeps ids, so cursors,
	// threads and links stay valid (book/scale-out.md). A taken id fails
	// with an error wrapping ErrExist.
	ID string
	// DedupKey and DedupWindow, when set on an inbox Put, let a store
	// shared by several nodes refuse a re-delivery that another node
	// stored within the window: such a Put stores nothing and fails with
	// an error wrapping ErrDuplicate (book/smtp.md, "Deduplication"). The
	// file store leaves dedup to intake's in-process index and ignores
	// them.
	DedupKey    string
	DedupWindow time.Duration
}

// ErrDuplicate is returned by a Put that a shared store refused as a
// re-delivery (PutRequest.DedupKey): nothing was stored, and intake
// answers 250 and fires nothing, as for any duplicate.
var ErrDuplicate = errors.New("duplicate delivery")

// Attachment is one attachment file to store in a bundle.
type Attachment struct {
	Filename    string // as the sender named it; sanitized before use
	ContentType string // parameters are dropped
	Data        []byte
	// From, when set, streams the decoded content instead of Data.
	From Source
}

// Stored describes a stored message: its id and the frontmatter it was
// stored with (id, mailbox, size and attachments filled in).
type Stored struct {
	ID          string
	Frontmatter Frontmatter
}

// Put stores one message and returns once it is durable: the .eml, the .md
// (and attachments) fsync'd, published without replacing anything, and the
// folder dir fsync'd in a commit shared with concurrent writers (book/storage.md).
// The .eml is published first and the .md last, so a message is visible
// only when whole. Every step works through the folder dir held open
// (book/security.md).
func (s *Store) Put(ctx context.Context, req PutRequest) (*Stored, error) {
	if s.readOnly {
		return nil, ErrReadOnly
	}
	if err := checkRef(req.Mailbox, req.Folder); err != nil {
		return nil, err
	}
	if req.Folder != Inbox && req.Folder != Sent {
		// Archive and trash are reached by Move only (book/storage.md).
		return nil, fmt.Errorf("%w %q: mail is stored in inbox or sent", ErrInvalidFolder, string(req.Folder))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, fdir, err := s.openForPut(req)
	if err != nil {
		return nil, err
	}
	defer fdir.Close()
	fo := s.fileOwner(req.Owner)
	at := req.At
	if at.IsZero() {
		at = s.now()
	}
	base := BaseStem(at, req.Frontmatter.Subject)
	if req.ID != "" {
		if err := ValidateID(req.ID); err != nil {
			return nil, err
		}
		if !f.reserveExact(req.ID) {
			return nil, fmt.Errorf("store message in %s/%s as %s: %w", req.Mailbox, req.Folder, req.ID, ErrExist)
		}
	}
	for range maxStemAttempts {
		stem := req.ID
		if stem == "" {
			stem = f.reserve(base)
		}
		var st *Stored
		bundle := len(req.Attachments) > 0
		if bundle {
			st, err = s.putBundle(fdir, stem, &req, fo)
		} else {
			st, err = s.putFlat(fdir, stem, &req, fo)
		}
		if errors.Is(err, ErrExist) {
			if req.ID != "" {
				return nil, fmt.Errorf("store message in %s/%s as %s: %w", req.Mailbox, req.Folder, req.ID, ErrExist)
			}
			continue // published by someone else; the stem stays taken
		}
		if err != nil {
			return nil, fmt.Errorf("store message in %s/%s: %w", req.Mailbox, req.Folder, err)
		}
		s.indexUpsert(req.Mailbox, req.Folder, newIndexEntry(st.ID, bundle, &st.Frontmatter))
		s.labelsSet(req.Mailbox, req.Folder, st.ID, st.Frontmatter.Labels())
		return st, nil
	}
	return nil, fmt.Errorf("store message in %s/%s: no free name for %s", req.Mailbox, req.Folder, base)
}

// openForPut returns the folder's stem state and the folder dir held open.
// A folder whose dirs were removed behind the store's back (by hand, not
// through RemoveMailbox) is set up again once, as the first write to a
// mailbox does (book/storage.md), so intake keeps storing.
func (s *Store) openForPut(req PutRequest) (*folderState, *safefs.Dir, error) {
	for attempt := 0; ; attempt++ {
		f, err := s.folder(req.Mailbox, req.Folder, req.Owner)
		if err != nil {
			return nil, nil, err
		}
		fdir, err := s.openFolder(req.Mailbox, req.Folder)
		if err == nil {
			return f, fdir, nil
		}
		if attempt > 0 || !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("store message: %w", err)
		}
		s.forgetFolder(f)
	}
}

// forgetFolder drops a folder's stem state, so the next write sets the
// folder up again.
func (s *Store) forgetFolder(f *folderState) {
	s.mu.Lock()
	if s.boxes[f.dir] == f {
		delete(s.boxes, f.dir)
	}
	s.mu.Unlock()
}

// frontmatterFor completes the caller's frontmatter for stem.
func frontmatterFor(req *PutRequest, stem string) Frontmatter {
	fm := req.Frontmatter
	fm.ID = stem
	if fm.Mailbox == "" {
		fm.Mailbox = req.Mailbox.String()
	}
	if req.Folder == Sent {
		fm.Outbound = true
	}
	if fm.SizeBytes == 0 && req.Raw != nil {
		fm.SizeBytes = int64(len(req.Raw))
	} else if fm.SizeBytes == 0 && req.RawFrom != nil {
		fm.SizeBytes = req.RawFrom.Size()
	}
	fm.Attachments = append([]AttachmentInfo(nil), fm.Attachments...)
	return fm
}

func (s *Store) putFlat(dir *safefs.Dir, stem string, req *PutRequest, fo *Owner) (*Stored, error) {
	fm := frontmatterFor(req, stem)
	opts := WriteOptions{Mode: mailboxFileMode, NoReplace: true, Owner: fo, SkipDirSync: true}
	st := &Stored{ID: stem, Frontmatter: fm}
	if req.hasRaw() {
		if err := s.writeRaw(dir, stem+".eml", req, opts); err != nil {
			return nil, err
		}
	}
	if err := s.writeMD(dir, stem+".md", &fm, req, opts); err != nil {
		if req.hasRaw() && errors.Is(err, ErrExist) {
			// Our .eml was linked under a fresh name, so it is ours to remove.
			if rerr := dir.Remove(stem + ".eml"); rerr != nil {
				return nil, errors.Join(err, fmt.Errorf("remove orphan .eml: %w", rerr))
			}
		}
		return nil, err
	}
	if err := s.syncer.SyncAt(dir); err != nil {
		return nil, err
	}
	return st, nil
}

// putBundle builds `<stem>/` under a dot-named temp dir (attachments, then
// .eml, then .md), fsyncs it, and renames it into place without replacing.
// The temp dir is created and then used only through its descriptor, so
// swapping it for a symlink sends nothing anywhere else (C3).
func (s *Store) putBundle(dir *safefs.Dir, stem string, req *PutRequest, fo *Owner) (st *Stored, err error) {
	var r [8]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails on Linux
	tmpName := ".bundle-" + stem + "-" + hex.EncodeToString(r[:])
	tmp, err := dir.Mkdir(tmpName, mailboxDirMode, fo)
	if err != nil {
		return nil, fmt.Errorf("create bundle temp dir: %w", err)
	}
	defer tmp.Close()
	published := false
	defer func() {
		if !published && err != nil && !isFault(err) {
			if _, rerr := dir.RemoveAll(tmpName); rerr != nil {
				err = errors.Join(err, fmt.Errorf("remove bundle temp dir: %w", rerr))
			}
		}
	}()
	s.seam(SeamBundleTempMade, tmp.Path())
	fm := frontmatterFor(req, stem)
	opts := WriteOptions{Mode: mailboxFileMode, NoReplace: true, Owner: fo, SkipDirSync: true}
	names := NewAttachmentNamer(stem)
	for _, a := range req.Attachments {
		name := names.Name(a.Filename)
		src := a.From
		if src == nil {
			src = bytes.NewReader(a.Data)
		}
		if _, err := s.w.WriteAt(tmp, name, io.NewSectionReader(src, 0, src.Size()), opts); err != nil {
			return nil, err
		}
		fm.Attachments = append(fm.Attachments, AttachmentInfo{
			Filename:    name,
			ContentType: bareContentType(a.ContentType),
			Size:        src.Size(),
			Path:        name,
		})
	}
	st = &Stored{ID: stem, Frontmatter: fm}
	if req.hasRaw() {
		if err := s.writeRaw(tmp, stem+".eml", req, opts); err != nil {
			return nil, err
		}
	}
	if err := s.writeMD(tmp, stem+".md", &fm, req, opts); err != nil {
		return nil, err
	}
	if err := s.w.SyncDirAt(tmp); err != nil {
		return nil, err
	}
	if err := s.w.PublishDirAt(dir, tmpName, stem, true); err != nil {
		return nil, err
	}
	published = true
	if err := s.syncer.SyncAt(dir); err != nil {
		return nil, err
	}
	return st, nil
}

func (r *PutRequest) hasRaw() bool { return r.Raw != nil || r.RawFrom != nil }

// writeRaw writes the .eml from Raw or, streaming, from RawFrom.
func (s *Store) writeRaw(dir *safefs.Dir, name string, req *PutRequest, opts WriteOptions) error {
	if req.Raw != nil {
		return s.w.WriteFileAt(dir, name, req.Raw, opts)
	}
	_, err := s.w.WriteAt(dir, name, io.NewSectionReader(req.RawFrom, 0, req.RawFrom.Size()), opts)
	return err
}

// writeMD writes the .md: EncodeMD's bytes, streamed when the body comes
// from BodyFrom.
func (s *Store) writeMD(dir *safefs.Dir, name string, fm *Frontmatter, req *PutRequest, opts WriteOptions) error {
	if req.BodyFrom == nil {
		return s.w.WriteFileAt(dir, name, EncodeMD(fm, req.Body), opts)
	}
	body := req.BodyFrom
	head := append(append([]byte("+++\n"), EncodeFrontmatter(fm)...), "+++\n\n"...)
	parts := []Source{bytes.NewReader(head), body}
	var last [1]byte
	if n := body.Size(); n == 0 {
		parts = append(parts, bytes.NewReader([]byte("\n")))
	} else if _, err := body.ReadAt(last[:], n-1); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read body: %w", err)
	} else if last[0] != '\n' {
		parts = append(parts, bytes.NewReader([]byte("\n")))
	}
	all := ConcatSource(parts...)
	_, err := s.w.WriteAt(dir, name, io.NewSectionReader(all, 0, all.Size()), opts)
	return err
}

// isFault reports an error injected through Writer.Fault: a simulated
// crash, after which nothing may be cleaned up.
func isFault(err error) bool {
	var f *FaultError
	return errors.As(err, &f)
}

// bareContentType drops parameters: `text/plain; charset=utf-8` -> `text/plain`.
func bareContentType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.ToLower(strings.TrimSpace(ct))
	if ct == "" {
		return "application/octet-stream"
	}
	return ct
}
