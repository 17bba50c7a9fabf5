package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/aimx-dev/aimx/internal/safefs"
)

// Moving and deleting messages (book/storage.md, "Trash, archive and
// labels"). A message keeps its id when it moves between the folders of
// its mailbox. Every move has one commit point, a single rename that takes
// the message's .md (or its whole bundle dir) from one folder dir to the
// other, so after any single failed step (a crash included) the message is
// listed in exactly one folder:
//
//   - a bundle is one directory: one renameat2(RENAME_NOREPLACE);
//   - a flat message's .eml is first linked into the new folder (an .eml
//     without its .md is invisible to listings), then its .md is renamed
//     there (the commit point), then the old .eml link is removed. A crash
//     between two steps leaves an .eml without its .md in one of the two
//     folders, a link to the same file: start-up repair removes it, and
//     the message, visible in the other folder, keeps its raw file.
//
// Nothing replaces anything: an id already taken in the destination is
// ErrIDTaken and the message stays where it was.

var (
	// ErrIDTaken reports a move whose destination folder already holds a
	// message (or a leftover file) with the same id.
	ErrIDTaken = errors.New("id already taken in the destination folder")
	// ErrMoveRefused reports a move to a folder the message cannot be in:
	// received mail lives in inbox, archive and trash; sent copies in
	// sent and trash.
	ErrMoveRefused = errors.New("move refused")
)

// HomeFolders are the folders a message may be in besides the trash:
// inbox and archive for received mail, sent for sent copies.
func HomeFolders(fm *Frontmatter) []Folder {
	if fm.Outbound {
		return []Folder{Sent}
	}
	return []Folder{Inbox, Archive}
}

// checkMove applies the folder rules of book/storage.md to a move.
func checkMove(fm *Frontmatter, from, to Folder) error {
	switch {
	case from == to:
		return fmt.Errorf("%w: the message is already in %s", ErrMoveRefused, to)
	case to == Trash:
		return nil
	case !slices.Contains(HomeFolders(fm), to):
		kind := "received mail"
		if fm.Outbound {
			kind = "a sent copy"
		}
		return fmt.Errorf("%w: %s cannot be in %s", ErrMoveRefused, kind, to)
	}
	return nil
}

// Move moves one message of a mailbox from one folder to another, keeping
// its id, and returns its frontmatter as it is now. Moving into the trash
// records when and from where (deleted_at, deleted_from, see trash.go);
// moving out of it removes them. Both are written after the move, so a
// crash in between leaves the message moved with that bookkeeping stale,
// which PurgeTrash and the next move repair. The folders' indexes and the
// label filter follow the move.
func (s *Store) Move(ctx context.Context, ref MailboxRef, from, to Folder, id string) (*Frontmatter, error) {
	if s.readOnly {
		return nil, ErrReadOnly
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkRef(ref, to); err != nil {
		return nil, err
	}
	unlock := s.lockMessages(ref, id, from, to)
	defer unlock()
	h, err := s.openMessage(ref, from, id)
	if err != nil {
		return nil, err
	}
	defer h.close()
	fm, err := s.readHeadFrontmatter(h.dir, id+".md")
	if err != nil {
		return nil, fmt.Errorf("move %s from %s/%s: %w", id, ref, from, err)
	}
	if err := checkMove(fm, from, to); err != nil {
		return nil, err
	}
	src := h.dir
	if h.bundle {
		if src, err = s.openFolder(ref, from); err != nil {
			return nil, fmt.Errorf("move %s from %s/%s: %w", id, ref, from, err)
		}
		defer src.Close()
	}
	dst, err := s.ensureFolder(ref, to, src)
	if err != nil {
		return nil, fmt.Errorf("move %s to %s/%s: %w", id, ref, to, err)
	}
	defer dst.Close()
	if err := s.moveFiles(h, src, dst, id); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("move %s to %s/%s: %w", id, ref, to, ErrIDTaken)
		}
		return nil, fmt.Errorf("move %s from %s/%s to %s: %w", id, ref, from, to, err)
	}
	s.indexForget(ref, from)
	s.indexUpsert(ref, to, newIndexEntry(id, h.bundle, fm))
	s.labelsSet(ref, from, id, nil)
	s.labelsSet(ref, to, id, fm.Labels())
	switch {
	case to == Trash:
		fm = s.afterMove(ref, to, id, fm, func(fm *Frontmatter) bool { return stampTrash(fm, s.now(), from) })
		at, _ := TrashInfo(fm)
		s.trashMovedIn(ref, at)
	case from == Trash:
		fm = s.afterMove(ref, to, id, fm, unstampTrash)
	}
	return fm, nil
}

// moveFiles makes the move on disk, in the order described at the top
// of this file. A simulated crash (FaultError) stops it without cleanup.
func (s *Store) moveFiles(h *msgHandle, src, dst *safefs.Dir, id string) error {
	// Nothing of this id may be in the destination, in either shape.
	for _, name := range []string{id, id + ".md", id + ".eml"} {
		if _, err := dst.Lstat(name); err == nil {
			return fs.ErrExist
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if h.bundle {
		if err := s.w.fault(StepPublish, dst.Join(id)); err != nil {
			return err
		}
		if err := src.RenameNoReplace(id, dst, id); err != nil {
			return mapExist(err)
		}
		return s.syncBoth(dst, src)
	}
	if h.hasEML {
		if err := s.w.fault(StepPublish, dst.Join(id+".eml")); err != nil {
			return err
		}
		if err := src.Link(id+".eml", dst, id+".eml"); err != nil {
			return mapExist(err)
		}
		// The link is durable before the .md moves: a crash after the
		// rename never finds the message without its raw file.
		if err := s.w.SyncDirAt(dst); err != nil {
			return err
		}
	}
	if err := s.w.fault(StepPublish, dst.Join(id+".md")); err != nil {
		return err
	}
	if err := src.RenameNoReplace(id+".md", dst, id+".md"); err != nil {
		err = mapExist(err)
		if h.hasEML {
			// The link made above is ours: take it back.
			if rerr := dst.Remove(id + ".eml"); rerr != nil {
				err = errors.Join(err, fmt.Errorf("remove the .eml link: %w", rerr))
			}
		}
		return err
	}
	if h.hasEML {
		if err := s.w.fault(StepRemove, src.Join(id+".eml")); err != nil {
			return err
		}
		if err := src.Remove(id + ".eml"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			// The message moved; the old link is an orphan that start-up
			// repair removes.
			s.log.Warn().Err(err).Str("path", src.Join(id+".eml")).Msg("moved message: old .eml link left")
		}
	}
	return s.syncBoth(dst, src)
}

// syncBoth makes a rename between two folder dirs durable: the new entry
// first, then the removal.
func (s *Store) syncBoth(dst, src *safefs.Dir) error {
	if err := s.w.SyncDirAt(dst); err != nil {
		return err
	}
	return s.w.SyncDirAt(src)
}

// mapExist turns EEXIST from the file layer into fs.ErrExist.
func mapExist(err error) error {
	if errors.Is(err, unix.EEXIST) || errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: %w", fs.ErrExist, err)
	}
	return err
}

// afterMove rewrites the bookkeeping of a message just moved into folder
// to; a failure is logged, never returned: the move itself is done, and
// stale bookkeeping is repaired later (trash.go).
func (s *Store) afterMove(ref MailboxRef, to Folder, id string, fm *Frontmatter, change func(*Frontmatter) bool) *Frontmatter {
	h, err := s.openMessage(ref, to, id)
	if err == nil {
		var now *Frontmatter
		now, err = s.rewriteFrontmatter(ref, h, func(fm *Frontmatter) (bool, error) { return change(fm), nil })
		h.close()
		if err == nil {
			return now
		}
	}
	s.log.Warn().Err(err).Str("mailbox", ref.String()).Str("folder", string(to)).Str("id", id).
		Msg("moved message: bookkeeping not written")
	return fm
}

// lockMessages takes the per-message locks of id in each folder, in slot
// order so two moves of one id in opposite directions cannot deadlock.
func (s *Store) lockMessages(ref MailboxRef, id string, folders ...Folder) func() {
	var slots []int
	for _, f := range folders {
		slot := readLockSlot(s.folderDir(ref, f), id)
		if !slices.Contains(slots, slot) {
			slots = append(slots, slot)
		}
	}
	slices.Sort(slots)
	for _, i := range slots {
		s.readLocks[i].Lock()
	}
	return func() {
		for _, i := range slices.Backward(slots) {
			s.readLocks[i].Unlock()
		}
	}
}

// ensureFolder opens a mailbox folder dir, creating `<domain>/<folder>/`
// (0755) and `<local>/` (0750) when missing with the group of like (the
// folder the message comes from: the owner's group), as EnsureMailbox
// makes inbox and sent (book/storage.md).
func (s *Store) ensureFolder(ref MailboxRef, folder Folder, like *safefs.Dir) (*safefs.Dir, error) {
	if d, err := s.openFolder(ref, folder); err == nil {
		return d, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var fo *Owner
	if s.chown {
		st, err := like.Stat()
		if err != nil {
			return nil, err
		}
		fo = &Owner{UID: s.uid, GID: int(st.Gid)}
	}
	domainDir, err := s.root.OpenDir(ref.Domain)
	if err != nil {
		return nil, err
	}
	defer domainDir.Close()
	fd, _, err := domainDir.EnsureDir(string(folder), 0o755, nil)
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	box, _, err := fd.EnsureDir(ref.Local, mailboxDirMode, fo)
	return box, err
}

// fixMovedFolders gives the archive and trash dirs of a mailbox, when they
// exist, the mode and owner EnsureMailbox gives inbox and sent.
func (s *Store) fixMovedFolders(domainDir *safefs.Dir, ref MailboxRef, fo *Owner) error {
	for _, f := range []Folder{Archive, Trash} {
		fd, err := domainDir.OpenDir(string(f))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		_, err = fd.Lstat(ref.Local)
		if err == nil {
			var box *safefs.Dir
			if box, _, err = fd.EnsureDir(ref.Local, mailboxDirMode, fo); err == nil {
				box.Close()
			}
		} else if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
		fd.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// indexForget records that a message left a folder. The index has no
// removal of one entry yet, so the folder's index is loaded again on its
// next use, checking each message against its file stamp (cheap next to
// a full build; index.go).
func (s *Store) indexForget(ref MailboxRef, folder Folder) {
	s.dropIndex(ref, folder)
}

// Delete removes one message for good: a flat message's .md (the commit
// point: it is no longer listed) and then its .eml; a bundle is first
// renamed to a dot-named temp dir (invisible at once) and then removed
// with everything in it. A crash in between leaves an orphan .eml or a
// temp dir, which start-up repair removes. It returns how many files were
// removed.
func (s *Store) Delete(ctx context.Context, ref MailboxRef, folder Folder, id string) (int, error) {
	if s.readOnly {
		return 0, ErrReadOnly
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	unlock := s.lockMessage(ref, folder, id)
	defer unlock()
	h, err := s.openMessage(ref, folder, id)
	if err != nil {
		return 0, err
	}
	defer h.close()
	n, err := s.deleteFiles(ref, folder, h, id)
	if err != nil {
		return n, fmt.Errorf("delete %s from %s/%s: %w", id, ref, folder, err)
	}
	s.indexForget(ref, folder)
	s.labelsSet(ref, folder, id, nil)
	return n, nil
}

func (s *Store) deleteFiles(ref MailboxRef, folder Folder, h *msgHandle, id string) (int, error) {
	if h.bundle {
		fdir, err := s.openFolder(ref, folder)
		if err != nil {
			return 0, err
		}
		defer fdir.Close()
		var r [8]byte
		_, _ = rand.Read(r[:]) // crypto/rand.Read never fails on Linux
		tmp := ".bundle-deleted-" + hex.EncodeToString(r[:])
		if err := s.w.fault(StepRemove, fdir.Join(id)); err != nil {
			return 0, err
		}
		if err := fdir.RenameNoReplace(id, fdir, tmp); err != nil {
			return 0, mapFileErr(err)
		}
		n, err := fdir.RemoveAll(tmp)
		if err != nil {
			return n, err
		}
		return n, s.w.SyncDirAt(fdir)
	}
	n := 0
	names := []string{id + ".md"}
	if h.hasEML {
		names = append(names, id+".eml")
	}
	for _, name := range names {
		if err := s.w.fault(StepRemove, h.dir.Join(name)); err != nil {
			return n, err
		}
		if err := h.dir.Remove(name); err != nil {
			return n, mapFileErr(err)
		}
		n++
	}
	return n, s.w.SyncDirAt(h.dir)
}
