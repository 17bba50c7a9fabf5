// Package tomlenc writes the two TOML lexical forms aimx's own encoders
// (config.toml and message frontmatter) need byte-exactly: double-quoted
// basic strings and keys. go-toml/v2's encoder writes single-quoted strings
// and cannot be told otherwise (book/architecture.md, "Library traps"), so the encoders
// are ours and share this.
package tomlenc

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// String returns s as a TOML basic (double-quoted) string: `"` and `\`
// escaped, control characters (U+0000–U+001F, U+007F) as escapes,
// everything else as UTF-8. Invalid UTF-8 becomes U+FFFD, since TOML text
// must be UTF-8.
func String(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Key returns k as a bare TOML key when the grammar allows one
// ([A-Za-z0-9_-]+), else as a quoted key.
func Key(k string) string {
	if k == "" {
		return `""`
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return String(k)
		}
	}
	return k
}
