package dsn

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"strings"
)

// The walker below is deliberately more forgiving than go-message's reader:
// a bounce is written by whatever mail system gave up, and one malformed
// header line (a missing colon, a space in a field name) or a missing final
// boundary must not hide the report. Everything works on the bounded
// in-memory copy Parse has read, so no step reads more input.

// maxDepth bounds how deep multiparts are searched for the report (a report
// wrapped in multipart/mixed by a provider is one level down).
const maxDepth = 8

// maxParts bounds the body parts of one multipart that are looked at.
const maxParts = 256

// field is one header field: its name as written and its value unfolded.
type field struct {
	name  string
	value string
}

// lines calls fn with each line of b (without its LF or CRLF ending) and the
// offset just past that line's ending; fn returns false to stop.
func lines(b []byte, fn func(line []byte, next int) bool) {
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		next := len(b)
		end := len(b)
		if j >= 0 {
			end = i + j
			next = end + 1
		}
		if !fn(bytes.TrimSuffix(b[i:end], []byte("\r")), next) {
			return
		}
		i = next
	}
}

// splitHead separates the header block from the body at the first empty
// line (RFC 5322 2.1), with CRLF or bare LF endings. Without an empty line
// the whole input is header and the body is nil.
func splitHead(b []byte) (head, body []byte) {
	head, body = b, nil
	lines(b, func(line []byte, next int) bool {
		if len(line) == 0 {
			head, body = b[:next], b[next:]
			return false
		}
		return true
	})
	return head, body
}

// parseFields reads header fields leniently: continuation lines (RFC 5322
// 2.2.3) are unfolded, field names match case-insensitively later, and a
// line that is not a field (no colon, an invalid name) is skipped together
// with its continuation lines instead of failing the whole block.
func parseFields(block []byte) []field {
	var fs []field
	var value []byte // the current field's value, built without quadratic copying
	valid := false
	end := func() {
		if valid {
			fs[len(fs)-1].value = string(value)
		}
	}
	lines(block, func(line []byte, _ int) bool {
		if len(bytes.TrimSpace(line)) == 0 {
			return true
		}
		if line[0] == ' ' || line[0] == '\t' {
			if valid {
				value = append(append(value, ' '), bytes.TrimSpace(line)...)
			}
			return true
		}
		end()
		name, v, ok := bytes.Cut(line, []byte(":"))
		name = bytes.TrimRight(name, " \t")
		if valid = ok && validName(name); valid {
			fs = append(fs, field{name: string(name)})
			value = append(value[:0], bytes.TrimSpace(v)...)
		}
		return true
	})
	end()
	return fs
}

// validName reports whether b is a field name: printable US-ASCII except
// the colon (RFC 5322 2.2).
func validName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// get returns the value of the first field named name (any case), or "".
func get(fs []field, name string) string {
	for _, f := range fs {
		if strings.EqualFold(f.name, name) {
			return f.value
		}
	}
	return ""
}

// mediaType parses a Content-Type value into its lowercased type and
// parameters (RFC 2045 5.1). When mime.ParseMediaType refuses the
// parameters (duplicates, stray characters), they are split by hand.
func mediaType(v string) (string, map[string]string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	if mt, params, err := mime.ParseMediaType(v); err == nil {
		return mt, params
	}
	pieces := splitParams(v)
	mt := strings.ToLower(strings.TrimSpace(pieces[0]))
	params := make(map[string]string)
	for _, p := range pieces[1:] {
		k, val, ok := strings.Cut(p, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || k == "" {
			continue
		}
		if _, dup := params[k]; !dup {
			params[k] = unquote(strings.TrimSpace(val))
		}
	}
	return mt, params
}

// splitParams splits v at the semicolons outside quoted strings.
func splitParams(v string) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == ';' && !quoted:
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	return append(out, v[start:])
}

// unquote removes the quotes and backslash escapes of a quoted-string
// (RFC 5322 3.2.4); other values are returned unchanged.
func unquote(v string) string {
	if len(v) < 2 || v[0] != '"' {
		return v
	}
	v = strings.TrimSuffix(v[1:], `"`)
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// decodeBody undoes a Content-Transfer-Encoding (RFC 2045 6). Broken
// encodings yield what could be decoded: a report that is partly readable
// is still worth reading.
func decodeBody(cte string, body []byte) []byte {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		clean := make([]byte, 0, len(body))
		for _, c := range body {
			if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' {
				clean = append(clean, c)
			}
		}
		out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
		n, _ := base64.RawStdEncoding.Decode(out, clean)
		return out[:n]
	case "quoted-printable":
		out, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		return out
	default:
		return body
	}
}

// splitParts returns the body parts of a multipart body (RFC 2046 5.1.1):
// the text between delimiter lines, without the line break that belongs to
// the next delimiter. The preamble and epilogue are dropped; a missing
// close delimiter ends the last part at the end of the body.
func splitParts(body []byte, boundary string) [][]byte {
	if boundary == "" {
		return nil
	}
	delim := []byte("--" + boundary)
	var parts [][]byte
	start, pos := -1, 0
	done := false
	lines(body, func(line []byte, next int) bool {
		lineStart := pos
		pos = next
		rest, ok := bytes.CutPrefix(line, delim)
		if !ok {
			return true
		}
		rest, closing := bytes.CutPrefix(rest, []byte("--"))
		if len(bytes.Trim(rest, " \t")) != 0 {
			return true
		}
		if start >= 0 {
			parts = append(parts, trimBreak(body[start:lineStart]))
		}
		if closing || len(parts) >= maxParts {
			done = true
			return false
		}
		start = next
		return true
	})
	if !done && start >= 0 {
		parts = append(parts, body[start:])
	}
	return parts
}

// trimBreak removes one trailing CRLF or LF.
func trimBreak(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// found is what the walk collects from the report's multipart.
type found struct {
	status   []byte // the decoded message/delivery-status body
	returned []byte // the decoded returned message or header block
}

// isStatusType reports whether mt holds the machine-readable report:
// message/delivery-status (RFC 3464 2.1) or its internationalized form
// message/global-delivery-status (RFC 6533 6.1).
func isStatusType(mt string) bool {
	return mt == "message/delivery-status" || mt == "message/global-delivery-status"
}

// isReturnedType reports whether mt holds the returned message or its
// header (RFC 6522 3; RFC 6533 6.3 and 6.4 for the global forms).
func isReturnedType(mt string) bool {
	switch mt {
	case "message/rfc822", "text/rfc822-headers", "message/rfc822-headers",
		"message/global", "message/global-headers":
		return true
	}
	return false
}

// walk searches the entity with header fs and raw body for the
// delivery-status part, looking into nested multiparts (a report wrapped in
// multipart/mixed) but never into a message/* part: a forwarded bounce is
// not a bounce for us. The returned message is taken from the same
// multipart as the status part.
func walk(fs []field, body []byte, depth int) (found, bool) {
	mt, params := mediaType(get(fs, "Content-Type"))
	if !strings.HasPrefix(mt, "multipart/") || depth > maxDepth {
		return found{}, false
	}
	// A multipart is never transfer-encoded (RFC 2045 6.4); a label
	// saying otherwise is ignored, as decoding would mangle it.
	var f found
	var nested [][]field
	var nestedBodies [][]byte
	for _, part := range splitParts(body, params["boundary"]) {
		head, pbody := splitHead(part)
		pfs := parseFields(head)
		pmt, _ := mediaType(get(pfs, "Content-Type"))
		cte := get(pfs, "Content-Transfer-Encoding")
		switch {
		case isStatusType(pmt) && f.status == nil:
			f.status = decodeBody(cte, pbody)
		case isReturnedType(pmt) && f.returned == nil:
			f.returned = decodeBody(cte, pbody)
		case strings.HasPrefix(pmt, "multipart/"):
			nested = append(nested, pfs)
			nestedBodies = append(nestedBodies, pbody)
		}
	}
	if f.status != nil {
		return f, true
	}
	for i := range nested {
		if f, ok := walk(nested[i], nestedBodies[i], depth+1); ok {
			return f, true
		}
	}
	return found{}, false
}
