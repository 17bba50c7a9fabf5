package storage

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// copyRustData copies a fixture data tree and creates the empty mailbox
// dirs git cannot keep (fixture README, "How to use").
func copyRustData(t *testing.T, version string) string {
	t.Helper()
	src := filepath.Join(fixtureRoot, version, "data")
	if _, err := os.Stat(src); err != nil {
		t.Fatalf("fixtures missing (testdata/fixtures in the repo): %v", err)
	}
	dst := filepath.Join(t.TempDir(), "data")
	copyTree(t, src, dst)
	prefix := ""
	if version == "v2" {
		prefix = "agent.example.com"
	}
	for _, d := range []string{"sent/catchall", "sent/billing"} {
		if err := os.MkdirAll(filepath.Join(dst, prefix, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

type rustBox struct {
	ref          MailboxRef
	folder       Folder
	n            int
	unreadBefore int
}

// exerciseRust lists, reads, marks read and unread every message of the
// given mailboxes, checking that marking touches only the read lines.
func exerciseRust(t *testing.T, s *Store, boxes []rustBox) {
	t.Helper()
	ctx := context.Background()
	for _, b := range boxes {
		res, err := s.List(ctx, ListQuery{Mailbox: b.ref, Folder: b.folder, Limit: 100})
		if err != nil {
			t.Fatalf("%s/%s: %v", b.ref, b.folder, err)
		}
		if res.Total != b.n || len(res.Messages) != b.n {
			t.Errorf("%s/%s: listed %d (total %d), want %d", b.ref, b.folder, len(res.Messages), res.Total, b.n)
		}
		unread, err := s.List(ctx, ListQuery{Mailbox: b.ref, Folder: b.folder, Unread: true})
		if err != nil || unread.Total != b.unreadBefore {
			t.Errorf("%s/%s: unread %d, want %d (%v)", b.ref, b.folder, unread.Total, b.unreadBefore, err)
		}
		for i, sum := range res.Messages {
			if i > 0 && sum.ID > res.Messages[i-1].ID {
				t.Errorf("%s: not newest first at %s", b.ref, sum.ID)
			}
			m, err := s.Read(ctx, b.ref, b.folder, sum.ID)
			if err != nil {
				t.Fatalf("read %s: %v", sum.ID, err)
			}
			paths := pathsOf(t, s, b.ref, b.folder, sum.ID)
			if paths.EML != "" || m.Frontmatter.ID != sum.ID || !strings.Contains(m.Body, "\r\n") {
				t.Errorf("%s: eml %q id %q crlf body %v", sum.ID, paths.EML, m.Frontmatter.ID, strings.Contains(m.Body, "\r\n"))
			}
			if strings.ContainsAny(m.Frontmatter.MessageID, "<>") || m.Frontmatter.MessageID == "" {
				t.Errorf("%s: message_id %q", sum.ID, m.Frontmatter.MessageID)
			}
			orig, _ := os.ReadFile(paths.MD)
			wasRead := m.Frontmatter.Read
			if _, err := s.SetRead(ctx, b.ref, b.folder, sum.ID, true); err != nil {
				t.Fatalf("mark read %s: %v", sum.ID, err)
			}
			afterRead, _ := os.ReadFile(paths.MD)
			if _, err := s.SetRead(ctx, b.ref, b.folder, sum.ID, false); err != nil {
				t.Fatalf("mark unread %s: %v", sum.ID, err)
			}
			afterUnread, _ := os.ReadFile(paths.MD)
			checkOnlyReadLines(t, sum.ID, orig, afterRead, true)
			checkOnlyReadLines(t, sum.ID, orig, afterUnread, false)
			if !wasRead && !bytes.Equal(afterUnread, orig) {
				t.Errorf("%s: read then unread changed the file", sum.ID)
			}
		}
	}
}

// checkOnlyReadLines: removing the read/read_at lines from both versions
// leaves identical bytes, and the new version has the asked state.
func checkOnlyReadLines(t *testing.T, id string, orig, got []byte, read bool) {
	t.Helper()
	strip := func(b []byte) string {
		var keep []string
		for _, l := range strings.SplitAfter(string(b), "\n") {
			if strings.HasPrefix(l, "read = ") || strings.HasPrefix(l, "read_at = ") {
				continue
			}
			keep = append(keep, l)
		}
		return strings.Join(keep, "")
	}
	if strip(orig) != strip(got) {
		t.Errorf("%s: marking changed more than the read lines:\n%s", id, got)
	}
	fm, _, err := DecodeMD(got)
	if err != nil || fm.Read != read || fm.ReadAt.IsZero() == read {
		t.Errorf("%s: state after marking %v: %+v %v", id, read, fm, err)
	}
}

func TestRustV2(t *testing.T) {
	t.Parallel()
	data := copyRustData(t, "v2")
	s, err := Open(data, Options{Now: fixedClock(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	a, o := "agent.example.com", "other.example.net"
	ctx := context.Background()
	c, err := s.Counts(ctx, MailboxRef{a, "support"})
	if err != nil || c != (Counts{Total: 6, Unread: 4, Sent: 3}) {
		t.Errorf("support counts %+v %v", c, err)
	}
	// Specific quirks read as book/upgrade.md says.
	m, err := s.Read(ctx, MailboxRef{a, "support"}, Inbox, "2026-09-15-142009-logs-from-the-failed")
	if err != nil {
		t.Fatal(err)
	}
	if pathsOf(t, s, MailboxRef{a, "support"}, Inbox, m.ID).Bundle == "" || len(m.Frontmatter.Attachments) != 2 || m.Frontmatter.Attachments[1].Path != "health page.png" ||
		m.Frontmatter.Subject != `Logs from the "failed" deploy` {
		t.Errorf("bundle: %+v", m.Frontmatter)
	}
	m, err = s.Read(ctx, MailboxRef{a, "support"}, Inbox, "2026-09-14-180244-re-ticket-4821-expor")
	if err != nil || len(m.Frontmatter.Cc) != 2 || m.Frontmatter.To[0] != "Support <support@agent.example.com>" {
		t.Errorf("reply: %+v %v", m, err)
	}
	m, err = s.Read(ctx, MailboxRef{a, "support"}, Sent, "2026-09-15-075803-re-ticket-4821-expor")
	if err != nil || !m.Frontmatter.Outbound || m.Frontmatter.Date != "Tue, 15 Sep 2026 07:58:02 +0000" ||
		len(m.Frontmatter.References) != 2 || m.Frontmatter.Extra[0].Key != "delivered_at" ||
		!strings.HasPrefix(m.Body, "DKIM-Signature:") || int64(len(m.Body)) != m.Frontmatter.SizeBytes {
		t.Errorf("sent: %+v %v", m.Frontmatter, err)
	}
	m, err = s.Read(ctx, MailboxRef{a, "catchall"}, Inbox, "2026-09-15-093344-grüße-aus-münchen-an")
	if err != nil || m.Frontmatter.Mailbox != "catchall" {
		t.Errorf("unicode id: %+v %v", m, err)
	}
	exerciseRust(t, s, []rustBox{
		{MailboxRef{a, "support"}, Inbox, 6, 4},
		{MailboxRef{a, "catchall"}, Inbox, 3, 3},
		{MailboxRef{a, "billing"}, Inbox, 1, 1},
		{MailboxRef{a, "support"}, Sent, 3, 3},
		{MailboxRef{a, "billing"}, Sent, 0, 0},
		{MailboxRef{a, "catchall"}, Sent, 0, 0},
		{MailboxRef{o, "sales"}, Inbox, 1, 1},
		{MailboxRef{o, "catchall"}, Inbox, 1, 1},
		{MailboxRef{o, "sales"}, Sent, 1, 1},
	})
	// New mail lands beside the Rust mail with the book/storage.md format.
	st := putMsg(t, s, PutRequest{Mailbox: MailboxRef{a, "support"}, Frontmatter: inboundFM("New"), Body: "b"})
	if c, _ := s.Counts(ctx, MailboxRef{a, "support"}); c.Total != 7 || pathsOf(t, s, MailboxRef{a, "support"}, Inbox, st.ID).EML != "" {
		t.Errorf("after put: %+v", c)
	}
}

func TestRustV1Legacy(t *testing.T) {
	t.Parallel()
	data := copyRustData(t, "v1")
	before := snapshot(t, data)
	if _, err := Open(data, Options{}); !errors.Is(err, ErrLegacyLayout) {
		t.Fatalf("Open v1 = %v, want ErrLegacyLayout", err)
	}
	if _, err := OpenReadOnly(data); !errors.Is(err, ErrLegacyLayout) {
		t.Fatalf("OpenReadOnly v1 = %v, want ErrLegacyLayout", err)
	}
	if !equalSnap(before, snapshot(t, data)) {
		t.Fatal("opening a legacy layout wrote something")
	}
	// Move the trees as the §13 migration does (its message files are not
	// touched), then every v1 message must list, read and mark.
	domain := filepath.Join(data, "agent.example.com")
	if err := os.Mkdir(domain, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"inbox", "sent"} {
		if err := os.Rename(filepath.Join(data, d), filepath.Join(domain, d)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := "agent.example.com"
	exerciseRust(t, s, []rustBox{
		{MailboxRef{a, "support"}, Inbox, 5, 4},
		{MailboxRef{a, "catchall"}, Inbox, 2, 2},
		{MailboxRef{a, "billing"}, Inbox, 1, 1},
		{MailboxRef{a, "support"}, Sent, 3, 3},
	})
}
