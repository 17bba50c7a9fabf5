package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fillMailbox stores n messages one minute apart; every third is from bob,
// every even one is read.
func fillMailbox(t *testing.T, s *Store, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		fm := inboundFM(fmt.Sprintf("Subject %02d", i))
		if i%3 == 0 {
			fm.From = "Bob <BOB@example.net>"
		}
		st := putMsg(t, s, PutRequest{At: t0.Add(time.Duration(i) * time.Minute), Frontmatter: fm, Body: "b"})
		ids[i] = st.ID
		if i%2 == 0 {
			if _, err := s.SetRead(context.Background(), testRef, Inbox, st.ID, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	return ids
}

func TestListPagingAndFilters(t *testing.T) {
	t.Parallel()
	s, _ := openTestStore(t, Options{})
	ids := fillMailbox(t, s, 10)
	mbox := s.folderDir(testRef, Inbox)
	// Things that are not messages are ignored.
	for _, junk := range []string{".hidden.md", "notes.txt", ".tmp-x"} {
		if err := os.WriteFile(filepath.Join(mbox, junk), []byte("+++\n+++\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(mbox, "emptydir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mbox, "orphan.eml"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(mbox, ids[0]+".md"), filepath.Join(mbox, "link.md")); err != nil {
		t.Fatal(err)
	}
	rev := func(idx ...int) string {
		var out []string
		for _, i := range idx {
			out = append(out, ids[i])
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		name  string
		q     ListQuery
		total int
		want  string
	}{
		{"newest first, default limit", ListQuery{}, 10, rev(9, 8, 7, 6, 5, 4, 3, 2, 1, 0)},
		{"page", ListQuery{Limit: 3, Offset: 2}, 10, rev(7, 6, 5)},
		{"offset past end", ListQuery{Offset: 10}, 10, ""},
		{"unread", ListQuery{Unread: true}, 5, rev(9, 7, 5, 3, 1)},
		{"from case-insensitive", ListQuery{From: "bob@EXAMPLE"}, 4, rev(9, 6, 3, 0)},
		{"subject", ListQuery{Subject: "subject 0"}, 10, rev(9, 8, 7, 6, 5, 4, 3, 2, 1, 0)},
		{"subject exact", ListQuery{Subject: "ECT 07"}, 1, rev(7)},
		{"since", ListQuery{Since: t0.Add(7 * time.Minute)}, 3, rev(9, 8, 7)},
		{"combined", ListQuery{Unread: true, From: "bob", Limit: 1}, 2, rev(9)},
		{"sent folder empty", ListQuery{Folder: Sent}, 0, ""},
	}
	for _, tt := range tests {
		tt.q.Mailbox = testRef
		res, err := s.List(context.Background(), tt.q)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var got []string
		for _, m := range res.Messages {
			got = append(got, m.ID)
			if m.Frontmatter == nil || m.Frontmatter.ID != m.ID {
				t.Errorf("%s: summary %s without its frontmatter", tt.name, m.ID)
			}
		}
		if res.Total != tt.total || strings.Join(got, ",") != tt.want {
			t.Errorf("%s: total %d ids %v, want %d %v", tt.name, res.Total, got, tt.total, tt.want)
		}
	}
	if _, err := s.List(context.Background(), ListQuery{Mailbox: testRef, Limit: -1}); err == nil {
		t.Error("negative limit accepted")
	}
	c, err := s.Counts(context.Background(), testRef)
	if err != nil || c != (Counts{Total: 10, Unread: 5}) {
		t.Errorf("Counts = %+v %v", c, err)
	}
}

func TestReadRejectsEscapes(t *testing.T) {
	t.Parallel()
	s, dir := openTestStore(t, Options{})
	st := putMsg(t, s, PutRequest{Frontmatter: inboundFM("x"), Body: "b"})
	mbox := filepath.Dir(pathsOf(t, s, testRef, Inbox, st.ID).MD)
	// A message outside the mailbox, and symlinks to it.
	outside := filepath.Join(dir, "secret")
	if err := os.WriteFile(outside+".md", EncodeMD(&Frontmatter{ID: "secret"}, "s"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside+".md", filepath.Join(mbox, "evil.md")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dir, filepath.Join(mbox, "evildir")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	invalid := []string{"", ".", "..", "../../../secret", "a/b", `..\x`, "x\x00", ".hidden"}
	for _, id := range invalid {
		if _, err := s.Read(ctx, testRef, Inbox, id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Read(%q) = %v, want ErrInvalidID", id, err)
		}
		if _, err := s.SetRead(ctx, testRef, Inbox, id, true); !errors.Is(err, ErrInvalidID) {
			t.Errorf("SetRead(%q) = %v, want ErrInvalidID", id, err)
		}
	}
	for _, id := range []string{"evil", "evildir", "nope", st.ID + ".md"} {
		if _, err := s.Read(ctx, testRef, Inbox, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Read(%q) = %v, want ErrNotFound", id, err)
		}
	}
	if _, err := s.Read(ctx, testRef, Sent, st.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("inbox id read from sent: %v", err)
	}
	if _, err := s.Read(ctx, MailboxRef{Domain: testRef.Domain, Local: ".."}, Inbox, st.ID); !errors.Is(err, ErrInvalidMailbox) {
		t.Errorf("bad ref: %v", err)
	}
}

func TestSetReadGoWritten(t *testing.T) {
	t.Parallel()
	readAt := time.Date(2026, 10, 8, 9, 0, 0, 500, time.FixedZone("x", 3600))
	s, _ := openTestStore(t, Options{Now: fixedClock(readAt)})
	fm := inboundFM("x")
	fm.HooksDue = []string{"h1"}
	fm.Extra = []Field{{Key: "future_key", Value: "kept"}}
	st := putMsg(t, s, PutRequest{Frontmatter: fm, Body: "body\r\n"})
	md := pathsOf(t, s, testRef, Inbox, st.ID).MD
	before, _ := os.ReadFile(md)
	ctx := context.Background()
	got, err := s.SetRead(ctx, testRef, Inbox, st.ID, true)
	if err != nil || !got.Read || !got.ReadAt.Equal(readAt) {
		t.Fatalf("SetRead = %+v %v", got, err)
	}
	after, _ := os.ReadFile(md)
	want := bytes.Replace(before, []byte("read = false\n"), []byte("read = true\nread_at = \"2026-10-08T08:00:00.0000005Z\"\n"), 1)
	if !bytes.Equal(after, want) {
		t.Errorf("after read:\n%s\nwant:\n%s", after, want)
	}
	// Marking read again writes nothing (read_at stays).
	if _, err := s.SetRead(ctx, testRef, Inbox, st.ID, true); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(md); !bytes.Equal(again, after) {
		t.Error("second mark-read rewrote the file")
	}
	if _, err := s.SetRead(ctx, testRef, Inbox, st.ID, false); err != nil {
		t.Fatal(err)
	}
	if unread, _ := os.ReadFile(md); !bytes.Equal(unread, before) {
		t.Errorf("unread did not restore the original bytes:\n%s", unread)
	}
	if mode(t, md) != 0o640 {
		t.Errorf("mode after rewrite %o", mode(t, md))
	}
	if _, err := s.SetRead(ctx, testRef, Inbox, "missing", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
}

func TestSetReadBytes(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 10, 8, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name, in, want string
		read           bool
	}{
		{"rust unread to read keeps everything else",
			"+++\nid = \"a\"\nsubject = 'x \"y\"'\nread = false\nlabels = [\"l\"]\n\n[[attachments]]\nfilename = \"f\"\n+++\n\nb\r\n",
			"+++\nid = \"a\"\nsubject = 'x \"y\"'\nread = true\nread_at = \"2026-10-08T09:00:00Z\"\nlabels = [\"l\"]\n\n[[attachments]]\nfilename = \"f\"\n+++\n\nb\r\n", true},
		{"rust read to unread drops read_at",
			"+++\nid = \"a\"\nread = true\nread_at = \"2026-09-14T08:41:17.902114358Z\"\n+++\n\nb\r\n",
			"+++\nid = \"a\"\nread = false\n+++\n\nb\r\n", false},
		{"no read line falls back to encoding",
			"+++\nid = \"a\"\noutbound = true\n+++\n\nb\n",
			"", true},
		{"quoted read key falls back",
			"+++\n\"read\" = false\n+++\n\nb\n",
			"", true},
	}
	for _, tt := range tests {
		out, fm, err := setReadBytes([]byte(tt.in), tt.read, now)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if fm.Read != tt.read {
			t.Errorf("%s: read = %v", tt.name, fm.Read)
		}
		if tt.want != "" && string(out) != tt.want {
			t.Errorf("%s:\n%s\nwant\n%s", tt.name, out, tt.want)
		}
		back, _, err := DecodeMD(out)
		if err != nil || back.Read != tt.read || back.ReadAt.IsZero() == tt.read {
			t.Errorf("%s: result decodes to %+v %v", tt.name, back, err)
		}
	}
}
