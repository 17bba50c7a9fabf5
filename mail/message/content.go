package message

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/charset"
)

// MaxHTMLConvert bounds the HTML body converted to Markdown for the .md:
// the converter holds the whole document, several times over. A longer
// HTML body is kept as its (decoded) HTML text instead, as when conversion
// fails (book/parsing.md "Streaming").
const MaxHTMLConvert = 1 << 20

// Scratch holds decoded content (attachments, the body text) while a
// message is stored, so none of it has to sit in memory: the SMTP intake
// gives each transaction a scratch file beside its spool (book/smtp.md).
type Scratch interface {
	// Append copies r to the end of the scratch space and returns the
	// bytes appended. On error the bytes written so far are abandoned.
	Append(r io.Reader) (Source, error)
}

// MemScratch is a Scratch in memory, for small messages and tests.
type MemScratch struct{}

// Append reads r whole.
func (MemScratch) Append(r io.Reader) (Source, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(b), nil
}

// errTrap remembers the error of the reader it wraps, so a failure of the
// transfer decoding is told apart from one of the charset conversion.
type errTrap struct {
	r   io.Reader
	err error
}

func (t *errTrap) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		t.err = err
	}
	return n, err
}

// decodeError is a transfer encoding that cannot be undone: the part is
// kept as its raw bytes. Any other error (reading the spool, writing the
// scratch) fails the parse.
type decodeError struct{ err error }

func (e decodeError) Error() string { return e.err.Error() }
func (e decodeError) Unwrap() error { return e.err }

// transferReader undoes the Content-Transfer-Encoding (RFC 2045 6) as it
// reads. An unknown encoding is an error; the caller decides what becomes
// of the part.
func transferReader(cte string, content io.Reader) (io.Reader, error) {
	var h gomessage.Header
	if cte != "" {
		h.Set("Content-Transfer-Encoding", cte)
	}
	e, err := gomessage.New(h, content)
	if err != nil {
		return nil, decodeError{fmt.Errorf("transfer encoding %q: %w", cte, err)}
	}
	return e.Body, nil
}

// decoded appends the transfer-decoded content of l to sc.
func (l leaf) decoded(sc Scratch) (Source, error) {
	r, err := transferReader(l.cte, io.NewSectionReader(l.content, 0, l.content.Size()))
	if err != nil {
		return nil, err
	}
	trap := &errTrap{r: r}
	src, err := sc.Append(trap)
	if err != nil {
		if trap.err != nil {
			return nil, decodeError{fmt.Errorf("decode %q body: %w", l.cte, trap.err)}
		}
		return nil, fmt.Errorf("decode %q body: %w", l.cte, err)
	}
	return src, nil
}

// text turns the transfer-decoded content of a text leaf into UTF-8 with
// LF line endings, appended to sc. A part in an unknown charset, or one
// whose conversion fails, is kept as its bytes with invalid sequences
// replaced.
func (l leaf) text(decoded Source, sc Scratch) (Source, error) {
	open := func() io.Reader { return io.NewSectionReader(decoded, 0, decoded.Size()) }
	switch strings.ToLower(strings.TrimSpace(l.params["charset"])) {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
	default:
		if cr, err := charset.Reader(l.params["charset"], open()); err == nil {
			if src, err := sc.Append(newTextReader(cr)); err == nil {
				return src, nil
			}
		}
	}
	src, err := sc.Append(newTextReader(open()))
	if err != nil {
		return nil, fmt.Errorf("store text: %w", err)
	}
	return src, nil
}

// toUTF8 converts a short text in the named charset to UTF-8
// (RFC 2046 4.1.2). UTF-8, US-ASCII and an absent charset pass through.
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

// textReader streams what strings.ReplaceAll(strings.ToValidUTF8(s,
// "\uFFFD"), "\r\n", "\n") makes of its input: each run of invalid UTF-8
// becomes one U+FFFD and CRLF becomes LF.
type textReader struct {
	r     io.Reader
	in    []byte // input not yet converted (a split rune or a CR at the end)
	out   []byte // converted, not yet read
	inBad bool   // the last input byte was part of an invalid run
	eof   bool
	buf   [16 << 10]byte
}

func newTextReader(r io.Reader) *textReader { return &textReader{r: r} }

func (t *textReader) Read(p []byte) (int, error) {
	for len(t.out) == 0 {
		if t.eof {
			if len(t.in) == 0 {
				return 0, io.EOF
			}
			t.convert(true)
			continue
		}
		n, err := t.r.Read(t.buf[:])
		t.in = append(t.in, t.buf[:n]...)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return 0, err
			}
			t.eof = true
		}
		t.convert(t.eof)
	}
	n := copy(p, t.out)
	t.out = t.out[n:]
	return n, nil
}

// convert moves t.in to t.out, keeping back an incomplete rune or a final
// CR unless the input has ended.
func (t *textReader) convert(final bool) {
	b := t.in
	out := t.out[:0]
	i := 0
	for i < len(b) {
		c := b[i]
		if c < utf8.RuneSelf {
			t.inBad = false
			if c == '\r' {
				if i+1 == len(b) && !final {
					break
				}
				if i+1 < len(b) && b[i+1] == '\n' {
					i++ // the LF is written next
					continue
				}
			}
			out = append(out, c)
			i++
			continue
		}
		if !final && !utf8.FullRune(b[i:]) {
			break
		}
		r, w := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && w == 1 {
			if !t.inBad {
				out = append(out, "\uFFFD"...)
			}
			t.inBad = true
			i++
			continue
		}
		t.inBad = false
		out = append(out, b[i:i+w]...)
		i += w
	}
	t.out = out
	t.in = append(t.in[:0], b[i:]...)
}
