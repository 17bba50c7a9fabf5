package operations

import (
	"errors"
	"fmt"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// Errors of the operations, compared with errors.Is / errors.As. Each door
// words them for its reader; none names a file path.
var (
	// ErrNoSuchMailbox: the name is not configured, or the caller may not
	// see it (the two are one answer: book/admin.md).
	ErrNoSuchMailbox = domains.ErrNoMailbox
	// ErrMailboxTaken: the name exists with another owner.
	ErrMailboxTaken = errors.New("mailbox exists with another owner")
	// ErrDomainNotServed: the name's domain is not one of the domains.
	ErrDomainNotServed = errors.New("domain not served")
	// ErrUnknownOwner: the owner is not a user on this host.
	ErrUnknownOwner = errors.New("unknown owner")
	// ErrForeignMail: the mailbox's storage still holds another owner's
	// mail; only the operator's door may force it.
	ErrForeignMail = storage.ErrForeignMail
	// ErrCatchall: a catchall, through a door that may not create or
	// delete one, or as a hook's mailbox.
	ErrCatchall = errors.New("catchall")
	// ErrRoleAddress: a role address (postmaster, abuse, ...), through a
	// door that may not create one (book/security.md, "Role addresses").
	ErrRoleAddress = errors.New("role address")
	// ErrInvalidHook: the hook breaks a book/hooks.md rule.
	ErrInvalidHook = errors.New("invalid hook")
	// ErrHookNotFound: no hook has that name, or the caller may not see
	// its mailbox.
	ErrHookNotFound = errors.New("no such hook")
	// ErrHookExists: another hook already has that (effective) name
	// (a *HookTakenError says whose).
	ErrHookExists = errors.New("hook name already used")
)

// NotEmptyError refuses to delete a mailbox that holds mail without force.
type NotEmptyError struct {
	Name     string
	Messages int // inbox and sent copies
}

func (e *NotEmptyError) Error() string {
	return fmt.Sprintf("mailbox %s holds %d messages", e.Name, e.Messages)
}

// HookTakenError refuses a hook whose name another hook has (names are
// unique across the server, book/hooks.md). Hidden is set when the caller
// may not see the mailbox of that hook: a door must then answer without
// naming it.
type HookTakenError struct {
	Name    string
	Mailbox string
	Hidden  bool
}

func (e *HookTakenError) Error() string {
	return fmt.Sprintf("%v: %q is a hook of %s (names are unique across the server)", ErrHookExists, e.Name, e.Mailbox)
}

// Is makes a *HookTakenError match ErrHookExists.
func (e *HookTakenError) Is(target error) bool { return target == ErrHookExists }
