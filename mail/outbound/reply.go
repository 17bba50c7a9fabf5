package outbound

import (
	"fmt"
	"strings"
)

// Original is what a reply needs from the message it answers, as the
// stored frontmatter or mail/message holds it: ids with or without angle
// brackets, addresses as `Name <addr>` or `addr`.
type Original struct {
	MessageID  string
	InReplyTo  string
	References []string
	ReplyTo    []string
	From       string
	To, Cc     []string
	Subject    string
}

// ReplyFields are the parts of a Request that make it a reply.
type ReplyFields struct {
	To, Cc     []Address
	Subject    string
	InReplyTo  string
	References []string
}

// Apply sets the reply's recipients, subject and threading on req.
func (f ReplyFields) Apply(req *Request) {
	req.To, req.Cc = f.To, f.Cc
	req.Subject = f.Subject
	req.InReplyTo, req.References = f.InReplyTo, f.References
}

// Reply derives a reply to orig sent from self. It goes to the original's
// Reply-To, else its From (RFC 5322 3.6.2); with all set, the original's
// other To go to To and its Cc to Cc, without self and without duplicates.
// A reply to a message self sent goes to that message's To instead.
// Threading follows RFC 5322 3.6.4: In-Reply-To is the original's id and
// References its References (else its In-Reply-To) followed by its id.
// The subject gets one "Re: ".
func Reply(orig Original, self string, all bool) (ReplyFields, error) {
	var f ReplyFields
	selfKey := strings.ToLower(strings.TrimSpace(self))
	seen := map[string]bool{selfKey: true}
	add := func(dst *[]Address, a Address) {
		if !seen[a.key()] {
			seen[a.key()] = true
			*dst = append(*dst, a)
		}
	}

	primary := orig.ReplyTo
	if len(primary) == 0 && orig.From != "" {
		primary = []string{orig.From}
	}
	var primaryAddrs []Address
	for _, s := range primary {
		a, err := ParseAddress(s)
		if err != nil {
			return ReplyFields{}, fmt.Errorf("reply: recipient of the original: %w", err)
		}
		primaryAddrs = append(primaryAddrs, a)
	}
	fromSelf := len(primaryAddrs) > 0
	for _, a := range primaryAddrs {
		if a.key() != selfKey {
			fromSelf = false
		}
	}
	if fromSelf {
		// Answering our own message: continue the conversation with its
		// recipients, not with ourselves.
		primaryAddrs = parseSome(orig.To)
	}
	for _, a := range primaryAddrs {
		add(&f.To, a)
	}
	if all {
		for _, a := range parseSome(orig.To) {
			add(&f.To, a)
		}
		for _, a := range parseSome(orig.Cc) {
			add(&f.Cc, a)
		}
	}
	if len(f.To) == 0 {
		return ReplyFields{}, fmt.Errorf("reply: the original names no one to reply to: %w", ErrNoRecipients)
	}

	f.Subject = replySubject(orig.Subject)

	var refs []string
	for _, r := range orig.References {
		if id, err := cleanID("references", r); err == nil {
			refs = append(refs, id)
		}
	}
	if len(refs) == 0 && orig.InReplyTo != "" {
		if id, err := cleanID("in_reply_to", orig.InReplyTo); err == nil {
			refs = append(refs, id)
		}
	}
	if orig.MessageID != "" {
		id, err := cleanID("message_id", orig.MessageID)
		if err != nil {
			return ReplyFields{}, fmt.Errorf("reply: the original's Message-ID: %w", err)
		}
		f.InReplyTo = id
		if len(refs) == 0 || refs[len(refs)-1] != id {
			refs = append(refs, id)
		}
	}
	f.References = refs
	return f, nil
}

// parseSome parses the addresses that parse and skips the rest: a
// malformed Cc of the original must not stop a reply.
func parseSome(list []string) []Address {
	var out []Address
	for _, s := range list {
		if a, err := ParseAddress(s); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// replySubject prefixes one "Re: ", dropping any "Re:", "RE :" or "Re[2]:"
// already in front, so answers to answers do not pile up prefixes.
// Control characters (a tab left by unfolding) become spaces so that the
// subject passes Compose's header check.
func replySubject(s string) string {
	rest := strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD")))
	for {
		n := replyPrefixLen(rest)
		if n == 0 {
			break
		}
		rest = strings.TrimSpace(rest[n:])
	}
	return "Re: " + rest
}

// replyPrefixLen is the length of a leading `re`, optional `[n]`,
// optional spaces and `:`, case-insensitively; 0 when there is none.
func replyPrefixLen(s string) int {
	if len(s) < 3 || !strings.EqualFold(s[:2], "re") {
		return 0
	}
	i := 2
	if i < len(s) && s[i] == '[' {
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i+1 || j >= len(s) || s[j] != ']' {
			return 0
		}
		i = j + 1
	}
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i < len(s) && s[i] == ':' {
		return i + 1
	}
	return 0
}
