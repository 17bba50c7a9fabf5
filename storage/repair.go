package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/aimx-dev/aimx/internal/safefs"
)

// MaxRepairEntries bounds the start-up scan of Repair: past this many
// directory entries in all it stops, logs, and leaves the rest for the
// next start.
const MaxRepairEntries = 2_000_000

// cleanStopMarker, in `.spool/`, says the daemon stopped with nothing left
// in flight, so the next start's Repair may skip the leftover scan.
const cleanStopMarker = "clean-stop"

// MarkCleanStop records, durably, that the daemon stopped with every
// writer finished: no temp file or orphan can be left, and the next
// Repair skips the crash-leftover scan, which reads every mailbox
// directory (book/storage.md, "Start-up repair").
func (s *Store) MarkCleanStop() error {
	if s.readOnly || s.root == nil {
		return ErrReadOnly
	}
	spool, err := s.root.OpenDir(".spool")
	if err != nil {
		return fmt.Errorf("mark clean stop: %w", err)
	}
	defer spool.Close()
	return s.w.WriteFileAt(spool, cleanStopMarker, []byte("1\n"), WriteOptions{Mode: 0o600})
}

// takeCleanStop reports whether the last stop was clean and removes the
// marker durably, so a crash during this run makes the next start scan.
func (s *Store) takeCleanStop() (bool, error) {
	spool, err := s.root.OpenDir(".spool")
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer spool.Close()
	if _, err := spool.Lstat(cleanStopMarker); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if err := spool.Remove(cleanStopMarker); err != nil {
		return false, err
	}
	return true, spool.Sync()
}

// MailboxOwner is one configured mailbox and its owner (nil: the daemon's
// user), as Repair needs them.
type MailboxOwner struct {
	Ref   MailboxRef
	Owner *Owner
}

// RepairReport says what Repair changed.
type RepairReport struct {
	Reowned   int // mailbox folders given the current owner and modes
	Temps     int // dot-named temp files and bundle temp dirs removed
	Orphans   int // .eml files without their .md removed
	Refused   int // entries that are not regular files or dirs, left alone
	Truncated bool
	// SkippedScan is set when the last stop was clean (MarkCleanStop):
	// only modes were checked, no directory was listed for leftovers.
	SkippedScan bool
}

// Repair runs once at start, before any listener (book/storage.md,
// book/security.md). For every configured mailbox it:
//   - re-owns a tree left in older modes (0700 or 0600, owned by the
//     mailbox owner, as the Rust aimx and earlier versions wrote them): the
//     daemon's user, the owner's group, dirs 0750, files 0640 (as root only);
//   - removes what a crash left: dot-named temp files and bundle temp dirs,
//     and .eml files whose .md was never published; after a clean stop
//     (MarkCleanStop) nothing can be left, and this scan is skipped. The sender of such a
//     message never got 250 (it is answered only after the .md is durable),
//     so it retries and nothing is lost.
//
// It follows no symlink and opens no FIFO; anything not a regular file or
// a dir is counted and left. It logs one line when it changed anything.
func (s *Store) Repair(ctx context.Context, boxes []MailboxOwner) (RepairReport, error) {
	var rep RepairReport
	if s.readOnly || s.root == nil {
		return rep, ErrReadOnly
	}
	clean, err := s.takeCleanStop()
	if err != nil {
		return rep, fmt.Errorf("repair: clean-stop marker: %w", err)
	}
	rep.SkippedScan = clean
	budget := MaxRepairEntries
	for _, mb := range boxes {
		if err := mb.Ref.Validate(); err != nil {
			return rep, err
		}
		for _, f := range Folders {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			if budget <= 0 {
				rep.Truncated = true
				break
			}
			if err := s.repairFolder(mb, f, !clean, &rep, &budget); err != nil {
				return rep, fmt.Errorf("repair %s/%s: %w", mb.Ref, f, err)
			}
		}
	}
	if rep != (RepairReport{}) && rep != (RepairReport{SkippedScan: true}) {
		s.log.Warn().Int("reowned", rep.Reowned).Int("temp_files", rep.Temps).Int("orphans", rep.Orphans).
			Int("refused", rep.Refused).Bool("truncated", rep.Truncated).
			Msg("storage repaired at start: mailbox modes and crash leftovers")
	}
	return rep, nil
}

func (s *Store) repairFolder(mb MailboxOwner, f Folder, scan bool, rep *RepairReport, budget *int) error {
	dir, err := s.openFolder(mb.Ref, f)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer dir.Close()
	fo := s.fileOwner(mb.Owner)
	if fo != nil {
		st, err := dir.Stat()
		if err != nil {
			return err
		}
		if int(st.Uid) != fo.UID || int(st.Gid) != fo.GID || st.Mode&0o7777 != mailboxDirMode {
			if err := s.reown(dir, fo, rep, budget); err != nil {
				return err
			}
			rep.Reowned++
			if f == Inbox {
				if err := s.recordOwner(dir, mb.Owner.UID, fo); err != nil {
					return err
				}
			}
		}
	}
	if !scan {
		return nil
	}
	return s.removeLeftovers(dir, rep, budget)
}

// reown gives dir and everything in it (bundles one level down) the
// mailbox modes and owner, through descriptors.
func (s *Store) reown(dir *safefs.Dir, fo *Owner, rep *RepairReport, budget *int) error {
	if err := dir.Chown(fo.UID, fo.GID); err != nil {
		return err
	}
	if err := dir.Chmod(mailboxDirMode); err != nil {
		return err
	}
	des, err := dir.Names()
	if err != nil {
		return err
	}
	for _, de := range des {
		*budget--
		name := de.Name()
		switch {
		case de.IsDir():
			sub, err := dir.OpenDir(name)
			if err != nil {
				rep.Refused++
				continue
			}
			err = s.reown(sub, fo, rep, budget)
			sub.Close()
			if err != nil {
				return err
			}
		case de.Type().IsRegular():
			f, _, err := dir.OpenFile(name, 0)
			if err != nil {
				rep.Refused++
				continue
			}
			err = reownFile(f, fo)
			f.Close()
			if err != nil {
				return fmt.Errorf("reown %s: %w", dir.Join(name), err)
			}
		default:
			rep.Refused++
		}
	}
	return nil
}

func reownFile(f *os.File, fo *Owner) error {
	if err := unix.Fchown(int(f.Fd()), fo.UID, fo.GID); err != nil {
		return err
	}
	return unix.Fchmod(int(f.Fd()), mailboxFileMode)
}

// isTempName matches the writer's temp files and the bundle temp dirs.
func isTempName(name string) bool {
	return strings.HasPrefix(name, ".bundle-") || strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-")
}

// removeLeftovers removes temp names and orphan .eml files in dir (and
// temp files inside bundles).
func (s *Store) removeLeftovers(dir *safefs.Dir, rep *RepairReport, budget *int) error {
	des, err := dir.Names()
	if err != nil {
		return err
	}
	names := make(map[string]bool, len(des))
	for _, de := range des {
		names[de.Name()] = true
	}
	changed := false
	for _, de := range des {
		*budget--
		name := de.Name()
		switch {
		case isTempName(name):
			if _, err := dir.RemoveAll(name); err != nil {
				return err
			}
			rep.Temps++
			changed = true
		case strings.HasPrefix(name, "."):
		case de.Type().IsRegular() && strings.HasSuffix(name, ".eml"):
			stem := strings.TrimSuffix(name, ".eml")
			if !names[stem+".md"] {
				if err := dir.Remove(name); err != nil {
					return err
				}
				rep.Orphans++
				changed = true
			}
		case de.IsDir():
			sub, err := dir.OpenDir(name)
			if err != nil {
				continue
			}
			err = s.removeBundleTemps(sub, rep)
			sub.Close()
			if err != nil {
				return err
			}
		}
	}
	if changed {
		return dir.Sync()
	}
	return nil
}

func (s *Store) removeBundleTemps(dir *safefs.Dir, rep *RepairReport) error {
	des, err := dir.Names()
	if err != nil {
		return err
	}
	changed := false
	for _, de := range des {
		if isTempName(de.Name()) {
			if _, err := dir.RemoveAll(de.Name()); err != nil {
				return err
			}
			rep.Temps++
			changed = true
		}
	}
	if changed {
		return dir.Sync()
	}
	return nil
}
