package outbound

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/aimx-dev/aimx/mail/message"
)

// Sentinel errors of a request that cannot be composed. Every error Compose
// returns for a bad request wraps one of them (and usually a *FieldError
// naming the field), so a caller can map them to its own error kinds.
var (
	// ErrControlChar is a header value holding CR, LF or another control
	// character: header values are one line (RFC 5322 2.2), and letting a
	// line break through would let a caller add header fields of its own.
	ErrControlChar = errors.New("contains a line break or another control character")
	// ErrInvalidAddress is an address that is not a plain addr-spec
	// (RFC 5322 3.4.1).
	ErrInvalidAddress = errors.New("invalid email address")
	// ErrNoRecipients is a request with no To, Cc or Bcc.
	ErrNoRecipients = errors.New("no recipients")
	// ErrTooManyRecipients is a request over Limits.MaxRecipients.
	ErrTooManyRecipients = errors.New("too many recipients")
	// ErrTooLarge is a body, an attachment or a whole message over its cap.
	ErrTooLarge = errors.New("too large")
	// ErrInvalid is any other unusable value (a content type, a message id).
	ErrInvalid = errors.New("invalid value")
)

// FieldError says which request field was refused and why.
type FieldError struct {
	Field string
	Err   error
}

// Error renders "field: reason".
func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }

// Unwrap returns the reason, one of the sentinel errors above (possibly
// wrapped with more detail).
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field string, err error) error { return &FieldError{Field: field, Err: err} }

// Address is one mailbox: an optional display name and a bare address.
type Address struct {
	Name string
	Addr string
}

// String renders the mailbox the way the stored frontmatter shows one
// (book/storage.md, message.FormatAddress).
func (a Address) String() string { return message.FormatAddress(a.Name, a.Addr) }

// header renders the mailbox for a header field: a non-ASCII display name
// becomes RFC 2047 encoded words (RFC 2047 5(3); B encoding when the name
// holds specials), an ASCII name is quoted (RFC 5322 3.2.4).
func (a Address) header() string {
	if a.Name == "" {
		return a.Addr
	}
	return (&mail.Address{Name: a.Name, Address: a.Addr}).String()
}

// ParseAddress reads one mailbox as an agent or a CLI user writes it:
// `addr@example.com` or `Name <addr@example.com>`.
func ParseAddress(s string) (Address, error) {
	if err := checkHeaderText(s); err != nil {
		return Address{}, err
	}
	a, err := mail.ParseAddress(strings.TrimSpace(s))
	if err != nil {
		return Address{}, fmt.Errorf("%w %q: %v", ErrInvalidAddress, s, err)
	}
	out := Address{Name: a.Name, Addr: a.Address}
	if err := out.check(); err != nil {
		return Address{}, err
	}
	return out, nil
}

// ParseAddressList reads a comma-separated list of mailboxes (the `to`,
// `cc` and `bcc` parameters). An empty string is an empty list.
func ParseAddressList(s string) ([]Address, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if err := checkHeaderText(s); err != nil {
		return nil, err
	}
	list, err := mail.ParseAddressList(s)
	if err != nil {
		return nil, fmt.Errorf("%w in list %q: %v", ErrInvalidAddress, s, err)
	}
	out := make([]Address, 0, len(list))
	for _, a := range list {
		addr := Address{Name: a.Name, Addr: a.Address}
		if err := addr.check(); err != nil {
			return nil, err
		}
		out = append(out, addr)
	}
	return out, nil
}

// check validates a mailbox for use in a header and in the SMTP envelope.
// Addresses are plain ASCII addr-specs: internationalized addresses
// (RFC 6531) would need SMTPUTF8 end to end, which the queue does not ask
// for yet.
func (a Address) check() error {
	if err := checkHeaderText(a.Name); err != nil {
		return fmt.Errorf("display name %q: %w", a.Name, err)
	}
	addr := a.Addr
	if addr == "" {
		return fmt.Errorf("%w: empty address", ErrInvalidAddress)
	}
	for i := 0; i < len(addr); i++ {
		if c := addr[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' || c == ',' {
			return fmt.Errorf("%w %q: only printable ASCII without spaces, brackets or commas is accepted", ErrInvalidAddress, addr)
		}
	}
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return fmt.Errorf("%w %q: want local@domain", ErrInvalidAddress, addr)
	}
	// RFC 5321 4.5.3.1.1 and 4.5.3.1.2: local part 64, domain 255 octets.
	if at > 64 || len(addr)-at-1 > 255 {
		return fmt.Errorf("%w %q: local part or domain too long", ErrInvalidAddress, addr)
	}
	parsed, err := mail.ParseAddress("<" + addr + ">")
	if err != nil || parsed.Address != addr {
		return fmt.Errorf("%w %q", ErrInvalidAddress, addr)
	}
	return nil
}

// domain is the part after the last "@", lowercased.
func (a Address) domain() string {
	return strings.ToLower(a.Addr[strings.LastIndexByte(a.Addr, '@')+1:])
}

// key is the address compared case-insensitively, for deduplication.
func (a Address) key() string { return strings.ToLower(a.Addr) }

// checkHeaderText refuses a value that would not stay one header line:
// C0 controls (CR and LF among them), DEL, C1 controls and the Unicode line
// and paragraph separators, and invalid UTF-8 (RFC 5322 2.2, RFC 6532 3.2).
func checkHeaderText(s string) error {
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				return fmt.Errorf("invalid UTF-8 at byte %d: %w", i, ErrInvalid)
			}
		case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0, r == '\u2028', r == '\u2029':
			return fmt.Errorf("%w (%U at byte %d); header values must be one line", ErrControlChar, r, i)
		}
	}
	return nil
}
