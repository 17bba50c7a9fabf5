package message

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxHeaderBytes bounds the header block of a received message. The
// header is the one part of a message held in memory while it is stored
// (book/parsing.md "Streaming"); a longer one is refused
// (ErrHeaderTooLarge) rather than read whole.
const MaxHeaderBytes = 1 << 20

// maxPartHeaderBytes bounds the header of one MIME part. A longer part
// header is cut at its last whole line within the bound, and what follows
// is read as the part's body (book/parsing.md).
const maxPartHeaderBytes = 64 << 10

// headChunk is how much of a source is read at a time while looking for
// the end of a header block.
const headChunk = 8 << 10

// ErrHeaderTooLarge is returned by ReadHead for a header block that does
// not end within its bound.
var ErrHeaderTooLarge = errors.New("message header block too large")

// Source is content read by offset: a section of a spool file, a
// *bytes.Reader, or several joined. storage.Source has the same methods,
// so one value serves the parser and the store.
type Source interface {
	io.ReaderAt
	Size() int64
}

// Head is the header block of a message, read and parsed once. The values
// stored in the frontmatter, the From that DMARC checks and the fields
// DKIM verifies all come from it (book/verification.md), so no two parsers
// can disagree about which header a message has.
type Head struct {
	raw []byte // the header block, through the empty line that ends it
	h   header
}

// ReadHead reads the header block at the start of src, up to and including
// the empty line that ends it (RFC 5322 2.1), and parses it. A source with
// no empty line is all header. A header block longer than max bytes is
// ErrHeaderTooLarge.
func ReadHead(src Source, max int) (*Head, error) {
	raw, err := readHeaderBlock(src, max, false)
	if err != nil {
		return nil, err
	}
	return newHead(raw), nil
}

// HeadOf parses the header block at the start of raw, however long.
func HeadOf(raw []byte) *Head {
	_, end := splitHeader(raw)
	return newHead(raw[:end])
}

func newHead(raw []byte) *Head {
	h, _ := splitHeader(raw)
	return &Head{raw: raw, h: h.finish(raw)}
}

// readHeaderBlock reads src until the empty line that ends the header. At
// max bytes without one it fails with ErrHeaderTooLarge, or, when lenient,
// returns the whole lines read so far (a MIME part's over-long header).
func readHeaderBlock(src Source, max int, lenient bool) ([]byte, error) {
	size := src.Size()
	var buf []byte
	lineStart := 0 // start of the first line not yet known to be complete
	for {
		if end, ok := headerEnd(buf, &lineStart); ok {
			return buf[:end], nil
		}
		if int64(len(buf)) >= size {
			return buf, nil // no empty line: all header
		}
		if len(buf) >= max {
			if !lenient {
				return nil, fmt.Errorf("%w (over %d bytes)", ErrHeaderTooLarge, max)
			}
			return buf[:lineStart], nil
		}
		n := min(int64(headChunk), size-int64(len(buf)), int64(max-len(buf)))
		off := len(buf)
		buf = append(buf, make([]byte, n)...)
		got, err := src.ReadAt(buf[off:], int64(off))
		if got < int(n) {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("read header: %w", err)
		}
	}
}

// headerEnd looks for the empty line that ends a header in b, resuming at
// *from (a line start); it returns the offset just past that line. *from
// advances past every complete line seen.
func headerEnd(b []byte, from *int) (int, bool) {
	pos := *from
	for pos < len(b) {
		i := bytes.IndexByte(b[pos:], '\n')
		if i < 0 {
			break
		}
		next := pos + i + 1
		if len(trimEOL(b[pos:next])) == 0 {
			*from = next
			return next, true
		}
		pos = next
	}
	*from = pos
	return 0, false
}

// Len is the size of the header block, the empty line included: the
// offset of the body in the bytes it was read from.
func (h *Head) Len() int64 { return int64(len(h.raw)) }

// Bytes returns the header block as received. The caller must not modify it.
func (h *Head) Bytes() []byte { return h.raw }

// Fields reports whether the header has any field at all.
func (h *Head) Fields() int { return len(h.h) }

// Values returns the unfolded value of every field called name
// (case-insensitive), in order.
func (h *Head) Values(name string) []string {
	var out []string
	for _, f := range h.h {
		if strings.EqualFold(f.name, name) {
			out = append(out, f.value)
		}
	}
	return out
}

// StripAuthResults returns the header without the Authentication-Results
// fields whose authserv-id is ours (see the package function of the same
// name); h itself is unchanged.
func (h *Head) StripAuthResults(authservID string) *Head {
	out := StripAuthResults(h.raw, authservID)
	if len(out) == len(h.raw) {
		return h
	}
	return newHead(out)
}

// DKIMView is the header as the DKIM verifier is given it: exactly the
// fields this parse found, each with its folded lines as received, then
// the empty line. A line this parser skips (one that is not a field) is
// left out, so DKIM cannot verify a field that the stored view and DMARC
// never saw (book/verification.md).
func (h *Head) DKIMView() []byte {
	out := make([]byte, 0, len(h.raw))
	for _, f := range h.h {
		out = append(out, h.raw[f.start:f.end]...)
	}
	// The line that ended the header (none when the message is all header).
	if end := len(h.raw); end > 0 {
		last := bytes.LastIndexByte(h.raw[:end-1], '\n') + 1
		if len(trimEOL(h.raw[last:])) == 0 && h.raw[end-1] == '\n' {
			out = append(out, h.raw[last:]...)
		}
	}
	return out
}
