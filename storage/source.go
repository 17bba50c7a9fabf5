package storage

import (
	"errors"
	"io"
)

// Source is content the store streams from instead of holding in memory:
// a spooled file section (*io.SectionReader), a *bytes.Reader, or
// ConcatSource of several. It is read from offset 0 on every write, so one
// Source serves the copies of many mailboxes.
type Source interface {
	io.ReaderAt
	Size() int64
}

// ConcatSource joins sources end to end (trace headers + spooled DATA).
func ConcatSource(parts ...Source) Source {
	c := &concatSource{}
	for _, p := range parts {
		c.parts = append(c.parts, p)
		c.size += p.Size()
	}
	return c
}

type concatSource struct {
	parts []Source
	size  int64
}

func (c *concatSource) Size() int64 { return c.size }

func (c *concatSource) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for _, part := range c.parts {
		if len(p) == 0 {
			break
		}
		sz := part.Size()
		if off >= sz {
			off -= sz
			continue
		}
		want := p
		if rest := sz - off; int64(len(want)) > rest {
			want = want[:rest]
		}
		m, err := part.ReadAt(want, off)
		n += m
		p = p[m:]
		off = 0
		if err != nil && !(errors.Is(err, io.EOF) && m == len(want)) {
			return n, err
		}
		if m < len(want) {
			return n, io.ErrUnexpectedEOF
		}
	}
	if len(p) > 0 {
		return n, io.EOF
	}
	return n, nil
}
