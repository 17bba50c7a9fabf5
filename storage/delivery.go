package storage

import (
	"context"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ErrNotSent is SetDelivery on a message that is not a sent copy.
var ErrNotSent = errors.New("not a sent copy")

// DeliveryUpdate computes a sent copy's new delivery state from the
// recipients it records now.
type DeliveryUpdate func(current []Recipient) (status string, next []Recipient)

// SetDelivery replaces a sent copy's delivery state: `delivery_status` and
// `recipients` (book/storage.md, book/sending.md "Statuses"), as update
// computes them from the recorded ones under the message's lock. The
// frontmatter is re-encoded with every other field and every unknown key
// kept, the body is left byte for byte, and the .md is replaced
// atomically through the Writer inside the message's dir held open, like
// SetRead. One delivery round makes one call.
func (s *Store) SetDelivery(ctx context.Context, ref MailboxRef, id string, update DeliveryUpdate) (*Frontmatter, error) {
	if s.readOnly {
		return nil, ErrReadOnly
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h, err := s.openMessage(ref, Sent, id)
	if err != nil {
		return nil, err
	}
	defer h.close()
	lock := &s.readLocks[readLockSlot(s.folderDir(ref, Sent), id)]
	lock.Lock()
	defer lock.Unlock()
	data, f, err := s.readMD(h)
	if err != nil {
		return nil, fmt.Errorf("set delivery state: %w", err)
	}
	var st unix.Stat_t
	err = unix.Fstat(int(f.file.Fd()), &st)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("set delivery state: %w", err)
	}
	loc, err := locateMD(data)
	if err != nil {
		return nil, fmt.Errorf("set delivery state of %s: %w", id, err)
	}
	fm, err := decodeFields(data[loc.fmStart:loc.fmEnd], loc.m)
	if err != nil {
		return nil, fmt.Errorf("set delivery state of %s: %w", id, err)
	}
	if !fm.Outbound {
		return nil, fmt.Errorf("set delivery state of %s: %w", id, ErrNotSent)
	}
	status, rcpts := update(append([]Recipient(nil), fm.Recipients...))
	fm.DeliveryStatus = status
	fm.Recipients = append([]Recipient(nil), rcpts...)
	newFM := EncodeFrontmatter(fm)
	out := make([]byte, 0, len(data)+len(newFM))
	out = append(out, data[:loc.fmStart]...)
	out = append(out, newFM...)
	out = append(out, data[loc.fmEnd:]...)
	opts := WriteOptions{Mode: os.FileMode(st.Mode & 0o777)}
	if s.chown {
		opts.Owner = &Owner{UID: int(st.Uid), GID: int(st.Gid)}
	}
	if err := s.w.WriteFileAt(h.dir, h.msg.ID+".md", out, opts); err != nil {
		return nil, fmt.Errorf("set delivery state: %w", err)
	}
	s.indexUpsert(ref, Sent, newIndexEntry(id, h.bundle, fm))
	return fm, nil
}
