package storage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"
)

// TestMessageFileOfTheFileStore: the file store's MessageFile is the open
// file (OSFile, named by Paths), capped at its size at open; one from
// NewMessageFile reads the same way and has no OSFile.
func TestMessageFileOfTheFileStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t, Options{})
	raw := []byte("Subject: x\r\n\r\nbody\r\n")
	st := putMsg(t, s, PutRequest{Raw: raw, Frontmatter: inboundFM("x"), Body: "b"})
	f, err := s.OpenRaw(ctx, testRef, Inbox, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.OSFile() == nil || f.OSFile().Name() != pathsOf(t, s, testRef, Inbox, st.ID).EML {
		t.Errorf("OSFile %v, want the .eml", f.OSFile())
	}
	if b, err := io.ReadAll(f.Reader()); err != nil || !bytes.Equal(b, raw) || f.Size() != int64(len(raw)) {
		t.Errorf("read %q (%v), size %d", b, err, f.Size())
	}
	closed := false
	m := NewMessageFile(bytes.NewReader(raw), closerFunc(func() error { closed = true; return nil }), int64(len(raw)))
	head := make([]byte, 7)
	if _, err := m.ReadAt(head, 0); err != nil || string(head) != "Subject" || m.OSFile() != nil {
		t.Errorf("ReadAt %q (%v), OSFile %v", head, err, m.OSFile())
	}
	if err := m.Close(); err != nil || !closed {
		t.Errorf("Close: %v, closed %v", err, closed)
	}
	if err := NewMessageFile(bytes.NewReader(nil), nil, 0).Close(); err != nil {
		t.Errorf("Close without a closer: %v", err)
	}
}

type closerFunc func() error

func (c closerFunc) Close() error { return c() }

// TestPathsRefusesWhatReadRefuses: Paths names a flat message's files, and
// a missing id or an escaping one is refused as Read refuses it.
func TestPathsRefusesWhatReadRefuses(t *testing.T) {
	t.Parallel()
	s, _ := openTestStore(t, Options{})
	st := putMsg(t, s, PutRequest{Frontmatter: inboundFM("flat"), Body: "b"})
	p := pathsOf(t, s, testRef, Inbox, st.ID)
	if _, err := os.Stat(p.MD); err != nil || p.EML != "" || p.Bundle != "" {
		t.Errorf("paths %+v (%v): want the .md only", p, err)
	}
	if _, err := s.Paths(testRef, Inbox, "2026-01-01-000000-missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing id: %v", err)
	}
	if _, err := s.Paths(testRef, Inbox, "../x"); !errors.Is(err, ErrInvalidID) {
		t.Errorf("escaping id: %v", err)
	}
}
