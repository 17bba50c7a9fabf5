package pgmessages

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aimx-dev/aimx/storage"
)

// EnsureMailbox creates the mailbox's row, recording owner's uid. A
// mailbox whose mail belonged to another owner is refused with
// storage.ErrForeignMail (book/security.md, M6).
func (s *Store) EnsureMailbox(ctx context.Context, ref storage.MailboxRef, owner *storage.Owner) error {
	if err := ref.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, s.db.Pool, func(tx pgx.Tx) error {
		mbox, _, err := mailboxID(ctx, tx, ref, true)
		if err != nil || owner == nil {
			return err
		}
		var prev *int
		var hasMail bool
		err = tx.QueryRow(ctx, `SELECT owner_uid, EXISTS (SELECT 1 FROM aimx.messages WHERE mailbox = $1)
			FROM aimx.mailboxes WHERE id = $1 FOR UPDATE`, mbox).Scan(&prev, &hasMail)
		if err != nil {
			return err
		}
		if prev != nil && *prev == owner.UID {
			return nil
		}
		if prev != nil && hasMail {
			return storage.ErrForeignMail
		}
		_, err = tx.Exec(ctx, `UPDATE aimx.mailboxes SET owner_uid = $2 WHERE id = $1`, mbox, owner.UID)
		return err
	})
	if err != nil {
		return fmt.Errorf("ensure mailbox %s: %w", ref, err)
	}
	return nil
}

// RemoveMailbox deletes the mailbox with all its mail, and reports how many
// files the file store would have removed (.md, .eml, attachments).
func (s *Store) RemoveMailbox(ctx context.Context, ref storage.MailboxRef) (int, error) {
	if err := ref.Validate(); err != nil {
		return 0, err
	}
	return s.removeMailboxes(ctx, "remove mailbox "+ref.String(), `domain = $1 AND local = $2`, ref.Domain, ref.Local)
}

// RemoveDomain deletes every mailbox left of the domain, with its mail.
func (s *Store) RemoveDomain(ctx context.Context, domain string) (int, error) {
	if err := (storage.MailboxRef{Domain: domain, Local: "x"}).Validate(); err != nil {
		return 0, err
	}
	return s.removeMailboxes(ctx, "remove domain "+domain, `domain = $1`, domain)
}

func (s *Store) removeMailboxes(ctx context.Context, what, where string, args ...any) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	// The RETURNING subquery sees the rows before the cascade removes them.
	rows, err := s.db.Pool.Query(ctx, `DELETE FROM aimx.mailboxes b WHERE `+where+`
		RETURNING (SELECT coalesce(sum(files), 0) FROM aimx.messages m WHERE m.mailbox = b.id)`, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	counts, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	var n int64
	for _, c := range counts {
		n += c
	}
	return int(n), nil
}

// Move moves one message between the folders of its mailbox in one
// transaction, keeping its id: moving into the trash records when and
// from where (deleted_at, deleted_from), moving out removes them; a move
// into inbox sends a Notice. An id taken in the destination is
// storage.ErrIDTaken and nothing moves.
func (s *Store) Move(ctx context.Context, ref storage.MailboxRef, from, to storage.Folder, id string) (*storage.Frontmatter, error) {
	if err := checkRef(ref, to); err != nil {
		return nil, err
	}
	if err := checkMessage(ref, from, id); err != nil {
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
			msgArgs(ref, from, id)...).Scan(&mbox, &fmBytes)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(ref, from, id)
		}
		if err != nil {
			return err
		}
		fm, err := storage.DecodeFrontmatter(fmBytes)
		if err != nil {
			return err
		}
		if err := checkMove(fm, from, to); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE aimx.messages SET folder = $4 WHERE mailbox = $1 AND folder = $2 AND id = $3
			AND NOT EXISTS (SELECT 1 FROM aimx.messages WHERE mailbox = $1 AND folder = $4 AND id = $3)`,
			mbox, string(from), id, string(to))
		if isUniqueViolation(err) || err == nil && tag.RowsAffected() == 0 {
			return storage.ErrIDTaken
		}
		if err != nil {
			return err
		}
		switch {
		case to == storage.Trash:
			stampTrash(fm, s.now(), from)
		case from == storage.Trash:
			unstampTrash(fm)
		}
		if err := updateFields(ctx, tx, mbox, to, id, fm); err != nil {
			return err
		}
		out = fm
		if to == storage.Inbox {
			return s.notify(ctx, tx, ref, to, id)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("move %s in %s from %s to %s: %w", id, ref, from, to, err)
	}
	return out, nil
}

// Delete removes a message for good and reports how many files the file
// store would have removed for it.
func (s *Store) Delete(ctx context.Context, ref storage.MailboxRef, folder storage.Folder, id string) (int, error) {
	if err := checkMessage(ref, folder, id); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int
	err := s.db.Pool.QueryRow(ctx, `DELETE FROM aimx.messages m USING aimx.mailboxes b
		WHERE b.id = m.mailbox AND b.domain = $1 AND b.local = $2 AND m.folder = $3 AND m.id = $4
		RETURNING m.files`, msgArgs(ref, folder, id)...).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, notFound(ref, folder, id)
	}
	if err != nil {
		return 0, fmt.Errorf("delete %s from %s/%s: %w", id, ref, folder, err)
	}
	return n, nil
}

// PurgeTrash removes for good the trash messages deleted before
// deletedBefore and reports how many. A trash message without deleted_at
// is given one, now, and kept a full period from then (storage's rule).
func (s *Store) PurgeTrash(ctx context.Context, ref storage.MailboxRef, deletedBefore time.Time) (int, error) {
	if err := ref.Validate(); err != nil {
		return 0, err
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT m.id FROM aimx.messages m JOIN aimx.mailboxes b ON b.id = m.mailbox
		WHERE b.domain = $1 AND b.local = $2 AND m.folder = 'trash' AND m.deleted_at IS NULL`, ref.Domain, ref.Local)
	if err != nil {
		return 0, fmt.Errorf("purge trash of %s: %w", ref, err)
	}
	unstamped, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("purge trash of %s: %w", ref, err)
	}
	for _, id := range unstamped {
		_, err := s.rewrite(ctx, ref, storage.Trash, id, func(fm *storage.Frontmatter) (bool, error) {
			if at, _ := storage.TrashInfo(fm); !at.IsZero() {
				return true, nil // stamped, its column not: rewrite it
			}
			_, from := storage.TrashInfo(fm)
			stampTrash(fm, s.now(), from)
			return true, nil
		})
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return 0, fmt.Errorf("purge trash of %s: %w", ref, err)
		}
	}
	tag, err := s.db.Pool.Exec(ctx, `DELETE FROM aimx.messages m USING aimx.mailboxes b
		WHERE b.id = m.mailbox AND b.domain = $1 AND b.local = $2 AND m.folder = 'trash' AND m.deleted_at < $3`,
		ref.Domain, ref.Local, deletedBefore)
	if err != nil {
		return 0, fmt.Errorf("purge trash of %s: %w", ref, err)
	}
	return int(tag.RowsAffected()), nil
}
