package message

import (
	"fmt"
	"io"
	"mime"
	"net/url"
	"regexp"
	"strings"

	htmltomarkdown "github.com/JohannesKaufmann/html-to-markdown/v2"
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
	content     *io.SectionReader // raw (still transfer-encoded) body bytes
}

// walker collects the leaves of a MIME tree.
type walker struct {
	leaves  []leaf
	bufSize int // the multipart splitter's buffer (splitBufSize unless a test shrinks it)
}

// walk visits the entity whose header is h and whose body is body
// (RFC 2046 5.1). Multiparts are split by offsets, never copied; only each
// part's header is read into memory. message/rfc822 parts are leaves (the
// attached message is kept whole, as an attachment).
func (w *walker) walk(h header, body *io.SectionReader, depth int, parentType string) error {
	if len(w.leaves) >= maxParts {
		return nil
	}
	mediaType, params := contentType(h, parentType)
	if strings.HasPrefix(mediaType, "multipart/") && depth < maxDepth {
		boundary := params["boundary"]
		if boundary != "" {
			parts, err := splitMultipart(body, boundary, w.bufSize, maxParts)
			if err != nil {
				return fmt.Errorf("split %s: %w", mediaType, err)
			}
			for _, p := range parts {
				part := io.NewSectionReader(body, p.off, p.n)
				raw, err := readHeaderBlock(part, maxPartHeaderBytes, true)
				if err != nil {
					return err
				}
				ph, _ := splitHeader(raw)
				ph = ph.finish(raw)
				pb := io.NewSectionReader(part, int64(len(raw)), p.n-int64(len(raw)))
				if err := w.walk(ph, pb, depth+1, mediaType); err != nil {
					return err
				}
			}
			return nil
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
	return nil
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

// htmlToMarkdown converts an HTML body to Markdown for the .md view.
func htmlToMarkdown(h string) (string, error) {
	md, err := htmltomarkdown.ConvertString(h)
	if err != nil {
		return "", fmt.Errorf("convert html to markdown: %w", err)
	}
	return md, nil
}
