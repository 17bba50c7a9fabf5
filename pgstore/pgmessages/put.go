package pgmessages

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/aimx-dev/aimx/storage"
)

// maxStemAttempts bounds the tries for a free id (each one lost to another
// writer that took the id first).
const maxStemAttempts = 1000

// prepared is a PutRequest's content, read and checked before the
// transaction starts.
type prepared struct {
	raw         []byte // nil: no .eml
	body        []byte // the .md body, ending in "\n"
	attachments []attachmentRow
	infos       []storage.AttachmentInfo
}

type attachmentRow struct {
	name, contentType string
	data              []byte
}

// Put stores one message in one transaction: the mailbox row when it is
// new, the message, its attachments, its dedup key and the new-mail
// notice; it returns once the transaction committed. The id is the stem
// of At and the subject (storage.BaseStem), with -2, -3 ... when taken,
// found by the database's primary key so two nodes never take one id; or
// PutRequest.ID, which fails with storage.ErrExist when taken. An inbox
// Put with a DedupKey that any node stored within DedupWindow stores
// nothing and fails with an error wrapping storage.ErrDuplicate.
func (s *Store) Put(ctx context.Context, req storage.PutRequest) (*storage.Stored, error) {
	if err := checkRef(req.Mailbox, req.Folder); err != nil {
		return nil, err
	}
	if req.Folder != storage.Inbox && req.Folder != storage.Sent {
		return nil, fmt.Errorf("%w %q: mail is stored in inbox or sent", storage.ErrInvalidFolder, string(req.Folder))
	}
	if req.ID != "" {
		if err := storage.ValidateID(req.ID); err != nil {
			return nil, err
		}
		if !utf8.ValidString(req.ID) {
			return nil, fmt.Errorf("%w %q: not UTF-8", storage.ErrInvalidID, req.ID)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := s.prepare(&req)
	if err != nil {
		return nil, fmt.Errorf("store message in %s/%s: %w", req.Mailbox, req.Folder, err)
	}
	at := req.At
	if at.IsZero() {
		at = s.now()
	}
	var st *storage.Stored
	var held []stemKey
	// The ids this Put tries stay claimed in this node until its
	// transaction ended, so its other Puts do not wait on them (stems.go).
	defer func() { s.stems.release(held) }()
	err = pgx.BeginFunc(ctx, s.db.Pool, func(tx pgx.Tx) error {
		st, err = s.putTx(ctx, tx, &req, p, at, &held)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store message in %s/%s: %w", req.Mailbox, req.Folder, err)
	}
	s.noticeAfterCommit(ctx, req.Mailbox, req.Folder, st.ID)
	if rand.IntN(compactAt) == 0 {
		// Now and then, fold the folder's count rows (a folder nobody
		// lists would gather one per message) and drop the dedup keys
		// past their window.
		if mbox, ok, err := mailboxID(ctx, s.db.Pool, req.Mailbox, false); err == nil && ok {
			s.compactIf(ctx, mbox, req.Folder, compactAt)
			if req.DedupKey != "" {
				_, _ = s.pruneDedup(ctx, mbox, req.DedupWindow)
			}
		}
	}
	return st, nil
}

// pruneDedup removes a mailbox's dedup keys stored before the window
// (they refuse nothing any more) and reports how many.
func (s *Store) pruneDedup(ctx context.Context, mbox int64, window time.Duration) (int64, error) {
	tag, err := s.db.Pool.Exec(ctx, `DELETE FROM aimx.dedup WHERE mailbox = $1 AND received_at < now() - $2::bigint * interval '1 microsecond'`,
		mbox, window.Microseconds())
	if err != nil {
		return 0, fmt.Errorf("prune dedup keys: %w", err)
	}
	return tag.RowsAffected(), nil
}

// prepare reads the streamed parts, within the cap, and names the
// attachments.
func (s *Store) prepare(req *storage.PutRequest) (*prepared, error) {
	p := &prepared{}
	var err error
	switch {
	case req.Raw != nil:
		if int64(len(req.Raw)) > s.maxFile {
			return nil, s.tooLarge("raw message", int64(len(req.Raw)))
		}
		p.raw = req.Raw
	case req.RawFrom != nil:
		if p.raw, err = s.readSource("raw message", req.RawFrom); err != nil {
			return nil, err
		}
	}
	if req.BodyFrom != nil {
		if p.body, err = s.readSource("body", req.BodyFrom); err != nil {
			return nil, err
		}
	} else {
		p.body = []byte(req.Body)
	}
	if !bytes.HasSuffix(p.body, []byte("\n")) {
		p.body = append(p.body, '\n') // the .md format's rule (storage.EncodeMD)
	}
	if int64(len(p.body)) > s.maxFile {
		return nil, s.tooLarge("body", int64(len(p.body)))
	}
	return p, nil
}

// nameAttachments reads the attachments for a message stored as stem.
func (s *Store) nameAttachments(req *storage.PutRequest, p *prepared, stem string) error {
	p.attachments, p.infos = nil, nil
	names := storage.NewAttachmentNamer(stem)
	for _, a := range req.Attachments {
		data := a.Data
		if a.From != nil {
			var err error
			if data, err = s.readSource("attachment", a.From); err != nil {
				return err
			}
		} else if int64(len(data)) > s.maxFile {
			return s.tooLarge("attachment", int64(len(data)))
		}
		name := names.Name(a.Filename)
		ct := bareContentType(a.ContentType)
		p.attachments = append(p.attachments, attachmentRow{name: name, contentType: text(ct), data: data})
		p.infos = append(p.infos, storage.AttachmentInfo{Filename: name, ContentType: ct, Size: int64(len(data)), Path: name})
	}
	return nil
}

func (s *Store) tooLarge(what string, n int64) error {
	return fmt.Errorf("%w: %s of %d bytes (cap %d)", storage.ErrTooLarge, what, n, s.maxFile)
}

// readSource reads a whole Source within the cap.
func (s *Store) readSource(what string, src storage.Source) ([]byte, error) {
	n := src.Size()
	if n > s.maxFile {
		return nil, s.tooLarge(what, n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(io.NewSectionReader(src, 0, n), b); err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	return b, nil
}

// frontmatterFor completes the caller's frontmatter for stem, as the file
// store does.
func frontmatterFor(req *storage.PutRequest, p *prepared, stem string) storage.Frontmatter {
	fm := req.Frontmatter
	fm.ID = stem
	if fm.Mailbox == "" {
		fm.Mailbox = req.Mailbox.String()
	}
	if req.Folder == storage.Sent {
		fm.Outbound = true
	}
	if fm.SizeBytes == 0 && p.raw != nil {
		fm.SizeBytes = int64(len(p.raw))
	}
	fm.Attachments = append(append([]storage.AttachmentInfo(nil), fm.Attachments...), p.infos...)
	return fm
}

const insertMessage = `INSERT INTO aimx.messages (mailbox, folder, id, skey, ord, at_sec, received_at,
	message_id, thread_id, from_lc, subject_lc, trusted, read, labels, outbound, delivery_status, deleted_at,
	size_bytes, files, frontmatter, body, raw)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
ON CONFLICT (mailbox, folder, id) DO NOTHING`

func (s *Store) putTx(ctx context.Context, tx pgx.Tx, req *storage.PutRequest, p *prepared, at time.Time, held *[]stemKey) (*storage.Stored, error) {
	mbox, _, err := mailboxID(ctx, tx, req.Mailbox, true)
	if err != nil {
		return nil, err
	}
	base := storage.BaseStem(at, req.Frontmatter.Subject)
	stem := req.ID
	if stem == "" {
		stem = s.stems.start(mbox, req.Folder, base)
	}
	var fm storage.Frontmatter
	for attempt := 0; ; attempt++ {
		if attempt == maxStemAttempts {
			return nil, fmt.Errorf("no free name for %s", base)
		}
		key := stemKey{mbox: mbox, folder: req.Folder, id: stem}
		if !s.stems.claim(key) {
			if req.ID != "" {
				return nil, fmt.Errorf("as %s: %w", req.ID, storage.ErrExist)
			}
			stem = bumpStem(base, stem) // another Put of this node is inserting it
			continue
		}
		*held = append(*held, key)
		if req.ID == "" {
			s.stems.tried(mbox, req.Folder, base, stem)
		}
		if err := s.nameAttachments(req, p, stem); err != nil {
			return nil, err
		}
		fm = frontmatterFor(req, p, stem)
		ok, err := s.insert(ctx, tx, mbox, req.Folder, stem, &fm, p)
		if err != nil {
			return nil, err
		}
		if ok {
			break
		}
		if req.ID != "" {
			return nil, fmt.Errorf("as %s: %w", req.ID, storage.ErrExist)
		}
		if stem, err = nextStem(ctx, tx, mbox, req.Folder, base); err != nil {
			return nil, err
		}
	}
	for _, a := range p.attachments {
		_, err := tx.Exec(ctx, `INSERT INTO aimx.attachments (mailbox, folder, id, filename, content_type, data)
			VALUES ($1, $2, $3, $4, $5, $6)`, mbox, string(req.Folder), stem, a.name, a.contentType, a.data)
		if err != nil {
			return nil, fmt.Errorf("store attachment %q: %w", a.name, err)
		}
	}
	if req.Folder == storage.Inbox && req.DedupKey != "" {
		if err := dedup(ctx, tx, mbox, req, stem); err != nil {
			return nil, err
		}
	}
	return &storage.Stored{ID: stem, Frontmatter: fm}, nil
}

// insert adds the message row; false when its id is taken (the primary
// key waits for a concurrent writer of the same id to commit or roll back).
func (s *Store) insert(ctx context.Context, tx pgx.Tx, mbox int64, folder storage.Folder, id string,
	fm *storage.Frontmatter, p *prepared) (bool, error) {
	c := columnsOf(fm, folder)
	var atSec *int64
	if sec, ok := stemSecond(id); ok {
		atSec = &sec
	}
	var received *time.Time
	if !fm.ReceivedAt.IsZero() {
		received = &fm.ReceivedAt
	}
	// The place within the second: received_at when it has a part below
	// the second, else the time of the write, as the file store takes the
	// .eml's mtime; no .eml, no place (ordered by id).
	var ord int64
	switch {
	case fm.ReceivedAt.Nanosecond() != 0:
		ord = receiptOrder(id, fm.ReceivedAt)
	case p.raw != nil:
		ord = receiptOrder(id, s.now())
	}
	files := 1 + len(p.attachments)
	if p.raw != nil {
		files++
	}
	tag, err := tx.Exec(ctx, insertMessage, mbox, string(folder), id, sortKey(id), ord, atSec, received,
		c.messageID, c.threadID, c.fromLC, c.subjectLC, c.trusted, c.read, c.labels, fm.Outbound, c.deliveryStatus,
		c.deletedAt, fm.SizeBytes, files, storage.EncodeFrontmatter(fm), p.body, p.raw)
	if err != nil {
		return false, fmt.Errorf("insert message: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// nextStem returns base-N for the first N above every one taken (N >= 2).
func nextStem(ctx context.Context, tx pgx.Tx, mbox int64, folder storage.Folder, base string) (string, error) {
	rows, err := tx.Query(ctx, `SELECT id FROM aimx.messages WHERE mailbox = $1 AND folder = $2 AND id > $3 AND id < $4`,
		mbox, string(folder), base+"-", base+".")
	if err != nil {
		return "", fmt.Errorf("find a free id: %w", err)
	}
	taken, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", fmt.Errorf("find a free id: %w", err)
	}
	n := 2
	for _, id := range taken {
		if k, err := strconv.Atoi(strings.TrimPrefix(id, base+"-")); err == nil && k >= n {
			n = k + 1
		}
	}
	return base + "-" + strconv.Itoa(n), nil
}

// dedup records the delivery's key; a key any node stored within the
// window makes the whole Put a duplicate (book/smtp.md, "Deduplication").
// Two nodes inserting one key at once: the second waits for the first to
// commit, then finds the key taken.
func dedup(ctx context.Context, tx pgx.Tx, mbox int64, req *storage.PutRequest, id string) error {
	var one int
	err := tx.QueryRow(ctx, `INSERT INTO aimx.dedup AS d (mailbox, key, message, received_at)
		VALUES ($1, $2, $3, now())
		ON CONFLICT (mailbox, key) DO UPDATE SET message = EXCLUDED.message, received_at = EXCLUDED.received_at
		WHERE d.received_at < now() - $4::bigint * interval '1 microsecond'
		RETURNING 1`, mbox, []byte(req.DedupKey), id, req.DedupWindow.Microseconds()).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("key %.16s within %s: %w", req.DedupKey, req.DedupWindow, storage.ErrDuplicate)
	}
	if err != nil {
		return fmt.Errorf("dedup: %w", err)
	}
	return nil
}
