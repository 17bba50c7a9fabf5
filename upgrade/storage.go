package upgrade

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/aimx-dev/aimx/internal/progress"
	"github.com/aimx-dev/aimx/internal/safefs"
	"github.com/aimx-dev/aimx/storage"
)

// domainDirMode is `<data>/<domain>/`'s mode (book/storage.md).
const domainDirMode = 0o755

// move is one planned rename below the data dir.
type move struct {
	folder string // "inbox" or "sent"
	name   string // a mailbox dir's name; "" moves the whole folder
	// dropNew: the migrated place is an empty dir, removed first.
	dropNew bool
	// dropOld: the legacy dir is empty and its migrated place holds
	// mail: the legacy dir is removed, nothing moves.
	dropOld bool
}

// moveStorage is step 1: `<data>/inbox` and `<data>/sent` move under
// `<data>/<domain>/`. A folder whose migrated place does not exist moves
// whole, with one rename; otherwise its mailbox dirs move one by one and
// the emptied legacy folder is removed. Everything is checked before the
// first rename: a mailbox present in both places (both holding
// something) or a folder on another file system stops it with nothing
// moved.
func moveStorage(dataDir string, rep *Report, sm *seams, log zerolog.Logger) error {
	root, err := safefs.OpenDir(dataDir)
	if err != nil {
		return fmt.Errorf("upgrade: open data dir: %w", err)
	}
	defer root.Close()
	plan, err := planStorage(root, rep.Domain)
	if err != nil {
		return err
	}
	if len(plan) == 0 {
		return nil
	}
	dom, _, err := root.EnsureDir(rep.Domain, domainDirMode, nil)
	if err != nil {
		return fmt.Errorf("upgrade: create %s: %w", root.Join(rep.Domain), err)
	}
	defer dom.Close()
	// A long move (many mailboxes on a slow disk) logs its progress; a
	// quick one says nothing (book/upgrade.md).
	tr := progress.New(progress.Options{Label: "upgrade: moving mail", Unit: "mailbox dirs", Total: len(plan), Log: &log})
	for _, m := range plan {
		if err := runMove(root, dom, m, rep, sm); err != nil {
			return err
		}
		tr.Add(1)
	}
	tr.Done("")
	for _, f := range storage.LegacyFolders {
		// Every mailbox dir moved out: remove the emptied folder. rmdir
		// removes only an empty dir, so nothing is lost if one was added.
		err := unix.Unlinkat(root.Fd(), string(f), unix.AT_REMOVEDIR)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("upgrade: remove the emptied %s: %w", root.Join(string(f)), err)
		}
	}
	if err := dom.Sync(); err != nil {
		return fmt.Errorf("upgrade: sync %s: %w", dom.Path(), err)
	}
	if err := root.Sync(); err != nil {
		return fmt.Errorf("upgrade: sync %s: %w", root.Path(), err)
	}
	return nil
}

// planStorage checks the legacy folders and their migrated places and
// returns the moves, without changing anything.
func planStorage(root *safefs.Dir, domain string) ([]move, error) {
	rootDev, err := devOf(root)
	if err != nil {
		return nil, err
	}
	var plan []move
	for _, f := range storage.LegacyFolders {
		folder := string(f)
		old, err := openPlainDir(root, folder)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		moves, err := planFolder(root, old, domain, folder, rootDev)
		old.Close()
		if err != nil {
			return nil, err
		}
		plan = append(plan, moves...)
	}
	return plan, nil
}

func planFolder(root, old *safefs.Dir, domain, folder string, rootDev uint64) ([]move, error) {
	newName := domain + "/" + folder
	if err := sameDevice(old, rootDev, root.Join(folder), root.Join(newName)); err != nil {
		return nil, err
	}
	if dom, err := openPlainDir(root, domain); err == nil {
		err = sameDevice(dom, rootDev, root.Join(folder), dom.Path())
		dom.Close()
		if err != nil {
			return nil, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	dst, err := openPlainDir(root, newName)
	if errors.Is(err, fs.ErrNotExist) {
		return []move{{folder: folder}}, nil // the whole folder, one rename
	}
	if err != nil {
		return nil, err
	}
	defer dst.Close()
	if err := sameDevice(dst, rootDev, root.Join(folder), dst.Path()); err != nil {
		return nil, err
	}
	des, err := old.Names()
	if err != nil {
		return nil, fmt.Errorf("upgrade: list %s: %w", old.Path(), err)
	}
	var plan []move
	for _, de := range des {
		name := de.Name()
		m := move{folder: folder, name: name}
		if _, err := dst.Lstat(name); errors.Is(err, fs.ErrNotExist) {
			plan = append(plan, m)
			continue
		} else if err != nil {
			return nil, fmt.Errorf("upgrade: %w", err)
		}
		oldEmpty, err := emptyDir(old, name)
		if err != nil {
			return nil, err
		}
		newEmpty, err := emptyDir(dst, name)
		if err != nil {
			return nil, err
		}
		switch {
		case oldEmpty:
			m.dropOld = true
		case newEmpty:
			m.dropNew = true
		default:
			return nil, &ConflictError{Old: old.Join(name), New: dst.Join(name)}
		}
		plan = append(plan, m)
	}
	return plan, nil
}

// runMove carries out one planned move and counts what it moved.
func runMove(root, dom *safefs.Dir, m move, rep *Report, sm *seams) error {
	if m.name == "" {
		old, err := openPlainDir(root, m.folder)
		if err != nil {
			return err
		}
		boxes, msgs := countFolder(old)
		old.Close()
		if err := sm.rename(root, m.folder, dom, m.folder, false); err != nil {
			return moveErr(root.Join(m.folder), dom.Join(m.folder), err)
		}
		rep.Folders = append(rep.Folders, m.folder)
		rep.Mailboxes += boxes
		rep.Messages += msgs
		return nil
	}
	old, err := openPlainDir(root, m.folder)
	if err != nil {
		return err
	}
	defer old.Close()
	dst, err := openPlainDir(dom, m.folder)
	if err != nil {
		return err
	}
	defer dst.Close()
	if m.dropOld {
		return rmdir(old, m.name)
	}
	if m.dropNew {
		if err := rmdir(dst, m.name); err != nil {
			return err
		}
	}
	msgs := 0
	if box, err := openPlainDir(old, m.name); err == nil {
		msgs = countMessages(box)
		box.Close()
	}
	if err := sm.rename(old, m.name, dst, m.name, false); err != nil {
		return moveErr(old.Join(m.name), dst.Join(m.name), err)
	}
	rep.Mailboxes++
	rep.Messages += msgs
	return dst.Sync()
}

// moveErr words a failed rename: EXDEV becomes a *CrossDeviceError, a
// taken name a *ConflictError.
func moveErr(from, to string, err error) error {
	switch {
	case errors.Is(err, unix.EXDEV):
		return &CrossDeviceError{From: from, To: to, Err: err}
	case errors.Is(err, fs.ErrExist), errors.Is(err, unix.ENOTEMPTY):
		return &ConflictError{Old: from, New: to}
	}
	return fmt.Errorf("upgrade: move %s to %s: %w", from, to, err)
}

// rename is the production move: renameat2 with RENAME_NOREPLACE, or
// renameat when replace is set.
func rename(from *safefs.Dir, oldName string, to *safefs.Dir, newName string, replace bool) error {
	if replace {
		return from.Rename(oldName, to, newName)
	}
	return from.RenameNoReplace(oldName, to, newName)
}

// openPlainDir opens name below d as a directory, never through a
// symlink: a symlink or a non-directory is a *NotDirError.
func openPlainDir(d *safefs.Dir, name string) (*safefs.Dir, error) {
	sub, err := d.OpenDir(name)
	switch {
	case err == nil:
		return sub, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, err
	case errors.Is(err, safefs.ErrSymlink), errors.Is(err, unix.ENOTDIR):
		return nil, &NotDirError{Path: d.Join(name), Want: "directory"}
	}
	return nil, fmt.Errorf("upgrade: open %s: %w", d.Join(name), err)
}

// emptyDir reports whether name in d is an empty directory; anything
// else (a dir with entries, a file) is not empty.
func emptyDir(d *safefs.Dir, name string) (bool, error) {
	sub, err := d.OpenDir(name)
	if err != nil {
		return false, nil // not a dir it can open: not an empty dir
	}
	defer sub.Close()
	found, err := sub.Any(func(string) bool { return true })
	if err != nil {
		return false, fmt.Errorf("upgrade: list %s: %w", sub.Path(), err)
	}
	return !found, nil
}

func rmdir(d *safefs.Dir, name string) error {
	if err := unix.Unlinkat(d.Fd(), name, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("upgrade: remove empty dir %s: %w", d.Join(name), err)
	}
	return d.Sync()
}

func devOf(d *safefs.Dir) (uint64, error) {
	st, err := d.Stat()
	if err != nil {
		return 0, fmt.Errorf("upgrade: stat %s: %w", d.Path(), err)
	}
	return st.Dev, nil
}

// sameDevice refuses a dir on another file system than the data dir
// (a mount point), before anything moves.
func sameDevice(d *safefs.Dir, dev uint64, from, to string) error {
	got, err := devOf(d)
	if err != nil {
		return err
	}
	if got != dev {
		return &CrossDeviceError{From: from, To: to}
	}
	return nil
}

// countFolder counts a legacy folder's mailbox dirs and their messages.
func countFolder(d *safefs.Dir) (boxes, msgs int) {
	des, err := d.Names()
	if err != nil {
		return 0, 0
	}
	for _, de := range des {
		if !de.IsDir() {
			continue
		}
		boxes++
		if box, err := d.OpenDir(de.Name()); err == nil {
			msgs += countMessages(box)
			box.Close()
		}
	}
	return boxes, msgs
}

// countMessages counts a mailbox dir's messages: `<stem>.md` files and
// `<stem>/` bundle dirs; dot-names are not messages (book/storage.md).
func countMessages(d *safefs.Dir) int {
	des, err := d.Names()
	if err != nil {
		return 0
	}
	n := 0
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if de.IsDir() || de.Type().IsRegular() && strings.HasSuffix(name, ".md") {
			n++
		}
	}
	return n
}
