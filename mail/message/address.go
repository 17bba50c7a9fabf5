package message

import (
	"strings"

	gomail "github.com/emersion/go-message/mail"
)

// address is one parsed mailbox: a decoded display name and a bare address.
type address struct {
	name string
	addr string
}

// String renders the mailbox with FormatAddress.
func (a address) String() string { return FormatAddress(a.name, a.addr) }

// FormatAddress renders a mailbox the way the frontmatter stores one
// (book/storage.md): `Name <addr>`, or `addr` without a name. A name holding
// RFC 5322 specials (a comma, a quote, brackets...) is quoted, so the string
// is again a valid address an agent can paste into `to`.
func FormatAddress(name, addr string) string {
	if name == "" {
		return addr
	}
	if strings.ContainsAny(name, "()<>[]:;@\\,.\"") {
		name = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name) + `"`
	}
	if addr == "" {
		return name
	}
	return name + " <" + addr + ">"
}

// parseAddresses parses an address-list value (From, To, Cc, Reply-To) with
// RFC 2047 display names decoded (RFC 5322 3.4). When the whole list does not
// parse, each comma-separated piece is parsed on its own, and a piece that
// still fails is kept as decoded text with the bare address guessed from
// `<...>` or an "@" token, so malformed mail keeps every recipient it names.
func parseAddresses(v string) []address {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	if list, err := gomail.ParseAddressList(v); err == nil {
		return convert(list)
	}
	var out []address
	for _, piece := range splitList(v) {
		if list, err := gomail.ParseAddressList(piece); err == nil {
			out = append(out, convert(list)...)
			continue
		}
		out = append(out, guessAddress(piece))
	}
	return out
}

// convert turns net/mail addresses into ours, making both parts valid UTF-8.
func convert(list []*gomail.Address) []address {
	out := make([]address, 0, len(list))
	for _, a := range list {
		out = append(out, address{
			name: strings.TrimSpace(validUTF8(a.Name)),
			addr: validUTF8(a.Address),
		})
	}
	return out
}

// guessAddress makes the best of a piece no parser accepts: the text inside
// the last `<...>` or the first token holding "@" is the address, and the
// decoded text before the first "<" is the name.
func guessAddress(piece string) address {
	text := strings.TrimSpace(decodeText(piece))
	if open := strings.LastIndexByte(text, '<'); open >= 0 {
		rest := text[open+1:]
		if end := strings.IndexByte(rest, '>'); end >= 0 {
			first := strings.IndexByte(text, '<')
			name := strings.Trim(strings.TrimSpace(text[:first]), `"`)
			return address{name: name, addr: strings.TrimSpace(rest[:end])}
		}
	}
	for _, tok := range strings.Fields(text) {
		if strings.Contains(tok, "@") {
			return address{addr: strings.Trim(tok, `<>"',;`)}
		}
	}
	return address{name: text}
}

// splitList splits an address list on commas that are outside quoted
// strings, comments and angle brackets. Empty pieces are dropped.
func splitList(v string) []string {
	var (
		out     []string
		quoted  bool
		escaped bool
		depth   int // comment nesting
		angle   bool
		start   int
	)
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case escaped:
			escaped = false
		case c == '\\' && (quoted || depth > 0):
			escaped = true
		case quoted:
			quoted = c != '"'
		case c == '"' && depth == 0:
			quoted = true
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth > 0:
		case c == '<':
			angle = true
		case c == '>':
			angle = false
		case c == ',' && !angle:
			if p := strings.TrimSpace(v[start:i]); p != "" {
				out = append(out, p)
			}
			start = i + 1
		}
	}
	if p := strings.TrimSpace(v[start:]); p != "" {
		out = append(out, p)
	}
	return out
}

// strs renders addresses as strings for the Message fields.
func strs(list []address) []string {
	if len(list) == 0 {
		return nil
	}
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.String()
	}
	return out
}
