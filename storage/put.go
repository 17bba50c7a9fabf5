package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
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
	// RawSource, when set (and Raw is nil), streams the .eml instead: it is
	// called once per write attempt and must yield exactly RawSize bytes
	// each time (trace headers followed by the spooled DATA, say), so a
	// large message is never held in memory (book/security.md).
	RawSource func() (io.Reader, error)
	// RawSize is the byte count RawSource yields; it becomes size_bytes
	// when the frontmatter leaves it zero.
	RawSize int64
	// Frontmatter of the .md. ID is filled by the store, as are Mailbox,
	// SizeBytes (from Raw) and Attachments when left empty.
	Frontmatter Frontmatter
	// Body of the .md: the text/plain part, or the HTML converted to Markdown.
	Body string
	// Attachments make the message a bundle dir.
	Attachments []Attachment
}

// Attachment is one attachment file to store in a bundle.
type Attachment struct {
	Filename    string // as the sender named it; sanitized before use
	ContentType string // parameters are dropped
	Data        []byte
}

// Stored describes a stored message.
type Stored struct {
	ID          string
	MDPath      string // the .md (the commit point)
	EMLPath     string // "" when no raw message was stored
	BundleDir   string // "" for a flat message
	Frontmatter Frontmatter
}

// Put stores one message and returns once it is durable: the .eml, the .md
// (and attachments) fsync'd, published without replacing anything, and the
// folder dir fsync'd in a commit shared with concurrent writers (SPEC §4).
// The .eml is published first and the .md last, so a message is visible
// only when whole.
func (s *Store) Put(ctx context.Context, req PutRequest) (*Stored, error) {
	if s.readOnly {
		return nil, ErrReadOnly
	}
	if err := checkRef(req.Mailbox, req.Folder); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	owner := req.Owner
	if !s.chown {
		owner = nil
	}
	f, err := s.folder(req.Mailbox, req.Folder, owner)
	if err != nil {
		return nil, err
	}
	at := req.At
	if at.IsZero() {
		at = s.now()
	}
	base := BaseStem(at, req.Frontmatter.Subject)
	for range maxStemAttempts {
		stem := f.reserve(base)
		var st *Stored
		if len(req.Attachments) > 0 {
			st, err = s.putBundle(f.dir, stem, &req, owner)
		} else {
			st, err = s.putFlat(f.dir, stem, &req, owner)
		}
		if errors.Is(err, ErrExist) {
			continue // published by someone else; the stem stays taken
		}
		if err != nil {
			return nil, fmt.Errorf("store message in %s/%s: %w", req.Mailbox, req.Folder, err)
		}
		s.indexUpsert(req.Mailbox, req.Folder, newIndexEntry(st.ID, st.BundleDir != "", &st.Frontmatter))
		return st, nil
	}
	return nil, fmt.Errorf("store message in %s/%s: no free name for %s", req.Mailbox, req.Folder, base)
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
	} else if fm.SizeBytes == 0 && req.RawSource != nil {
		fm.SizeBytes = req.RawSize
	}
	fm.Attachments = append([]AttachmentInfo(nil), fm.Attachments...)
	return fm
}

func (s *Store) putFlat(dir, stem string, req *PutRequest, owner *Owner) (*Stored, error) {
	fm := frontmatterFor(req, stem)
	opts := WriteOptions{Mode: 0o600, NoReplace: true, Owner: owner, SkipDirSync: true}
	st := &Stored{ID: stem, MDPath: filepath.Join(dir, stem+".md"), Frontmatter: fm}
	if req.hasRaw() {
		st.EMLPath = filepath.Join(dir, stem+".eml")
		if err := s.writeRaw(st.EMLPath, req, opts); err != nil {
			return nil, err
		}
	}
	if err := s.w.WriteFile(st.MDPath, EncodeMD(&fm, req.Body), opts); err != nil {
		if st.EMLPath != "" && errors.Is(err, ErrExist) {
			// Our .eml was linked under a fresh name, so it is ours to remove.
			if rerr := os.Remove(st.EMLPath); rerr != nil {
				return nil, errors.Join(err, fmt.Errorf("remove orphan .eml: %w", rerr))
			}
		}
		return nil, err
	}
	if err := s.syncer.Sync(dir); err != nil {
		return nil, err
	}
	return st, nil
}

// putBundle builds `<stem>/` under a dot-named temp dir (attachments, then
// .eml, then .md), fsyncs it, and renames it into place without replacing.
func (s *Store) putBundle(dir, stem string, req *PutRequest, owner *Owner) (st *Stored, err error) {
	var r [8]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails on Linux
	tmp := filepath.Join(dir, ".bundle-"+stem+"-"+hex.EncodeToString(r[:]))
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("create bundle temp dir: %w", err)
	}
	published := false
	defer func() {
		if !published && err != nil && !isFault(err) {
			if rerr := os.RemoveAll(tmp); rerr != nil {
				err = errors.Join(err, fmt.Errorf("remove bundle temp dir: %w", rerr))
			}
		}
	}()
	if err := os.Chmod(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("chmod bundle temp dir: %w", err)
	}
	if owner != nil {
		if err := os.Lchown(tmp, owner.UID, owner.GID); err != nil {
			return nil, fmt.Errorf("chown bundle temp dir: %w", err)
		}
	}
	fm := frontmatterFor(req, stem)
	opts := WriteOptions{Mode: 0o600, NoReplace: true, Owner: owner, SkipDirSync: true}
	names := newAttachmentNamer(stem)
	for _, a := range req.Attachments {
		name := names.name(a.Filename)
		if err := s.w.WriteFile(filepath.Join(tmp, name), a.Data, opts); err != nil {
			return nil, err
		}
		fm.Attachments = append(fm.Attachments, AttachmentInfo{
			Filename:    name,
			ContentType: bareContentType(a.ContentType),
			Size:        int64(len(a.Data)),
			Path:        name,
		})
	}
	final := filepath.Join(dir, stem)
	st = &Stored{ID: stem, BundleDir: final, MDPath: filepath.Join(final, stem+".md"), Frontmatter: fm}
	if req.hasRaw() {
		st.EMLPath = filepath.Join(final, stem+".eml")
		if err := s.writeRaw(filepath.Join(tmp, stem+".eml"), req, opts); err != nil {
			return nil, err
		}
	}
	if err := s.w.WriteFile(filepath.Join(tmp, stem+".md"), EncodeMD(&fm, req.Body), opts); err != nil {
		return nil, err
	}
	if err := s.w.SyncDir(tmp); err != nil {
		return nil, err
	}
	if err := s.w.PublishDir(tmp, final, true); err != nil {
		return nil, err
	}
	published = true
	if err := s.syncer.Sync(dir); err != nil {
		return nil, err
	}
	return st, nil
}

func (r *PutRequest) hasRaw() bool { return r.Raw != nil || r.RawSource != nil }

// writeRaw writes the .eml from Raw or, streaming, from RawSource, and
// checks that RawSource yielded the RawSize bytes it promised.
func (s *Store) writeRaw(path string, req *PutRequest, opts WriteOptions) error {
	if req.Raw != nil {
		return s.w.WriteFile(path, req.Raw, opts)
	}
	r, err := req.RawSource()
	if err != nil {
		return fmt.Errorf("open raw message: %w", err)
	}
	n, err := s.w.WriteFrom(path, r, opts)
	if err != nil {
		return err
	}
	if n != req.RawSize {
		return fmt.Errorf("raw message: wrote %d bytes, want %d", n, req.RawSize)
	}
	return nil
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
