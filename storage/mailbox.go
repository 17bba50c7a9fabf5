package storage

import (
	"errors"
	"fmt"
	"strings"
)

// CatchallLocal names the storage directory of a domain's catchall mailbox
// (`*@domain`). book/configuration.md reserves it as a local part, so it cannot clash.
const CatchallLocal = "catchall"

// Errors callers compare with errors.Is.
var (
	// ErrInvalidMailbox reports a mailbox ref whose domain or local part
	// could escape its directory or breaks the book/configuration.md grammar.
	ErrInvalidMailbox = errors.New("invalid mailbox")
	// ErrInvalidID reports a message id that is not a plain name inside the
	// mailbox directory (traversal, separators, NUL, dot-prefixed, empty).
	ErrInvalidID = errors.New("invalid message id")
	// ErrNotFound reports a message id that names no message (or names a
	// symlink, which is never followed).
	ErrNotFound = errors.New("message not found")
	// ErrInvalidFolder reports a folder other than inbox, sent, archive or
	// trash.
	ErrInvalidFolder = errors.New("invalid folder")
	// ErrReadOnly is returned by writes on a store opened with OpenReadOnly.
	ErrReadOnly = errors.New("store is read-only")
	// ErrForeignMail is returned by EnsureMailbox when the mailbox's
	// storage already holds mail that belonged to another owner (a mailbox
	// removed from the config by hand and created again): it is never
	// handed over. The operator may wipe it (RemoveMailbox, then
	// EnsureMailbox) with --force (book/security.md, M6).
	ErrForeignMail = errors.New("mailbox storage holds another owner's mail")
)

// Folder is one of the per-mailbox trees of book/storage.md.
type Folder string

// The folders of a mailbox. Mail arrives in Inbox and Sent (Put); Archive
// and Trash are reached only by moving a message there (book/storage.md,
// "Trash, archive and labels").
const (
	Inbox   Folder = "inbox"   // mail received for the mailbox
	Sent    Folder = "sent"    // copies of mail the mailbox sent
	Archive Folder = "archive" // received mail moved out of the inbox
	Trash   Folder = "trash"   // deleted mail, removed for good after the retention period
)

// Folders lists every folder of a mailbox, in the order they are checked,
// repaired and removed.
var Folders = []Folder{Inbox, Sent, Archive, Trash}

// Validate reports whether f is one of Folders.
func (f Folder) Validate() error {
	switch f {
	case Inbox, Sent, Archive, Trash:
		return nil
	}
	return fmt.Errorf("%w %q (want inbox, sent, archive or trash)", ErrInvalidFolder, string(f))
}

// MailboxRef names a mailbox's storage: its domain and its local part, or
// CatchallLocal for the domain's catchall. It is what storage knows of a
// mailbox; owners and hooks live in the config.
type MailboxRef struct {
	Domain string
	Local  string
}

// String is the mailbox's FQDN name (`local@domain`, `*@domain` for the
// catchall), the value written to the frontmatter `mailbox` field.
func (r MailboxRef) String() string {
	if r.Local == CatchallLocal {
		return "*@" + r.Domain
	}
	return r.Local + "@" + r.Domain
}

// Validate checks both parts so they can be used as path components: the
// domain against the RFC 1035 shape of book/configuration.md and the local part against
// the book/configuration.md grammar. Neither can contain a separator, NUL or `..`.
func (r MailboxRef) Validate() error {
	if err := validateDomain(r.Domain); err != nil {
		return fmt.Errorf("%w: domain %q: %s", ErrInvalidMailbox, r.Domain, err)
	}
	if err := validateLocal(r.Local); err != nil {
		return fmt.Errorf("%w: local part %q: %s", ErrInvalidMailbox, r.Local, err)
	}
	return nil
}

// validateDomain applies book/configuration.md: ≤253 chars, ≥2 labels, labels 1–63 of
// [a-z0-9-] with no edge '-', lowercase.
func validateDomain(d string) error {
	if d == "" || len(d) > 253 {
		return errors.New("must be 1-253 characters")
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return errors.New("needs at least two labels")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return errors.New("labels must be 1-63 characters")
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return errors.New("labels must not start or end with '-'")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("character %q not allowed (lowercase a-z, 0-9, '-')", c)
			}
		}
	}
	return nil
}

// validateLocal applies book/configuration.md: lowercased [a-z0-9._+-], 1–64 chars, no
// leading/trailing '.', no "..".
func validateLocal(l string) error {
	if l == "" || len(l) > 64 {
		return errors.New("must be 1-64 characters")
	}
	if l[0] == '.' || l[len(l)-1] == '.' || strings.Contains(l, "..") {
		return errors.New("must not start or end with '.' or contain '..'")
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("._+-", c) >= 0) {
			return fmt.Errorf("character %q not allowed (lowercase a-z, 0-9, '.', '_', '+', '-')", c)
		}
	}
	return nil
}

// ValidateID checks that a message id can only name an entry directly inside
// a mailbox folder. Ids are opaque (Rust stems keep Unicode letters, book/upgrade.md), so only what could escape or hide is refused.
func ValidateID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty", ErrInvalidID)
	case id == "." || id == "..":
		return fmt.Errorf("%w %q", ErrInvalidID, id)
	case strings.HasPrefix(id, "."):
		return fmt.Errorf("%w %q: dot-prefixed", ErrInvalidID, id)
	case strings.ContainsAny(id, "/\\\x00"):
		return fmt.Errorf("%w %q: contains a separator or NUL", ErrInvalidID, id)
	case len(id) > 250:
		return fmt.Errorf("%w: longer than 250 bytes", ErrInvalidID)
	}
	return nil
}
