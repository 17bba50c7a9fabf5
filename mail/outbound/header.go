package outbound

import (
	"encoding/base32"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"
)

// Line lengths of RFC 5322 2.1.1: lines SHOULD stay within 78 characters
// and MUST stay within 998, both without the CRLF.
const (
	foldAt      = 78
	maxLineSize = 998
)

// foldField renders one header field, folding at spaces so lines stay
// within 78 characters where the words allow (RFC 5322 2.2.3), and fails
// when a single word would make a line longer than 998. value must be
// ASCII: every non-ASCII text has been RFC 2047-encoded before.
func foldField(name, value string) (string, error) {
	for i := 0; i < len(value); i++ {
		if c := value[i]; c >= 0x80 || c == '\r' || c == '\n' {
			return "", fmt.Errorf("header %s: unencoded byte %#x: %w", name, c, ErrInvalid)
		}
	}
	var b strings.Builder
	line := name + ":"
	for _, word := range strings.Split(value, " ") {
		// Never fold before an empty word: that would leave a line of
		// whitespace only, which RFC 5322 3.2.2 forbids.
		if word != "" && len(line)+1+len(word) > foldAt && strings.TrimLeft(line, " \t") != "" {
			if len(line) > maxLineSize {
				return "", fmt.Errorf("header %s: a line would exceed %d characters: %w", name, maxLineSize, ErrTooLarge)
			}
			b.WriteString(line)
			b.WriteString("\r\n")
			line = ""
		}
		line += " " + word
	}
	if len(line) > maxLineSize {
		return "", fmt.Errorf("header %s: a line would exceed %d characters: %w", name, maxLineSize, ErrTooLarge)
	}
	b.WriteString(line)
	b.WriteString("\r\n")
	return b.String(), nil
}

// encodeText RFC 2047-encodes an unstructured value (a Subject) when it
// holds non-ASCII text, or ASCII that a decoder would mistake for an
// encoded word (RFC 2047 5(1), 6.1).
func encodeText(s string) string {
	if strings.Contains(s, "=?") {
		return forceQ(s)
	}
	return mime.QEncoding.Encode("utf-8", s)
}

// forceQ encodes s as Q encoded words even when it is plain ASCII, split
// into words of at most 75 characters (RFC 2047 2).
func forceQ(s string) string {
	const prefix, suffix = "=?utf-8?q?", "?="
	var words []string
	var cur strings.Builder
	for _, r := range s {
		var enc string
		switch {
		case r == ' ':
			enc = "_"
		case r > ' ' && r <= '~' && r != '=' && r != '?' && r != '_':
			enc = string(r)
		default:
			var sb strings.Builder
			for _, c := range []byte(string(r)) {
				fmt.Fprintf(&sb, "=%02X", c)
			}
			enc = sb.String()
		}
		if cur.Len()+len(enc) > 75-len(prefix)-len(suffix) {
			words = append(words, prefix+cur.String()+suffix)
			cur.Reset()
		}
		cur.WriteString(enc)
	}
	words = append(words, prefix+cur.String()+suffix)
	return strings.Join(words, " ")
}

// formatDate renders the Date field (RFC 5322 3.3).
func formatDate(t time.Time) string { return t.Format("Mon, 02 Jan 2006 15:04:05 -0700") }

// idAlphabet renders random bytes for Message-IDs and boundaries: lowercase
// letters and digits only, valid in both.
const idAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

// randomToken reads n random bytes from r and encodes them.
func randomToken(r io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("read randomness: %w", err)
	}
	return base32.NewEncoding(idAlphabet).WithPadding(base32.NoPadding).EncodeToString(b), nil
}

// cleanID strips the angle brackets of a message identifier and checks
// what is left: printable ASCII without spaces or brackets, at most 250
// octets (RFC 5322 3.6.4; the length keeps a References line foldable).
func cleanID(field, id string) (string, error) {
	id = strings.TrimSpace(id)
	id = strings.TrimSuffix(strings.TrimPrefix(id, "<"), ">")
	if id == "" {
		return "", fieldErr(field, fmt.Errorf("empty message id: %w", ErrInvalid))
	}
	if err := checkHeaderText(id); err != nil {
		return "", fieldErr(field, err)
	}
	if len(id) > 250 {
		return "", fieldErr(field, fmt.Errorf("message id longer than 250 octets: %w", ErrInvalid))
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' {
			return "", fieldErr(field, fmt.Errorf("message id %q: only printable ASCII without spaces or brackets: %w", id, ErrInvalid))
		}
	}
	return id, nil
}

// joinIDs renders message identifiers as a msg-id list (RFC 5322 3.6.4).
func joinIDs(ids []string) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = "<" + id + ">"
	}
	return strings.Join(parts, " ")
}
