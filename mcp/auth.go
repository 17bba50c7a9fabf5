package mcp

import (
	"fmt"
	"strings"

	"github.com/aimx-dev/aimx/domains"
)

// toolError is a failure the agent can act on: its text goes back to the
// agent as is, as the tool result's error text (book/mcp.md: plain sentences).
// Any other error is an internal failure: the agent gets a generic
// sentence and the log gets the detail.
type toolError struct{ msg string }

func (e *toolError) Error() string { return e.msg }

// errorf builds a toolError.
func errorf(format string, args ...any) error {
	return &toolError{msg: fmt.Sprintf(format, args...)}
}

// errMailboxNotFound is the one answer for a mailbox that does not exist
// and for one the caller may not see, byte for byte (book/admin.md).
func errMailboxNotFound(name string) error {
	return errorf("mailbox %q not found. Call mailbox_list to see the mailboxes you can use.", name)
}

// resolveName turns a mailbox name given by the agent into its FQDN: a
// bare local part resolves against the default domain (book/configuration.md).
func resolveName(cfg *domains.Config, input string) (string, error) {
	input = strings.TrimSpace(input)
	if input == "" {
		return "", errorf("a mailbox name is required, such as support@%s or just support.", cfg.DefaultDomain())
	}
	name, err := cfg.ResolveName(input)
	if err != nil {
		return "", errorf("%q is not a valid mailbox name: use local@domain or a bare local part (lowercase a-z, 0-9, '.', '_', '+', '-').", input)
	}
	return name, nil
}

// visibleMailbox is the authorization check every tool makes before it
// touches a mailbox: the mailbox named input, if it exists and the caller
// may see it. A mailbox the caller may not see answers exactly like a
// missing one (book/admin.md).
func visibleMailbox(cfg *domains.Config, c Caller, input string) (domains.Mailbox, error) {
	name, err := resolveName(cfg, input)
	if err != nil {
		return domains.Mailbox{}, err
	}
	m, ok := cfg.Mailboxes[name]
	if !ok || !c.sees(m.Name, m.Owner) {
		return domains.Mailbox{}, errMailboxNotFound(name)
	}
	return m, nil
}
