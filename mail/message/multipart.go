package message

import (
	"bufio"
	"errors"
	"io"
)

// splitBufSize is the read buffer of the multipart splitter: lines longer
// than this are scanned in pieces, never held whole.
const splitBufSize = 32 << 10

// span is a byte range [off, off+n) of a body.
type span struct{ off, n int64 }

// splitMultipart finds the parts (header included) of a multipart body
// (RFC 2046 5.1.1) without holding it: it returns their byte ranges. A
// delimiter is "--boundary" at the start of a line, optionally followed by
// "--" (the close delimiter) and whitespace, then the end of the line; the
// line break before it belongs to the delimiter. The preamble and epilogue
// are dropped. A body with no close delimiter ends its last part at the end
// of the input. At most limit parts are returned.
func splitMultipart(body Source, boundary string, bufSize, limit int) ([]span, error) {
	delim := []byte("--" + boundary)
	size := body.Size()
	br := bufio.NewReaderSize(io.NewSectionReader(body, 0, size), bufSize)
	var (
		parts    []span
		partFrom int64 = -1 // start of the current part, -1 before the first delimiter
		pos      int64      // start of the current line
		// the line break that ends just before pos: 0 (none), 1 (LF) or 2 (CRLF)
		prevBreak int64
	)
	for pos <= size {
		line, err := readLineShape(br, delim)
		if err != nil {
			return nil, err
		}
		lineEnd := pos + line.n
		if line.delim {
			if partFrom >= 0 {
				parts = append(parts, span{partFrom, max(0, pos-prevBreak-partFrom)})
				if len(parts) >= limit {
					return parts, nil
				}
			}
			if line.close {
				return parts, nil
			}
			partFrom = lineEnd
		}
		if lineEnd == size {
			break
		}
		prevBreak = line.brk
		pos = lineEnd
	}
	if partFrom >= 0 && partFrom <= size {
		parts = append(parts, span{partFrom, size - partFrom})
	}
	return parts, nil
}

// lineShape is what the splitter needs to know about one line.
type lineShape struct {
	n            int64 // its length, line break included
	brk          int64 // its line break: 0 (none, at the end), 1 (LF), 2 (CRLF)
	delim, close bool  // a delimiter line; the close delimiter
}

// States of the delimiter-line matcher in readLineShape.
const (
	dlPrefix = iota // matching "--boundary"
	dlDash0         // after it: "-" (close) or whitespace or the end
	dlDash1         // after one "-": only a second "-"
	dlSpace         // spaces and tabs, then CR or LF
	dlCR            // after a CR: only the LF
	dlNot           // not a delimiter line
)

// readLineShape consumes one line from br, in pieces when it is longer
// than the buffer, and reports its length, its line break and whether it is
// a delimiter line: delim, then optionally "--", then only spaces and tabs,
// an optional CR and the LF (or the end of the input).
func readLineShape(br *bufio.Reader, delim []byte) (lineShape, error) {
	var (
		s     lineShape
		state = dlPrefix
		i     int // bytes of delim matched
		last2 [2]byte
	)
	for {
		frag, err := br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) && !errors.Is(err, io.EOF) {
			return s, err
		}
		s.n += int64(len(frag))
		switch len(frag) {
		case 0:
		case 1:
			last2[0], last2[1] = last2[1], frag[0]
		default:
			last2[0], last2[1] = frag[len(frag)-2], frag[len(frag)-1]
		}
		for _, c := range frag {
			if state == dlNot {
				break
			}
			switch state {
			case dlPrefix:
				if c != delim[i] {
					state = dlNot
				} else if i++; i == len(delim) {
					state = dlDash0
				}
			case dlDash0:
				state = lineSpace(c)
				if c == '-' {
					state = dlDash1
				}
			case dlDash1:
				state = dlNot
				if c == '-' {
					s.close, state = true, dlSpace
				}
			case dlSpace:
				state = lineSpace(c)
			case dlCR:
				state = dlNot
				if c == '\n' {
					state = dlSpace
				}
			}
		}
		if err == nil || errors.Is(err, io.EOF) {
			if s.n > 0 && last2[1] == '\n' {
				s.brk = 1
				if s.n >= 2 && last2[0] == '\r' {
					s.brk = 2
				}
			}
			s.delim = state == dlDash0 || state == dlSpace || state == dlCR
			if !s.delim {
				s.close = false
			}
			return s, nil
		}
	}
}

// lineSpace is the matcher's state after byte c in the trailing part of a
// delimiter line.
func lineSpace(c byte) int {
	switch c {
	case ' ', '\t', '\n':
		return dlSpace
	case '\r':
		return dlCR
	}
	return dlNot
}
