package message

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/url"
	"regexp"
	"strings"

	htmltomarkdown "github.com/JohannesKaufmann/html-to-markdown/v2"
	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/charset"
)

// Limits that keep hostile MIME trees cheap to walk.
const (
	maxDepth = 32   // nested multiparts deeper than this are not descended into
	maxParts = 1000 // leaf parts beyond this many are ignored
)

// leaf is one non-multipart MIME part, in document order.
type leaf struct {
	mediaType   string            // lowercased type/subtype
	params      map[string]string // Content-Type parameters, lowercased keys
	disposition string            // lowercased Content-Disposition type, "" when absent
	filename    string            // decoded filename, "" when none
	cte         string            // Content-Transfer-Encoding as given
	content     []byte            // raw (still transfer-encoded) body bytes
}

// walker collects the leaves of a MIME tree.
type walker struct {
	leaves []leaf
}

// walk visits the entity whose header is h and whose body is body
// (RFC 2046 5.1). Multiparts are split in memory; message/rfc822 parts are
// leaves (the attached message is kept whole, as an attachment).
func (w *walker) walk(h header, body []byte, depth int, parentType string) {
	if len(w.leaves) >= maxParts {
		return
	}
	mediaType, params := contentType(h, parentType)
	if strings.HasPrefix(mediaType, "multipart/") && depth < maxDepth {
		boundary := params["boundary"]
		if boundary != "" {
			for _, part := range splitMultipart(body, boundary) {
				ph, start := parseHeader(part)
				w.walk(ph, part[start:], depth+1, mediaType)
			}
			return
		}
		// A multipart without a boundary cannot be split: keep it as a
		// leaf so its bytes become an attachment instead of vanishing.
	}
	disp, dparams := parseParams(h.value("Content-Disposition"))
	fn := dparams["filename"]
	if fn == "" {
		fn = params["name"]
	}
	w.leaves = append(w.leaves, leaf{
		mediaType:   mediaType,
		params:      params,
		disposition: disp,
		filename:    fn,
		cte:         h.value("Content-Transfer-Encoding"),
		content:     body,
	})
}

// contentType parses Content-Type with RFC 2045 5.2 defaults: absent or
// unparseable means text/plain, except inside multipart/digest where the
// default is message/rfc822 (RFC 2046 5.1.5).
func contentType(h header, parentType string) (string, map[string]string) {
	v, ok := h.get("Content-Type")
	def := "text/plain"
	if parentType == "multipart/digest" {
		def = "message/rfc822"
	}
	if !ok || v == "" {
		return def, map[string]string{}
	}
	t, params := parseParams(v)
	if !mediaTypeRE.MatchString(t) {
		return def, params
	}
	return t, params
}

// mediaTypeRE is a lowercased RFC 2045 5.1 type "/" subtype of token chars.
var mediaTypeRE = regexp.MustCompile(`^[a-z0-9!#$%&'*+.^_{|}~-]+/[a-z0-9!#$%&'*+.^_{|}~-]+$`)

// lenientParam finds name=value or name="value" when mime.ParseMediaType
// gave up on a header (an unquoted space or tspecial is common in the wild).
var lenientParam = regexp.MustCompile(`(?i)(?:^|;)\s*([a-z0-9_*.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)`)

// parseParams parses a Content-Type or Content-Disposition value into a
// lowercased type and its parameters, with RFC 2231 (via mime) and RFC 2047
// (common in filenames though not allowed there) decoding. When the strict
// parser fails the value is scanned leniently instead.
func parseParams(v string) (string, map[string]string) {
	if v == "" {
		return "", map[string]string{}
	}
	t, params, err := mime.ParseMediaType(v)
	if err != nil || params == nil {
		t = strings.ToLower(strings.TrimSpace(strings.SplitN(v, ";", 2)[0]))
		params = map[string]string{}
		for _, m := range lenientParam.FindAllStringSubmatch(v, -1) {
			key := strings.ToLower(m[1])
			val := strings.TrimSpace(m[2])
			if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
				val = strings.NewReplacer(`\\`, `\`, `\"`, `"`).Replace(val[1 : len(val)-1])
			}
			if _, dup := params[key]; !dup {
				params[key] = val
			}
		}
	}
	// mime drops RFC 2231 values in charsets other than UTF-8 and US-ASCII.
	for _, key := range []string{"filename", "name"} {
		if params[key] == "" {
			if ext, ok := rawExtParam(v, key); ok {
				params[key] = ext
			}
		}
	}
	for k, val := range params {
		params[k] = decodeText(val)
	}
	return t, params
}

// extParam matches a single-section RFC 2231 extended parameter,
// `name*=charset'lang'pct-encoded`.
var extParam = regexp.MustCompile(`(?i)(?:^|;)\s*([a-z0-9_.-]+)\*\s*=\s*"?([a-z0-9_.:-]+)'[^']*'([^;"\s]*)`)

// rawExtParam decodes `key*=charset'lang'value` in any charset go-message
// knows (RFC 2231 4).
func rawExtParam(v, key string) (string, bool) {
	for _, m := range extParam.FindAllStringSubmatch(v, -1) {
		if !strings.EqualFold(m[1], key) {
			continue
		}
		raw, err := url.PathUnescape(m[3])
		if err != nil {
			return "", false
		}
		s, err := toUTF8(m[2], []byte(raw))
		if err != nil {
			return "", false
		}
		return s, true
	}
	return "", false
}

// splitMultipart returns the bodies (header included) of the parts of a
// multipart body (RFC 2046 5.1.1). A delimiter is "--boundary" at the start
// of a line, optionally followed by "--" (the close delimiter) and
// whitespace, then the end of the line; the line break before it belongs to
// the delimiter. The preamble and epilogue are dropped. A body with no close
// delimiter ends its last part at the end of the input.
func splitMultipart(body []byte, boundary string) [][]byte {
	delim := []byte("--" + boundary)
	var (
		parts    [][]byte
		partFrom = -1 // start of the current part's bytes, -1 before the first delimiter
	)
	for pos := 0; pos <= len(body); {
		lineEnd := len(body)
		if i := bytes.IndexByte(body[pos:], '\n'); i >= 0 {
			lineEnd = pos + i + 1
		}
		if isClose, ok := delimiterLine(body[pos:lineEnd], delim); ok {
			if partFrom >= 0 {
				// The line break before a delimiter is the delimiter's; when
				// the part is empty it is also the previous delimiter's.
				parts = append(parts, body[partFrom:max(partFrom, lineBreakStart(body, pos))])
			}
			if isClose {
				return parts
			}
			partFrom = lineEnd
		}
		if lineEnd == len(body) {
			break
		}
		pos = lineEnd
	}
	if partFrom >= 0 && partFrom <= len(body) {
		parts = append(parts, body[partFrom:])
	}
	return parts
}

// delimiterLine reports whether line is a boundary delimiter line and
// whether it is the close delimiter.
func delimiterLine(line, delim []byte) (isClose, ok bool) {
	if !bytes.HasPrefix(line, delim) {
		return false, false
	}
	rest := line[len(delim):]
	if bytes.HasPrefix(rest, []byte("--")) {
		isClose = true
		rest = rest[2:]
	}
	rest = bytes.TrimRight(trimEOL(rest), " \t")
	return isClose, len(rest) == 0
}

// lineBreakStart is the offset of the line break that ends just before pos
// (CRLF or LF), or pos itself at the start of the body.
func lineBreakStart(body []byte, pos int) int {
	if pos > 0 && body[pos-1] == '\n' {
		pos--
		if pos > 0 && body[pos-1] == '\r' {
			pos--
		}
	}
	return pos
}

// decodeTransfer undoes the Content-Transfer-Encoding (RFC 2045 6). An
// unknown encoding is an error; the caller decides what becomes of the part.
func decodeTransfer(cte string, content []byte) ([]byte, error) {
	var h gomessage.Header
	if cte != "" {
		h.Set("Content-Transfer-Encoding", cte)
	}
	e, err := gomessage.New(h, bytes.NewReader(content))
	if err != nil {
		return nil, fmt.Errorf("transfer encoding %q: %w", cte, err)
	}
	out, err := io.ReadAll(e.Body)
	if err != nil {
		return nil, fmt.Errorf("decode %q body: %w", cte, err)
	}
	return out, nil
}

// toUTF8 converts text in the named charset to UTF-8 (RFC 2046 4.1.2).
// UTF-8, US-ASCII and an absent charset pass through.
func toUTF8(cs string, b []byte) (string, error) {
	switch strings.ToLower(strings.TrimSpace(cs)) {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
		return validUTF8(string(b)), nil
	}
	r, err := charset.Reader(cs, bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("charset %q: %w", cs, err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return "", fmt.Errorf("convert from %q: %w", cs, err)
	}
	return validUTF8(string(out)), nil
}

// text decodes a text leaf to a UTF-8 string with LF line endings. A part in
// an unknown charset is kept as its bytes with invalid sequences replaced;
// only a transfer encoding that cannot be undone is an error.
func (l leaf) text() (string, error) {
	b, err := decodeTransfer(l.cte, l.content)
	if err != nil {
		return "", err
	}
	s, err := toUTF8(l.params["charset"], b)
	if err != nil {
		s = validUTF8(string(b))
	}
	return strings.ReplaceAll(s, "\r\n", "\n"), nil
}

// htmlToMarkdown converts an HTML body to Markdown for the .md view.
func htmlToMarkdown(h string) (string, error) {
	md, err := htmltomarkdown.ConvertString(h)
	if err != nil {
		return "", fmt.Errorf("convert html to markdown: %w", err)
	}
	return md, nil
}
