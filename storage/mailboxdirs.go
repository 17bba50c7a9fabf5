package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/aimx-dev/aimx/internal/safefs"
)

// ownerMarker, in a mailbox's inbox dir, records the uid of the owner the
// mailbox's mail belongs to, so mail is never handed to a later owner of
// the same name (book/security.md, M6). Listers skip dot-names.
const ownerMarker = ".owner"

// EnsureMailbox creates `<domain>/` (0755), `inbox/` and `sent/` (0755) and
// the mailbox's two dirs (0750: the daemon's user, the owner's group when
// running as root), fixing the mode and owner of existing ones (book/storage.md).
// Storage that already holds mail of another owner is refused with
// ErrForeignMail and left as it is.
func (s *Store) EnsureMailbox(ctx context.Context, ref MailboxRef, owner *Owner) error {
	if s.readOnly {
		return ErrReadOnly
	}
	if err := ref.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.chown && owner != nil {
		prev, hasMail, err := s.recordedOwner(ref)
		if err != nil {
			return fmt.Errorf("ensure mailbox %s: %w", ref, err)
		}
		if hasMail && prev >= 0 && prev != owner.UID {
			return fmt.Errorf("%w: %s", ErrForeignMail, ref)
		}
		// Storage left in the old modes by a mailbox that was outside the
		// config at start (so Repair did not see it) is re-owned first,
		// files included, before the dirs are put in order below.
		var rep RepairReport
		budget := MaxRepairEntries
		for _, f := range Folders {
			if err := s.repairFolder(MailboxOwner{Ref: ref, Owner: owner}, f, false, &rep, &budget); err != nil {
				return fmt.Errorf("ensure mailbox %s: %w", ref, err)
			}
		}
	}
	return s.ensureMailbox(ref, owner)
}

// recordedOwner returns the uid the mailbox's existing storage belongs to
// (-1 when unknown) and whether it holds any message, in any folder.
func (s *Store) recordedOwner(ref MailboxRef) (int, bool, error) {
	hasMail := false
	for _, f := range Folders {
		d, err := s.openFolder(ref, f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return -1, false, err
		}
		found, err := d.Any(func(name string) bool { return !strings.HasPrefix(name, ".") })
		d.Close()
		if err != nil {
			return -1, false, err
		}
		hasMail = hasMail || found
	}
	d, err := s.openFolder(ref, Inbox)
	if errors.Is(err, fs.ErrNotExist) {
		return -1, hasMail, nil
	}
	if err != nil {
		return -1, false, err
	}
	defer d.Close()
	if b, err := d.ReadFile(ownerMarker, 64); err == nil {
		if uid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			return uid, hasMail, nil
		}
	}
	st, err := d.Stat()
	if err != nil {
		return -1, false, err
	}
	if int(st.Uid) != s.uid {
		return int(st.Uid), hasMail, nil // the old modes: the owner owned it
	}
	return -1, hasMail, nil
}

// ensureMailbox makes the mailbox's dirs with their modes and owner and,
// as root, records the owner in the inbox.
func (s *Store) ensureMailbox(ref MailboxRef, owner *Owner) error {
	if s.root == nil {
		return ErrReadOnly
	}
	fo := s.fileOwner(owner)
	domainDir, _, err := s.root.EnsureDir(ref.Domain, 0o755, nil)
	if err != nil {
		return fmt.Errorf("ensure mailbox %s: %w", ref, err)
	}
	defer domainDir.Close()
	for _, f := range []Folder{Inbox, Sent} {
		fd, _, err := domainDir.EnsureDir(string(f), 0o755, nil)
		if err != nil {
			return fmt.Errorf("ensure mailbox %s: %w", ref, err)
		}
		box, _, err := fd.EnsureDir(ref.Local, mailboxDirMode, fo)
		fd.Close()
		if err != nil {
			return fmt.Errorf("ensure mailbox %s: %w", ref, err)
		}
		if f == Inbox && s.chown && owner != nil {
			err = s.recordOwner(box, owner.UID, fo)
		}
		box.Close()
		if err != nil {
			return fmt.Errorf("ensure mailbox %s: %w", ref, err)
		}
	}
	if err := s.fixMovedFolders(domainDir, ref, fo); err != nil {
		return fmt.Errorf("ensure mailbox %s: %w", ref, err)
	}
	return nil
}

// recordOwner writes the owner marker when it does not already say uid.
func (s *Store) recordOwner(box *safefs.Dir, uid int, fo *Owner) error {
	want := strconv.Itoa(uid) + "\n"
	if b, err := box.ReadFile(ownerMarker, 64); err == nil && string(b) == want {
		return nil
	}
	return s.w.WriteFileAt(box, ownerMarker, []byte(want), WriteOptions{Mode: mailboxFileMode, Owner: fo})
}

// RemoveMailbox deletes the mailbox's folder dirs (inbox, sent, archive,
// trash) with everything in them and returns how many files
// (non-directories) were removed. For mailbox_delete; the caller holds the
// mailbox's config lock. Nothing below is followed through a symlink.
func (s *Store) RemoveMailbox(ctx context.Context, ref MailboxRef) (int, error) {
	if s.readOnly {
		return 0, ErrReadOnly
	}
	if err := ref.Validate(); err != nil {
		return 0, err
	}
	removed := 0
	for _, f := range Folders {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		dir := s.folderDir(ref, f)
		s.mu.Lock()
		delete(s.boxes, dir)
		delete(s.indexes, dir)
		s.mu.Unlock()
		s.labelsDropUnder(dir)
		parent, err := s.root.OpenDir(ref.Domain + "/" + string(f))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return removed, fmt.Errorf("remove mailbox %s: %w", ref, err)
		}
		// The owner marker is not mail: it is not counted.
		marker := 0
		if st, err := parent.Lstat(ref.Local + "/" + ownerMarker); err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
			marker = 1
		}
		n, err := parent.RemoveAll(ref.Local)
		removed += max(n-marker, 0)
		if err == nil {
			err = parent.Sync()
		}
		parent.Close()
		if err != nil {
			return removed, fmt.Errorf("remove mailbox %s: %w", ref, err)
		}
	}
	return removed, nil
}

// RemoveDomain deletes a domain's whole tree (`<data>/<domain>/`, every
// mailbox of it, inbox and sent) and reports how many message files were
// removed. A domain without a tree removes nothing. The caller removes
// the domain's mailboxes first, under their locks (book/multi-domain.md).
func (s *Store) RemoveDomain(ctx context.Context, domain string) (int, error) {
	if s.readOnly {
		return 0, ErrReadOnly
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := (MailboxRef{Domain: domain, Local: "x"}).Validate(); err != nil {
		return 0, err
	}
	prefix := s.rootPath + "/" + domain + "/"
	s.labelsDropUnder(s.rootPath + "/" + domain)
	s.mu.Lock()
	for dir := range s.boxes {
		if strings.HasPrefix(dir, prefix) {
			delete(s.boxes, dir)
		}
	}
	for dir := range s.indexes {
		if strings.HasPrefix(dir, prefix) {
			delete(s.indexes, dir)
		}
	}
	s.mu.Unlock()
	n, err := s.root.RemoveAll(domain)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err == nil {
		err = s.root.Sync()
	}
	if err != nil {
		return n, fmt.Errorf("remove domain %s: %w", domain, err)
	}
	return n, nil
}
