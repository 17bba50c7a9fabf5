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

// resolveName turns a mailbox name given by the agent into its FQDN
// (book/mcp.md, "Arguments"): a bare local part resolves against the
// default domain (book/configuration.md); case does not matter, since
// mailbox names are lowercase by grammar; and an address with a display
// name (Hello <hello@a.com>, RFC 5322 3.4 name-addr, the shape email_list
// returns) means the address between the angle brackets.
func resolveName(cfg *domains.Config, input string) (string, error) {
	input = strings.TrimSpace(input)
	if input == "" {
		return "", errorf("a mailbox name is required, such as support@%s or just support.", cfg.DefaultDomain())
	}
	addr := input
	if i := strings.LastIndexByte(addr, '<'); i >= 0 && strings.HasSuffix(addr, ">") {
		addr = strings.TrimSpace(addr[i+1 : len(addr)-1])
	}
	addr = strings.ToLower(addr)
	name, err := cfg.ResolveName(addr)
	if err != nil {
		return "", nameRefusal(input, addr)
	}
	return name, nil
}

// nameRefusal says why a mailbox name cannot be used.
func nameRefusal(input, addr string) error {
	local, domain := domains.SplitName(addr)
	switch {
	case local == domains.ReservedLocal:
		return errorf("%q is a reserved name: %q names the storage of a domain's catchall, so no mailbox is called that. Use another local part.", input, domains.ReservedLocal)
	case len(local) > 64: // RFC 5321 4.5.3.1.1
		return errorf("%q is too long: the part before the @ may hold at most 64 characters, and this one has %d.", input, len(local))
	case len(domain) > 253: // RFC 1035 2.3.4
		return errorf("%q is too long: a domain may hold at most 253 characters, and this one has %d.", input, len(domain))
	}
	return errorf("%q is not a valid mailbox name: use local@domain or a bare local part (a-z, 0-9, '.', '_', '+', '-').", input)
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
