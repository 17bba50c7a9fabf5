package outbound

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"strings"

	htmltomarkdown "github.com/JohannesKaufmann/html-to-markdown/v2"
	"github.com/emersion/go-message"
	gotextproto "github.com/emersion/go-message/textproto"
)

// mimeWriter writes the MIME structure with go-message, boundaries drawn
// from an injected source so that output is reproducible in tests.
type mimeWriter struct {
	rand io.Reader
}

// boundary returns a new multipart boundary. "=_" cannot occur in
// quoted-printable or base64 output, so no part can contain it
// (RFC 2046 5.1.1).
func (m *mimeWriter) boundary() (string, error) {
	tok, err := randomToken(m.rand, 15)
	if err != nil {
		return "", err
	}
	return "=_aimx_" + tok, nil
}

// body writes MIME-Version, the top Content-Type, the blank line and the
// body entity.
func (m *mimeWriter) body(buf *bytes.Buffer, req *Request, atts []Attachment) error {
	text := textPart(req)
	var htmlDoc string
	switch req.Format() {
	case FormatMarkdown:
		rendered, err := renderMarkdown(normalizeNewlines(req.Body))
		if err != nil {
			return err
		}
		htmlDoc = htmlDocument(rendered, normalizeNewlines(req.Signature))
	case FormatHTML:
		htmlDoc = withSignatureHTML(normalizeNewlines(req.HTMLBody), normalizeNewlines(req.Signature))
	}

	top := gotextproto.Header{}
	var topType string
	var topParams map[string]string
	switch {
	case len(atts) > 0:
		topType = "multipart/mixed"
	case htmlDoc != "":
		topType = "multipart/alternative"
	default:
		topType, topParams = "text/plain", map[string]string{"charset": "utf-8"}
	}
	if strings.HasPrefix(topType, "multipart/") {
		b, err := m.boundary()
		if err != nil {
			return fmt.Errorf("compose: %w", err)
		}
		topParams = map[string]string{"boundary": b}
	}
	// go-message writes fields last-added first.
	var raw []string
	mv, err := foldField("MIME-Version", "1.0")
	if err != nil {
		return err
	}
	raw = append(raw, mv)
	ctf, err := foldField("Content-Type", mime.FormatMediaType(topType, topParams))
	if err != nil {
		return err
	}
	raw = append(raw, ctf)
	if topType == "text/plain" {
		raw = append(raw, "Content-Transfer-Encoding: quoted-printable\r\n")
	}
	for i := len(raw) - 1; i >= 0; i-- {
		top.AddRaw([]byte(raw[i]))
	}
	w, err := message.CreateWriter(buf, message.Header{Header: top})
	if err != nil {
		return fmt.Errorf("compose: write header: %w", err)
	}
	switch topType {
	case "text/plain":
		if _, err := io.WriteString(w, text); err != nil {
			return fmt.Errorf("compose: write text: %w", err)
		}
	case "multipart/alternative":
		if err := m.alternatives(w, text, htmlDoc); err != nil {
			return err
		}
	case "multipart/mixed":
		if err := m.mixed(w, text, htmlDoc, atts); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("compose: close message: %w", err)
	}
	return nil
}

// mixed writes the body part and then every attachment.
func (m *mimeWriter) mixed(w *message.Writer, text, htmlDoc string, atts []Attachment) error {
	if htmlDoc == "" {
		if err := writeLeaf(w, "text/plain", text); err != nil {
			return err
		}
	} else {
		b, err := m.boundary()
		if err != nil {
			return fmt.Errorf("compose: %w", err)
		}
		var h message.Header
		h.SetContentType("multipart/alternative", map[string]string{"boundary": b})
		alt, err := w.CreatePart(h)
		if err != nil {
			return fmt.Errorf("compose: alternative part: %w", err)
		}
		if err := m.alternatives(alt, text, htmlDoc); err != nil {
			return err
		}
		if err := alt.Close(); err != nil {
			return fmt.Errorf("compose: close alternative part: %w", err)
		}
	}
	for _, a := range atts {
		// The file name goes into Content-Disposition as RFC 2231 (3,
		// 4: filename*=utf-8''...) when it is not ASCII, which is the
		// standard form (RFC 6266 4.3 follows it too), and into the
		// Content-Type name parameter as RFC 2047 words, which is what
		// older clients read.
		var h message.Header
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.Filename}))
		h.Set("Content-Transfer-Encoding", "base64")
		h.SetContentType(a.ContentType, map[string]string{"name": a.Filename})
		pw, err := w.CreatePart(h)
		if err != nil {
			return fmt.Errorf("compose: attachment %s: %w", a.Filename, err)
		}
		if _, err := pw.Write(a.Data); err != nil {
			return fmt.Errorf("compose: attachment %s: %w", a.Filename, err)
		}
		if err := pw.Close(); err != nil {
			return fmt.Errorf("compose: attachment %s: %w", a.Filename, err)
		}
	}
	return nil
}

// alternatives writes the text and HTML parts, simplest first
// (RFC 2046 5.1.4).
func (m *mimeWriter) alternatives(w *message.Writer, text, htmlDoc string) error {
	if err := writeLeaf(w, "text/plain", text); err != nil {
		return err
	}
	return writeLeaf(w, "text/html", htmlDoc)
}

// writeLeaf writes one quoted-printable UTF-8 text part.
func writeLeaf(w *message.Writer, mediaType, content string) error {
	var h message.Header
	h.Set("Content-Transfer-Encoding", "quoted-printable")
	h.SetContentType(mediaType, map[string]string{"charset": "utf-8"})
	pw, err := w.CreatePart(h)
	if err != nil {
		return fmt.Errorf("compose: %s part: %w", mediaType, err)
	}
	if _, err := io.WriteString(pw, content); err != nil {
		return fmt.Errorf("compose: %s part: %w", mediaType, err)
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("compose: %s part: %w", mediaType, err)
	}
	return nil
}

// textPart is the text/plain content: the body (or, for an HTML-only
// request, the HTML converted to Markdown), then the signature after a
// "-- " line (RFC 3676 4.3), LF line endings and one final newline; the
// quoted-printable writer turns LF into CRLF.
func textPart(req *Request) string {
	body := normalizeNewlines(req.Body)
	if body == "" && req.HTMLBody != "" {
		if md, err := htmltomarkdown.ConvertString(req.HTMLBody); err == nil {
			body = md
		}
	}
	body = strings.TrimRight(body, "\n")
	if sig := strings.Trim(normalizeNewlines(req.Signature), "\n"); sig != "" {
		if body != "" {
			body += "\n\n"
		}
		body += "-- \n" + sig
	}
	return body + "\n"
}

// normalizeNewlines turns CRLF and lone CR into LF.
func normalizeNewlines(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}
