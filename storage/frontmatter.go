package storage

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aimx-dev/aimx/internal/tomlenc"
)

// The values of the frontmatter `trusted` field (book/storage.md): the one
// home of the trust verdict; mail/auth decides it, hooks gate on it.
const (
	TrustedNone  = "none"
	TrustedTrue  = "true"
	TrustedFalse = "false"
)

// Frontmatter is the TOML header of a message's `.md` file, one field per
// row of the book/storage.md table, in the order they are written. The same struct
// carries inbound messages and sent copies (Outbound set). Rust-written
// files decode into it too (book/upgrade.md): single-string parties become
// one-element (or split) arrays and Rust-only keys land in Extra.
type Frontmatter struct {
	ID             string           // the stem; the message's id within its folder
	MessageID      string           // Message-ID without <>
	ThreadID       string           // 16 hex of sha256 of the thread root id (kept as stored for Rust mail)
	From           string           // `Name <addr>` or `addr`
	To             []string         // always written, may be empty
	Cc             []string         // optional
	ReplyTo        []string         // optional
	DeliveredTo    string           // envelope recipient (inbound)
	Subject        string           // decoded; "" when absent
	Date           string           // RFC 3339 (Rust sent copies: the raw RFC 2822 header)
	ReceivedAt     time.Time        // inbound: always written
	ReceivedFromIP string           // optional
	SizeBytes      int64            // always written
	Attachments    []AttachmentInfo // optional; paths relative to the bundle dir
	InReplyTo      string           // optional, without <>
	References     []string         // optional, the whole chain, without <>
	ListID         string           // optional, raw List-Id
	AutoSubmitted  string           // optional, raw Auto-Submitted
	DKIM           string           // always written: pass, fail, softfail, neutral, none, temperror, permerror
	SPF            string           // always written
	DMARC          string           // always written
	Trusted        string           // always written: none, true or false
	Mailbox        string           // always written: the mailbox FQDN (Rust: the config key)
	Read           bool             // inbound: always written
	ReadAt         time.Time        // set on read, removed on unread
	HooksDue       []string         // inbound: names of on_receive hooks due at receipt (book/hooks.md)
	Outbound       bool             // sent copy: written as `outbound = true`
	OutboundFormat string           // sent copy: markdown, text or html
	DeliveryStatus string           // sent copy: worst recipient state
	Recipients     []Recipient      // sent copy: per-recipient delivery state
	// Extra holds keys this version does not know, in file order, so a
	// decode and re-encode keeps them (Rust's labels, delivered_at,
	// delivery_details, or keys a later version adds).
	Extra []Field
}

// AttachmentInfo describes one attachment file of a bundle.
type AttachmentInfo struct {
	Filename    string // sanitized file name, as stored
	ContentType string // type/subtype without parameters
	Size        int64  // bytes
	Path        string // relative to the bundle dir
}

// Recipient is the delivery state of one recipient of a sent copy.
type Recipient struct {
	Address   string
	Status    string // queued, deferred, delivered or failed
	Detail    string // last remote answer or error, optional
	Attempts  int
	TLS       string    // verified, unverified or none; optional
	UpdatedAt time.Time // optional
}

// Field is one frontmatter key this version does not know, with its decoded
// TOML value (string, int64, float64, bool, time values, []any or
// map[string]any).
type Field struct {
	Key   string
	Value any
}

// EncodeMD renders a complete `.md` file: `+++\n<TOML>+++\n\n<body>`, with
// one "\n" appended only when the body does not already end in one (the
// Rust rule, so decode then encode is byte-stable). book/storage.md.
func EncodeMD(fm *Frontmatter, body string) []byte {
	var b bytes.Buffer
	b.Grow(512 + len(body))
	b.WriteString("+++\n")
	b.Write(EncodeFrontmatter(fm))
	b.WriteString("+++\n\n")
	b.WriteString(body)
	if !strings.HasSuffix(body, "\n") {
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// EncodeFrontmatter writes fm as TOML in the exact byte format of book/storage.md:
// fields in table order, `key = value` lines, double-quoted strings with TOML
// escapes, always-written fields always present, optional ones omitted when
// empty, attachments and recipients as inline arrays of inline tables, and
// unknown keys last in their original order. go-toml's encoder is not used:
// it single-quotes strings and cannot pin this order (book/architecture.md, "Library traps").
func EncodeFrontmatter(fm *Frontmatter) []byte {
	e := &encoder{}
	e.str("id", fm.ID)
	e.str("message_id", fm.MessageID)
	e.str("thread_id", fm.ThreadID)
	e.str("from", fm.From)
	e.strs("to", fm.To, true)
	e.strs("cc", fm.Cc, false)
	e.strs("reply_to", fm.ReplyTo, false)
	e.optStr("delivered_to", fm.DeliveredTo)
	e.str("subject", fm.Subject)
	e.str("date", fm.Date)
	if !fm.Outbound || !fm.ReceivedAt.IsZero() {
		e.time("received_at", fm.ReceivedAt)
	}
	e.optStr("received_from_ip", fm.ReceivedFromIP)
	e.key("size_bytes")
	e.b.WriteString(strconv.FormatInt(fm.SizeBytes, 10))
	e.b.WriteByte('\n')
	if len(fm.Attachments) > 0 {
		e.key("attachments")
		e.b.WriteByte('[')
		for i, a := range fm.Attachments {
			if i > 0 {
				e.b.WriteString(", ")
			}
			e.b.WriteString("{filename = ")
			writeString(&e.b, a.Filename)
			e.b.WriteString(", content_type = ")
			writeString(&e.b, a.ContentType)
			e.b.WriteString(", size = ")
			e.b.WriteString(strconv.FormatInt(a.Size, 10))
			e.b.WriteString(", path = ")
			writeString(&e.b, a.Path)
			e.b.WriteByte('}')
		}
		e.b.WriteString("]\n")
	}
	e.optStr("in_reply_to", fm.InReplyTo)
	e.strs("references", fm.References, false)
	e.optStr("list_id", fm.ListID)
	e.optStr("auto_submitted", fm.AutoSubmitted)
	e.str("dkim", fm.DKIM)
	e.str("spf", fm.SPF)
	e.str("dmarc", fm.DMARC)
	e.str("trusted", fm.Trusted)
	e.str("mailbox", fm.Mailbox)
	if !fm.Outbound || fm.Read {
		e.bool("read", fm.Read)
	}
	if !fm.ReadAt.IsZero() {
		e.time("read_at", fm.ReadAt)
	}
	e.strs("hooks_due", fm.HooksDue, false)
	if fm.Outbound {
		e.bool("outbound", true)
		e.str("outbound_format", fm.OutboundFormat)
		e.str("delivery_status", fm.DeliveryStatus)
		e.key("recipients")
		e.b.WriteByte('[')
		for i, r := range fm.Recipients {
			if i > 0 {
				e.b.WriteString(", ")
			}
			e.b.WriteString("{address = ")
			writeString(&e.b, r.Address)
			e.b.WriteString(", status = ")
			writeString(&e.b, r.Status)
			if r.Detail != "" {
				e.b.WriteString(", detail = ")
				writeString(&e.b, r.Detail)
			}
			e.b.WriteString(", attempts = ")
			e.b.WriteString(strconv.Itoa(r.Attempts))
			if r.TLS != "" {
				e.b.WriteString(", tls = ")
				writeString(&e.b, r.TLS)
			}
			if !r.UpdatedAt.IsZero() {
				e.b.WriteString(", updated_at = ")
				writeString(&e.b, r.UpdatedAt.Format(time.RFC3339Nano))
			}
			e.b.WriteByte('}')
		}
		e.b.WriteString("]\n")
	}
	for _, f := range fm.Extra {
		e.key(f.Key)
		writeValue(&e.b, f.Value)
		e.b.WriteByte('\n')
	}
	return e.b.Bytes()
}

type encoder struct{ b bytes.Buffer }

func (e *encoder) key(k string) {
	writeKey(&e.b, k)
	e.b.WriteString(" = ")
}

func (e *encoder) str(k, v string) {
	e.key(k)
	writeString(&e.b, v)
	e.b.WriteByte('\n')
}

func (e *encoder) optStr(k, v string) {
	if v != "" {
		e.str(k, v)
	}
}

func (e *encoder) bool(k string, v bool) {
	e.key(k)
	e.b.WriteString(strconv.FormatBool(v))
	e.b.WriteByte('\n')
}

func (e *encoder) time(k string, t time.Time) {
	e.str(k, t.Format(time.RFC3339Nano))
}

func (e *encoder) strs(k string, v []string, always bool) {
	if len(v) == 0 && !always {
		return
	}
	e.key(k)
	e.b.WriteByte('[')
	for i, s := range v {
		if i > 0 {
			e.b.WriteString(", ")
		}
		writeString(&e.b, s)
	}
	e.b.WriteString("]\n")
}

// writeKey writes a bare key when TOML allows one, else a quoted key.
func writeKey(b *bytes.Buffer, k string) { b.WriteString(tomlenc.Key(k)) }

// writeString writes a TOML basic (double-quoted) string.
func writeString(b *bytes.Buffer, s string) { b.WriteString(tomlenc.String(s)) }

// writeValue writes an Extra value as a one-line TOML value. Tables become
// inline tables with sorted keys (a decoded map keeps no order).
func writeValue(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case string:
		writeString(b, x)
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case int:
		b.WriteString(strconv.Itoa(x))
	case float64:
		b.WriteString(formatFloat(x))
	case time.Time:
		b.WriteString(x.Format(time.RFC3339Nano))
	case fmt.Stringer: // toml.LocalDate, LocalTime, LocalDateTime
		b.WriteString(x.String())
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeValue(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			writeKey(b, k)
			b.WriteString(" = ")
			writeValue(b, x[k])
		}
		b.WriteByte('}')
	default:
		writeString(b, fmt.Sprint(x))
	}
}

func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEn") {
		s += ".0"
	}
	return s
}
