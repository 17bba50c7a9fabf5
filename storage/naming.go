package storage

import (
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// stemTimeLayout is the time part of a stem: UTC at receipt (book/storage.md).
const stemTimeLayout = "2006-01-02-150405"

// maxSlug is the slug's length cap in bytes (all ASCII after slugging).
const maxSlug = 20

// Slug turns a subject into the book/storage.md file-name slug: lowercased, every
// character outside [a-z0-9] replaced by '-', runs collapsed, edges trimmed,
// cut to 20 characters and trimmed again; "no-subject" when nothing is left.
func Slug(subject string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(subject) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > maxSlug {
		s = strings.Trim(s[:maxSlug], "-")
	}
	if s == "" {
		return "no-subject"
	}
	return s
}

// BaseStem is the collision-free-before-suffix stem `YYYY-MM-DD-HHMMSS-<slug>`
// for a message received (or submitted) at t (book/storage.md).
func BaseStem(t time.Time, subject string) string {
	return t.UTC().Format(stemTimeLayout) + "-" + Slug(subject)
}

// stemTime parses the receipt time encoded at the start of a stem. Rust
// stems share the shape, so this works for migrated mail too.
func stemTime(stem string) (time.Time, bool) {
	if len(stem) < len(stemTimeLayout) {
		return time.Time{}, false
	}
	t, err := time.Parse(stemTimeLayout, stem[:len(stemTimeLayout)])
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// maxAttachmentName is the byte cap on a stored attachment name (book/storage.md).
const maxAttachmentName = 200

// isInvisibleOrControl reports the runes an attachment name must not carry:
// control characters, bidi controls (which can disguise an extension) and
// zero-width characters.
func isInvisibleOrControl(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, // ALM, LRM, RLM
		r >= 0x202a && r <= 0x202e, // LRE, RLE, PDF, LRO, RLO
		r >= 0x2066 && r <= 0x2069: // LRI, RLI, FSI, PDI
		return true
	case r >= 0x200b && r <= 0x200d, r == 0x2060, r == 0xfeff, r == 0x180e: // zero-width
		return true
	}
	return false
}

// SanitizeAttachmentName makes an attachment file name safe to create inside
// a bundle: basename only (both '/' and '\' separate), no control, bidi or
// zero-width characters, no leading dots (no hidden files) or edge spaces,
// at most 200 bytes cut on a UTF-8 boundary with the extension kept, and
// "attachment" when nothing usable is left. Interior spaces are kept.
func SanitizeAttachmentName(name string) string {
	name = strings.ToValidUTF8(name, "")
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base("/" + name)
	name = strings.Map(func(r rune) rune {
		if isInvisibleOrControl(r) {
			return -1
		}
		return r
	}, name)
	name = strings.TrimLeft(strings.TrimSpace(name), ".")
	name = strings.TrimSpace(name)
	if name == "" || name == "/" {
		return "attachment"
	}
	return capName(name, maxAttachmentName)
}

// capName cuts name to at most limit bytes on a rune boundary, keeping a
// short extension intact.
func capName(name string, limit int) string {
	if len(name) <= limit {
		return name
	}
	base, ext := splitExt(name)
	if len(ext) > limit/4 {
		base, ext = name, ""
	}
	return cutUTF8(base, limit-len(ext)) + ext
}

// splitExt splits "a.tar.gz" into "a.tar", ".gz"; a name without a dot (or
// only a leading one) has no extension.
func splitExt(name string) (string, string) {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 {
		return name, ""
	}
	return name[:i], name[i:]
}

// cutUTF8 returns the longest prefix of s of at most n bytes that ends on a
// rune boundary.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n < 0 {
		return ""
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// AttachmentNamer hands out distinct sanitized names within one message,
// never colliding with its own .md and .eml; every store names
// attachments with it, so a message has the same names in each.
type AttachmentNamer struct {
	taken map[string]bool
}

// NewAttachmentNamer returns the namer of the message stored as stem.
func NewAttachmentNamer(stem string) *AttachmentNamer {
	return &AttachmentNamer{taken: map[string]bool{stem + ".md": true, stem + ".eml": true}}
}

// Name returns the sanitized, deduplicated name for raw: `name.ext`, then
// `name-1.ext`, `name-2.ext`, ... (book/storage.md).
func (n *AttachmentNamer) Name(raw string) string {
	clean := SanitizeAttachmentName(raw)
	if !n.taken[clean] {
		n.taken[clean] = true
		return clean
	}
	base, ext := splitExt(clean)
	if len(ext) > maxAttachmentName/4 {
		base, ext = clean, ""
	}
	for i := 1; ; i++ {
		suffix := "-" + strconv.Itoa(i)
		cand := cutUTF8(base, maxAttachmentName-len(ext)-len(suffix)) + suffix + ext
		if !n.taken[cand] {
			n.taken[cand] = true
			return cand
		}
	}
}
