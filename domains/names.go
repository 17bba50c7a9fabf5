package domains

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aimx-dev/aimx/storage"
)

// CatchallLocal is the local part of a catchall mailbox name (`*@a.com`).
const CatchallLocal = "*"

// ReservedLocal is the local part no mailbox may have: it names the
// catchall's storage directory (book/configuration.md), and it is the legacy
// `[mailboxes.catchall]` key.
const ReservedLocal = "catchall"

// NormalizeDomain lowercases a domain name and checks it against RFC 1035
// as book/configuration.md states it: at most 253 characters, at least two labels, labels
// of 1–63 characters from [a-z0-9-] that neither start nor end with `-`.
func NormalizeDomain(s string) (string, error) {
	d := strings.ToLower(s)
	if d == "" {
		return "", errors.New("empty domain name")
	}
	if len(d) > 253 { // RFC 1035 2.3.4
		return "", fmt.Errorf("domain %q is longer than 253 characters", s)
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return "", fmt.Errorf("domain %q needs at least two labels (like example.com)", s)
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return "", fmt.Errorf("domain %q has a label that is empty or longer than 63 characters", s)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", fmt.Errorf("domain %q may only hold letters, digits, '-' and '.'", s)
			}
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return "", fmt.Errorf("domain %q has a label that starts or ends with '-'", s)
		}
	}
	return d, nil
}

// ValidLocalPart checks the local part grammar of book/configuration.md: 1–64 characters
// of [a-z0-9._+-], no leading or trailing `.`, no `..`, and not the reserved
// `catchall`.
func ValidLocalPart(s string) error {
	if s == "" || len(s) > 64 { // RFC 5321 4.5.3.1.1
		return fmt.Errorf("local part %q must be 1 to 64 characters", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '+' || c == '-') {
			if c >= 'A' && c <= 'Z' {
				return fmt.Errorf("local part %q must be lowercase", s)
			}
			return fmt.Errorf("local part %q may only hold a-z, 0-9, '.', '_', '+' and '-'", s)
		}
	}
	if s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return fmt.Errorf("local part %q must not start or end with '.' or contain '..'", s)
	}
	if s == ReservedLocal {
		return fmt.Errorf("local part %q is reserved (it names the catchall's storage); use \"*@domain\" for a catchall", s)
	}
	return nil
}

// ParseMailboxName validates a mailbox name given as an FQDN (`info@A.com`
// or the catchall `*@a.com`) and returns it with the domain lowercased. The
// local part is not case-folded: it must already match the grammar.
func ParseMailboxName(s string) (name, local, domain string, err error) {
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return "", "", "", fmt.Errorf("mailbox name %q is not an address (local@domain)", s)
	}
	local = s[:at]
	domain, err = NormalizeDomain(s[at+1:])
	if err != nil {
		return "", "", "", fmt.Errorf("mailbox %q: %w", s, err)
	}
	if local != CatchallLocal {
		if err := ValidLocalPart(local); err != nil {
			return "", "", "", fmt.Errorf("mailbox %q: %w", s, err)
		}
	}
	return local + "@" + domain, local, domain, nil
}

// IsCatchall reports whether a mailbox name is a catchall (`*@d`).
func IsCatchall(name string) bool {
	return strings.HasPrefix(name, CatchallLocal+"@")
}

// SplitName splits a mailbox name into local part and domain.
func SplitName(name string) (local, domain string) {
	at := strings.LastIndexByte(name, '@')
	if at < 0 {
		return name, ""
	}
	return name[:at], name[at+1:]
}

// StorageDir is the directory a mailbox's mail is stored under in its
// domain's inbox/ and sent/: the local part, or `catchall` for `*@d` (book/storage.md).
func StorageDir(name string) string {
	local, _ := SplitName(name)
	if local == CatchallLocal {
		return ReservedLocal
	}
	return local
}

// MailboxRef is where a mailbox's mail is stored: its domain and
// StorageDir (book/storage.md). Every package that reaches a mailbox's
// storage by name goes through it.
func MailboxRef(name string) storage.MailboxRef {
	_, domain := SplitName(name)
	return storage.MailboxRef{Domain: domain, Local: StorageDir(name)}
}

// validSelector checks the dkim_selector grammar [a-z0-9_-]{1,63} (book/configuration.md).
func validSelector(s string) error {
	if s == "" || len(s) > 63 {
		return fmt.Errorf("dkim_selector %q must be 1 to 63 characters", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("dkim_selector %q may only hold a-z, 0-9, '_' and '-'", s)
		}
	}
	return nil
}

// validHookName checks ^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}$ (book/hooks.md).
func validHookName(s string) error {
	if s == "" || len(s) > 128 {
		return fmt.Errorf("hook name %q must be 1 to 128 characters", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
		if i > 0 {
			ok = ok || c == '.' || c == '-'
		}
		if !ok {
			return fmt.Errorf("hook name %q must match ^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}$", s)
		}
	}
	return nil
}

// validOwnerName rejects owner names no Unix account can have; whether the
// account exists is checked separately and only warned about (book/configuration.md).
func validOwnerName(s string) error {
	if s == "" {
		return errors.New("owner is required")
	}
	if len(s) > 64 {
		return fmt.Errorf("owner %q is longer than 64 characters", s)
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == ':' || r == '/' || r == ',' {
			return fmt.Errorf("owner %q is not a valid user name", s)
		}
	}
	return nil
}
