package storage

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestConcatSourceReadsAcrossParts(t *testing.T) {
	c := ConcatSource(bytes.NewReader([]byte("ab")), bytes.NewReader(nil), bytes.NewReader([]byte("cdef")))
	if c.Size() != 6 {
		t.Fatalf("size %d", c.Size())
	}
	got, err := io.ReadAll(io.NewSectionReader(c, 0, c.Size()))
	if err != nil || string(got) != "abcdef" {
		t.Fatalf("got %q, %v", got, err)
	}
	buf := make([]byte, 3)
	if n, err := c.ReadAt(buf, 1); n != 3 || err != nil || string(buf) != "bcd" {
		t.Fatalf("ReadAt(1) = %d %v %q", n, err, buf)
	}
	if n, err := c.ReadAt(buf, 5); n != 1 || err != io.EOF {
		t.Fatalf("ReadAt(5) = %d %v", n, err)
	}
}

// Streamed sources store the same bytes as in-memory ones.
func TestPutFromSourcesMatchesBytes(t *testing.T) {
	st, _ := openTestStore(t, Options{})
	ctx := context.Background()
	ref := MailboxRef{Domain: "a.test", Local: "x"}
	fm := Frontmatter{MessageID: "m@x", Subject: "s", From: "a@b.c", To: []string{"x@a.test"}, Trusted: "none", DKIM: "none", SPF: "none", DMARC: "none"}
	mem, err := st.Put(ctx, PutRequest{Mailbox: ref, Folder: Inbox, Raw: []byte("raw bytes"), Frontmatter: fm, Body: "body",
		Attachments: []Attachment{{Filename: "a.txt", Data: []byte("att")}}})
	if err != nil {
		t.Fatal(err)
	}
	streamed, err := st.Put(ctx, PutRequest{Mailbox: ref, Folder: Inbox, RawFrom: ConcatSource(bytes.NewReader([]byte("raw ")), bytes.NewReader([]byte("bytes"))),
		Frontmatter: fm, BodyFrom: bytes.NewReader([]byte("body")),
		Attachments: []Attachment{{Filename: "a.txt", From: bytes.NewReader([]byte("att"))}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{".eml", ".md", "a.txt"} {
		a := readIn(t, pathsOf(t, st, ref, Inbox, mem.ID).Bundle, mem.ID, name)
		b := readIn(t, pathsOf(t, st, ref, Inbox, streamed.ID).Bundle, streamed.ID, name)
		if name == ".md" {
			a = bytes.ReplaceAll(a, []byte(mem.ID), []byte("ID"))
			b = bytes.ReplaceAll(b, []byte(streamed.ID), []byte("ID"))
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs:\n%s\n---\n%s", name, a, b)
		}
	}
}

func readIn(t *testing.T, dir, id, name string) []byte {
	t.Helper()
	p := filepath.Join(dir, name)
	if name[0] == '.' {
		p = filepath.Join(dir, id+name)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
