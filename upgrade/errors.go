package upgrade

import (
	"errors"
	"fmt"
)

// ErrConflict matches a *ConflictError with errors.Is.
var ErrConflict = errors.New("legacy and migrated paths both present")

// ErrCrossDevice matches a *CrossDeviceError with errors.Is.
var ErrCrossDevice = errors.New("cross-device move")

// ErrNotDir matches a *NotDirError with errors.Is.
var ErrNotDir = errors.New("legacy path is not a plain directory")

// ConflictError reports a path of the single-domain layout whose migrated
// place is taken too, both holding something: the migration never merges
// or overwrites, so it stops before moving anything (book/upgrade.md).
type ConflictError struct {
	Old, New string
	// Key is set for a DKIM key pair (Old and New are then the dirs
	// holding the two pairs), unset for a mailbox dir.
	Key bool
}

// Error says what was found and what to do.
func (e *ConflictError) Error() string {
	if e.Key {
		return fmt.Sprintf("upgrade: the single-domain DKIM key pair in %s (private.key, public.key) and the pair in %s differ, "+
			"and aimx will not choose: keep in %s the pair whose public key your DNS record publishes (the p= of "+
			"<selector>._domainkey.<domain>), remove private.key and public.key from %s, then start again (book/upgrade.md)",
			e.Old, e.New, e.New, e.Old)
	}
	return fmt.Sprintf("upgrade: both %s (single-domain layout) and %s (its migrated place) hold mail, and aimx will not merge "+
		"them: stop aimx, move every message of the first into the second by hand (a message is a <stem>.md file or a <stem>/ "+
		"bundle dir; rename a stem found in both), remove the emptied first dir, then start again (book/upgrade.md)", e.Old, e.New)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// CrossDeviceError reports a move between two file systems (rename(2)
// answers EXDEV, or the two sides have different devices). aimx moves
// mail with rename only, never by copying, so nothing was copied or left
// half-done (book/upgrade.md).
type CrossDeviceError struct {
	From, To string
	Err      error // the rename error; nil when found by comparing devices
}

// Error says what was found and what to do.
func (e *CrossDeviceError) Error() string {
	return fmt.Sprintf("upgrade: cannot move %s to %s: they are on different file systems, and aimx moves mail with rename(2), "+
		"never by copying, so nothing was moved there. Put them on one file system (if %s is a mount point, mount that file "+
		"system at the data dir instead), or stop aimx and move the tree by hand with `mv %s %s`; then start again (book/upgrade.md)",
		e.From, e.To, e.From, e.From, e.To)
}

// Is makes errors.Is(err, ErrCrossDevice) true.
func (e *CrossDeviceError) Is(target error) bool { return target == ErrCrossDevice }

// Unwrap returns the rename error.
func (e *CrossDeviceError) Unwrap() error { return e.Err }

// NotDirError reports a path of the single-domain layout that is not what
// aimx wrote there (a symlink, a file where a dir belongs, or the other
// way round): the migration follows no symlink (book/security.md).
type NotDirError struct {
	Path, Want string
}

// Error says what was found and what to do.
func (e *NotDirError) Error() string {
	return fmt.Sprintf("upgrade: %s is not a %s (a symlink or another kind of file): aimx follows no symlink there; "+
		"replace it with the %s it points to, or remove it, then start again (book/upgrade.md)", e.Path, e.Want, e.Want)
}

// Is makes errors.Is(err, ErrNotDir) true.
func (e *NotDirError) Is(target error) bool { return target == ErrNotDir }
