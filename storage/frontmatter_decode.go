package storage

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// ErrNoFrontmatter reports a `.md` file that does not start with a `+++`
// line or never closes its frontmatter.
var ErrNoFrontmatter = errors.New("no +++ frontmatter")

// DecodeMD splits a `.md` file into its frontmatter and body and decodes the
// frontmatter. The body is everything after the blank line that follows the
// closing `+++`, byte for byte (Rust bodies keep CRLF, book/upgrade.md).
func DecodeMD(data []byte) (*Frontmatter, string, error) {
	fmBytes, body, m, err := splitMD(data)
	if err != nil {
		return nil, "", err
	}
	fm, err := decodeFields(fmBytes, m)
	if err != nil {
		return nil, "", err
	}
	return fm, string(body), nil
}

// DecodeFrontmatter decodes the TOML between the `+++` lines, written by
// this version or by the Rust aimx (book/upgrade.md): single-string to/cc/reply_to,
// string references, `[[attachments]]` tables, literal strings, Rust-only
// keys (kept in Extra). Message ids lose their <> so callers present them
// alike; stored bytes are never "fixed" by decoding.
func DecodeFrontmatter(b []byte) (*Frontmatter, error) {
	m := map[string]any{}
	if err := toml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode frontmatter: %w", err)
	}
	return decodeFields(b, m)
}

// mdLocation is where the parts of a .md file are: the TOML is
// data[fmStart:fmEnd], the closing `+++` line starts at fmEnd, and the body
// starts at bodyStart. m is the TOML decoded generically.
type mdLocation struct {
	fmStart, fmEnd, bodyStart int
	m                         map[string]any
}

// splitMD returns the frontmatter TOML, the body and the decoded map.
func splitMD(data []byte) (fm, body []byte, m map[string]any, err error) {
	loc, err := locateMD(data)
	if err != nil {
		return nil, nil, nil, err
	}
	return data[loc.fmStart:loc.fmEnd], data[loc.bodyStart:], loc.m, nil
}

// locateMD finds the frontmatter. A line that is exactly `+++` closes it,
// unless the TOML before it does not parse (a `+++` line inside a multi-line
// string), in which case the next such line is tried. One blank line after
// the closing line separates the body.
func locateMD(data []byte) (mdLocation, error) {
	var start int
	switch {
	case bytes.HasPrefix(data, []byte("+++\n")):
		start = 4
	case bytes.HasPrefix(data, []byte("+++\r\n")):
		start = 5
	default:
		return mdLocation{}, ErrNoFrontmatter
	}
	var firstErr error
	for pos := start; ; {
		lineEnd, next := len(data), len(data)
		i := bytes.IndexByte(data[pos:], '\n')
		if i >= 0 {
			lineEnd, next = pos+i, pos+i+1
		}
		if string(bytes.TrimSuffix(data[pos:lineEnd], []byte("\r"))) == "+++" {
			m := map[string]any{}
			perr := toml.Unmarshal(data[start:pos], &m)
			if perr == nil {
				body := next
				if bytes.HasPrefix(data[body:], []byte("\r\n")) {
					body += 2
				} else if bytes.HasPrefix(data[body:], []byte("\n")) {
					body++
				}
				return mdLocation{fmStart: start, fmEnd: pos, bodyStart: body, m: m}, nil
			}
			if firstErr == nil {
				firstErr = perr
			}
		}
		if i < 0 {
			break
		}
		pos = next
	}
	if firstErr != nil {
		return mdLocation{}, fmt.Errorf("decode frontmatter: %w", firstErr)
	}
	return mdLocation{}, ErrNoFrontmatter
}

// topLevelOrder lists the top-level keys of a TOML document in the order
// they first appear (key-values, then table and array-table headers).
func topLevelOrder(b []byte) []string {
	var p unstable.Parser
	p.Reset(b)
	seen := map[string]bool{}
	var order []string
	inTable := false
	for p.NextExpression() {
		n := p.Expression()
		var k string
		switch n.Kind {
		case unstable.KeyValue:
			if inTable {
				continue
			}
		case unstable.Table, unstable.ArrayTable:
			inTable = true
		default:
			continue
		}
		it := n.Key()
		if !it.Next() {
			continue
		}
		k = string(it.Node().Data)
		if !seen[k] {
			seen[k] = true
			order = append(order, k)
		}
	}
	return order
}

// knownKeys are the book/storage.md fields; everything else goes to Extra.
var knownKeys = map[string]bool{
	"id": true, "message_id": true, "thread_id": true, "from": true, "to": true, "cc": true,
	"reply_to": true, "delivered_to": true, "subject": true, "date": true, "received_at": true,
	"received_from_ip": true, "size_bytes": true, "attachments": true, "in_reply_to": true,
	"references": true, "list_id": true, "auto_submitted": true, "dkim": true, "spf": true,
	"dmarc": true, "trusted": true, "mailbox": true, "read": true, "read_at": true,
	"hooks_due": true, "outbound": true, "outbound_format": true, "delivery_status": true,
	"recipients": true,
}

func decodeFields(raw []byte, m map[string]any) (*Frontmatter, error) {
	d := fieldDecoder{m: m}
	fm := &Frontmatter{
		ID:             d.str("id"),
		MessageID:      StripAngles(d.str("message_id")),
		ThreadID:       d.str("thread_id"),
		From:           d.str("from"),
		To:             d.addrs("to"),
		Cc:             d.addrs("cc"),
		ReplyTo:        d.addrs("reply_to"),
		DeliveredTo:    d.str("delivered_to"),
		Subject:        d.str("subject"),
		Date:           d.str("date"),
		ReceivedAt:     d.time("received_at"),
		ReceivedFromIP: d.str("received_from_ip"),
		SizeBytes:      d.int("size_bytes"),
		Attachments:    d.attachments("attachments"),
		InReplyTo:      StripAngles(d.str("in_reply_to")),
		References:     d.ids("references"),
		ListID:         d.str("list_id"),
		AutoSubmitted:  d.str("auto_submitted"),
		DKIM:           d.str("dkim"),
		SPF:            d.str("spf"),
		DMARC:          d.str("dmarc"),
		Trusted:        d.str("trusted"),
		Mailbox:        d.str("mailbox"),
		Read:           d.bool("read"),
		ReadAt:         d.time("read_at"),
		HooksDue:       d.strList("hooks_due"),
		Outbound:       d.bool("outbound"),
		OutboundFormat: d.str("outbound_format"),
		DeliveryStatus: d.str("delivery_status"),
		Recipients:     d.recipients("recipients"),
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode frontmatter: %w", d.err)
	}
	for _, k := range topLevelOrder(raw) {
		if v, ok := m[k]; ok && !knownKeys[k] {
			fm.Extra = append(fm.Extra, Field{Key: k, Value: v})
		}
	}
	return fm, nil
}

// StripAngles removes the angle brackets (and surrounding space) around a
// message id, as book/storage.md stores and presents ids. Idempotent.
func StripAngles(id string) string {
	return strings.Trim(id, "<> \t\r\n")
}

type fieldDecoder struct {
	m   map[string]any
	err error
}

func (d *fieldDecoder) fail(k string, v any, want string) {
	if d.err == nil {
		d.err = fmt.Errorf("field %s: got %T, want %s", k, v, want)
	}
}

func (d *fieldDecoder) str(k string) string {
	v, ok := d.m[k]
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		d.fail(k, v, "string")
	}
	return s
}

func (d *fieldDecoder) int(k string) int64 {
	v, ok := d.m[k]
	if !ok {
		return 0
	}
	n, ok := v.(int64)
	if !ok {
		d.fail(k, v, "integer")
	}
	return n
}

func (d *fieldDecoder) bool(k string) bool {
	v, ok := d.m[k]
	if !ok {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		d.fail(k, v, "boolean")
	}
	return b
}

// time accepts an RFC 3339 string (Rust's `+00:00` and any fraction
// included) or a TOML offset date-time.
func (d *fieldDecoder) time(k string) time.Time {
	v, ok := d.m[k]
	if !ok {
		return time.Time{}
	}
	switch x := v.(type) {
	case time.Time:
		return x
	case string:
		if x == "" {
			return time.Time{}
		}
		t, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			if d.err == nil {
				d.err = fmt.Errorf("field %s: %w", k, err)
			}
		}
		return t
	}
	d.fail(k, v, "RFC 3339 time")
	return time.Time{}
}

// strList reads an array of strings; a single string is a one-element list.
func (d *fieldDecoder) strList(k string) []string {
	v, ok := d.m[k]
	if !ok {
		return nil
	}
	switch x := v.(type) {
	case string:
		if x == "" {
			return nil
		}
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				d.fail(k, e, "array of strings")
				return nil
			}
			out = append(out, s)
		}
		return out
	}
	d.fail(k, v, "array of strings")
	return nil
}

// addrs reads to/cc/reply_to: an array, or a Rust single string holding
// addresses joined with ", " (quirk 15), split back into addresses.
func (d *fieldDecoder) addrs(k string) []string {
	if s, ok := d.m[k].(string); ok {
		return SplitAddressList(s)
	}
	return d.strList(k)
}

// ids reads references: an array of ids, or a Rust string of
// space-separated ids (quirk 13). Each id loses its <>.
func (d *fieldDecoder) ids(k string) []string {
	var list []string
	if s, ok := d.m[k].(string); ok {
		list = strings.Fields(s)
	} else {
		list = d.strList(k)
	}
	out := list[:0]
	for _, id := range list {
		if id = StripAngles(id); id != "" {
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (d *fieldDecoder) tables(k string) []map[string]any {
	v, ok := d.m[k]
	if !ok {
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		d.fail(k, v, "array of tables")
		return nil
	}
	out := make([]map[string]any, 0, len(arr))
	for _, e := range arr {
		t, ok := e.(map[string]any)
		if !ok {
			d.fail(k, e, "array of tables")
			return nil
		}
		out = append(out, t)
	}
	return out
}

// attachments reads the inline array book/storage.md writes or Rust's
// `[[attachments]]` tables (quirk 9); both decode to the same shape.
func (d *fieldDecoder) attachments(k string) []AttachmentInfo {
	var out []AttachmentInfo
	for _, t := range d.tables(k) {
		sub := fieldDecoder{m: t}
		out = append(out, AttachmentInfo{
			Filename:    sub.str("filename"),
			ContentType: sub.str("content_type"),
			Size:        sub.int("size"),
			Path:        sub.str("path"),
		})
		if sub.err != nil && d.err == nil {
			d.err = fmt.Errorf("%s: %w", k, sub.err)
		}
	}
	return out
}

func (d *fieldDecoder) recipients(k string) []Recipient {
	var out []Recipient
	for _, t := range d.tables(k) {
		sub := fieldDecoder{m: t}
		out = append(out, Recipient{
			Address:   sub.str("address"),
			Status:    sub.str("status"),
			Detail:    sub.str("detail"),
			Attempts:  int(sub.int("attempts")),
			TLS:       sub.str("tls"),
			UpdatedAt: sub.time("updated_at"),
		})
		if sub.err != nil && d.err == nil {
			d.err = fmt.Errorf("%s: %w", k, sub.err)
		}
	}
	return out
}

// SplitAddressList splits a Rust-joined address string ("A <a@x>, b@y")
// back into addresses. A piece without an '@', or with an unclosed '<' or
// quote, is a display name that itself contained ", " and is joined to the
// next piece, so `Ng, Carol <carol@x>` stays whole.
func SplitAddressList(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	parts := strings.Split(s, ", ")
	var out []string
	cur := ""
	for i, p := range parts {
		if cur == "" {
			cur = p
		} else {
			cur += ", " + p
		}
		complete := strings.Contains(cur, "@") &&
			strings.Count(cur, "<") <= strings.Count(cur, ">") &&
			strings.Count(cur, `"`)%2 == 0
		if complete || i == len(parts)-1 {
			if t := strings.TrimSpace(cur); t != "" {
				out = append(out, t)
			}
			cur = ""
		}
	}
	return out
}
