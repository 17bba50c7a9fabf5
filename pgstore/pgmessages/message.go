package pgmessages

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aimx-dev/aimx/storage"
)

// whereMessage selects one message by mailbox name, folder and id ($1..$4).
const whereMessage = `FROM aimx.messages m JOIN aimx.mailboxes b ON b.id = m.mailbox
	WHERE b.domain = $1 AND b.local = $2 AND m.folder = $3 AND m.id = $4`

func msgArgs(ref storage.MailboxRef, folder storage.Folder, id string) []any {
	return []any{ref.Domain, ref.Local, string(folder), id}
}

// Read returns one message with its frontmatter and body.
func (s *Store) Read(ctx context.Context, ref storage.MailboxRef, folder storage.Folder, id string) (*storage.Message, error) {
	if err := checkMessage(ref, folder, id); err != nil {
		return nil, err
	}
	var fmBytes, body []byte
	err := s.db.Pool.QueryRow(ctx, "SELECT m.frontmatter, m.body "+whereMessage, msgArgs(ref, folder, id)...).Scan(&fmBytes, &body)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(ref, folder, id)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s in %s/%s: %w", id, ref, folder, err)
	}
	fm, err := storage.DecodeFrontmatter(fmBytes)
	if err != nil {
		return nil, fmt.Errorf("read %s in %s/%s: %w", id, ref, folder, err)
	}
	return &storage.Message{ID: id, Folder: folder, Frontmatter: fm, Body: string(body)}, nil
}

// OpenMD returns the message's .md as the file store writes it: the
// frontmatter encoded by storage.EncodeMD, then the body.
func (s *Store) OpenMD(ctx context.Context, ref storage.MailboxRef, folder storage.Folder, id string) (*storage.MessageFile, error) {
	m, err := s.Read(ctx, ref, folder, id)
	if err != nil {
		return nil, err
	}
	md := storage.EncodeMD(m.Frontmatter, m.Body)
	if int64(len(md)) > s.maxFile {
		return nil, fmt.Errorf("open %s.md in %s/%s: %w", id, ref, folder, s.tooLarge(".md", int64(len(md))))
	}
	return storage.NewMessageFile(bytes.NewReader(md), nil, int64(len(md))), nil
}

// OpenRaw returns the message's .eml; storage.ErrNotFound when it was
// stored without one.
func (s *Store) OpenRaw(ctx context.Context, ref storage.MailboxRef, folder storage.Folder, id string) (*storage.MessageFile, error) {
	if err := checkMessage(ref, folder, id); err != nil {
		return nil, err
	}
	var raw []byte
	err := s.db.Pool.QueryRow(ctx, "SELECT m.raw "+whereMessage, msgArgs(ref, folder, id)...).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(ref, folder, id)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s.eml in %s/%s: %w", id, ref, folder, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("open %s.eml in %s/%s: %w: stored without one", id, ref, folder, storage.ErrNotFound)
	}
	if int64(len(raw)) > s.maxFile {
		return nil, fmt.Errorf("open %s.eml in %s/%s: %w", id, ref, folder, s.tooLarge(".eml", int64(len(raw))))
	}
	return storage.NewMessageFile(bytes.NewReader(raw), nil, int64(len(raw))), nil
}

// rewrite changes one message's frontmatter in a transaction holding its
// row: change edits the decoded frontmatter and reports whether it
// changed anything; the row's filter columns follow. It returns the
// frontmatter as it is now.
func (s *Store) rewrite(ctx context.Context, ref storage.MailboxRef, folder storage.Folder, id string,
	change func(fm *storage.Frontmatter) (bool, error)) (*storage.Frontmatter, error) {
	if err := checkMessage(ref, folder, id); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out *storage.Frontmatter
	err := pgx.BeginFunc(ctx, s.db.Pool, func(tx pgx.Tx) error {
		var mbox int64
		var fmBytes []byte
		err := tx.QueryRow(ctx, "SELECT m.mailbox, m.frontmatter "+whereMessage+" FOR UPDATE OF m",
			msgArgs(ref, folder, id)...).Scan(&mbox, &fmBytes)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(ref, folder, id)
		}
		if err != nil {
			return err
		}
		fm, err := storage.DecodeFrontmatter(fmBytes)
		if err != nil {
			return err
		}
		changed, err := change(fm)
		if err != nil {
			return err
		}
		out = fm
		if !changed {
			return nil
		}
		return updateFields(ctx, tx, mbox, folder, id, fm)
	})
	if err != nil {
		return nil, fmt.Errorf("change %s in %s/%s: %w", id, ref, folder, err)
	}
	return out, nil
}

// updateFields writes a message's frontmatter and its filter columns.
func updateFields(ctx context.Context, tx pgx.Tx, mbox int64, folder storage.Folder, id string, fm *storage.Frontmatter) error {
	c := columnsOf(fm, folder)
	_, err := tx.Exec(ctx, `UPDATE aimx.messages SET frontmatter = $4, message_id = $5, thread_id = $6,
		from_lc = $7, subject_lc = $8, trusted = $9, read = $10, labels = $11, delivery_status = $12, deleted_at = $13
		WHERE mailbox = $1 AND folder = $2 AND id = $3`,
		mbox, string(folder), id, storage.EncodeFrontmatter(fm), c.messageID, c.threadID, c.fromLC, c.subjectLC,
		c.trusted, c.read, c.labels, c.deliveryStatus, c.deletedAt)
	if err != nil {
		return fmt.Errorf("update message: %w", err)
	}
	return nil
}

// SetRead marks a message read (read_at now, UTC) or unread (read_at
// removed); a message already in that state is left as it is.
func (s *Store) SetRead(ctx context.Context, ref storage.MailboxRef, folder storage.Folder, id string, read bool) (*storage.Frontmatter, error) {
	return s.rewrite(ctx, ref, folder, id, func(fm *storage.Frontmatter) (bool, error) {
		if fm.Read == read && fm.ReadAt.IsZero() != read {
			return false, nil
		}
		fm.Read, fm.ReadAt = read, time.Time{}
		if read {
			fm.ReadAt = s.now().UTC()
		}
		return true, nil
	})
}

// SetDelivery replaces a sent copy's delivery_status and recipients with
// what update computes from the recorded ones, under the row's lock.
func (s *Store) SetDelivery(ctx context.Context, ref storage.MailboxRef, id string, update storage.DeliveryUpdate) (*storage.Frontmatter, error) {
	return s.rewrite(ctx, ref, storage.Sent, id, func(fm *storage.Frontmatter) (bool, error) {
		if !fm.Outbound {
			return false, storage.ErrNotSent
		}
		status, rcpts := update(append([]storage.Recipient(nil), fm.Recipients...))
		fm.DeliveryStatus = status
		fm.Recipients = append([]storage.Recipient(nil), rcpts...)
		return true, nil
	})
}

// SetLabels adds and then removes labels of one message (normalized with
// storage.NormalizeLabel), as the file store does.
func (s *Store) SetLabels(ctx context.Context, ref storage.MailboxRef, folder storage.Folder, id string, add, remove []string) (*storage.Frontmatter, error) {
	addN, err := storage.NormalizeLabels(add)
	if err != nil {
		return nil, err
	}
	removeN, err := storage.NormalizeLabels(remove)
	if err != nil {
		return nil, err
	}
	return s.rewrite(ctx, ref, folder, id, func(fm *storage.Frontmatter) (bool, error) {
		cur := fm.Labels()
		next := storage.ApplyLabels(cur, addN, removeN)
		if slices.Equal(next, cur) {
			return false, nil
		}
		if len(next) > storage.MaxLabels {
			return false, fmt.Errorf("%w: a message carries at most %d labels", storage.ErrInvalidLabel, storage.MaxLabels)
		}
		setLabels(fm, next)
		return true, nil
	})
}

// OpenAttachment opens one attachment of a message by its file name as
// the frontmatter lists it (exactly, else the one name matching it in
// another case).
func (s *Store) OpenAttachment(ctx context.Context, ref storage.MailboxRef, folder storage.Folder, id, filename string) (*storage.AttachmentFile, error) {
	if err := checkMessage(ref, folder, id); err != nil {
		return nil, err
	}
	var fmBytes []byte
	err := s.db.Pool.QueryRow(ctx, "SELECT m.frontmatter "+whereMessage, msgArgs(ref, folder, id)...).Scan(&fmBytes)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(ref, folder, id)
	}
	if err != nil {
		return nil, fmt.Errorf("open attachment of %s in %s/%s: %w", id, ref, folder, err)
	}
	fm, err := storage.DecodeFrontmatter(fmBytes)
	if err != nil {
		return nil, fmt.Errorf("open attachment of %s in %s/%s: %w", id, ref, folder, err)
	}
	a, ok := findAttachment(fm.Attachments, filename)
	if !ok {
		return nil, fmt.Errorf("%w: %q in %s in %s/%s", storage.ErrNoAttachment, filename, id, ref, folder)
	}
	var data []byte
	err = s.db.Pool.QueryRow(ctx, `SELECT a.data FROM aimx.attachments a JOIN aimx.mailboxes b ON b.id = a.mailbox
		WHERE b.domain = $1 AND b.local = $2 AND a.folder = $3 AND a.id = $4 AND a.filename = $5`,
		ref.Domain, ref.Local, string(folder), id, text(a.Filename)).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		// Listed in the frontmatter, not stored with the message.
		return nil, fmt.Errorf("%w: %q in %s in %s/%s", storage.ErrNoAttachment, filename, id, ref, folder)
	}
	if err != nil {
		return nil, fmt.Errorf("open attachment %q of %s in %s/%s: %w", filename, id, ref, folder, err)
	}
	if int64(len(data)) > s.maxFile {
		return nil, fmt.Errorf("open attachment %q of %s in %s/%s: %w", filename, id, ref, folder, s.tooLarge("attachment", int64(len(data))))
	}
	f := storage.NewMessageFile(bytes.NewReader(data), nil, int64(len(data)))
	return &storage.AttachmentFile{MessageFile: f, Info: a, Message: fm}, nil
}
