package storage

import (
	"context"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// fixtureRoot is the Rust install fixtures, kept in the repo
// (testdata/fixtures/README.md).
var fixtureRoot = filepath.Join("..", "testdata", "fixtures", "rust-install")

var testRef = MailboxRef{Domain: "agent.example.com", Local: "support"}

// fixedClock returns a clock that reads t.
func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

var t0 = time.Date(2026, 10, 7, 14, 45, 13, 0, time.UTC)

func openTestStore(t testing.TB, opts Options) (*Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if opts.Now == nil {
		opts.Now = fixedClock(t0)
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s, dir
}

// inboundFM is a typical inbound frontmatter as the intake would pass it.
func inboundFM(subject string) Frontmatter {
	return Frontmatter{
		MessageID:   "abc@example.com",
		ThreadID:    "0123456789abcdef",
		From:        "Alice <alice@example.com>",
		To:          []string{"support@agent.example.com"},
		DeliveredTo: "support@agent.example.com",
		Subject:     subject,
		Date:        "2026-10-07T16:45:10+02:00",
		ReceivedAt:  t0,
		DKIM:        "pass", SPF: "pass", DMARC: "pass", Trusted: "true",
	}
}

func putMsg(t testing.TB, s *Store, req PutRequest) *Stored {
	t.Helper()
	if req.Mailbox == (MailboxRef{}) {
		req.Mailbox = testRef
	}
	if req.Folder == "" {
		req.Folder = Inbox
	}
	st, err := s.Put(context.Background(), req)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	return st
}

// copyTree copies a fixture tree; modes are set by the caller.
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o600)
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}

// snapshot maps every path under root to its content ("<dir>" for dirs),
// to prove an operation wrote nothing.
func snapshot(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, _ := d.Info()
		if d.IsDir() {
			out[p] = "<dir> " + fi.Mode().String()
			return nil
		}
		b, _ := os.ReadFile(p)
		out[p] = fi.Mode().String() + " " + string(b)
		return nil
	})
	return out
}

func equalSnap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func readFileBytes(p string) ([]byte, error) { return os.ReadFile(p) }

// pathsOf is where the file store keeps a stored message.
func pathsOf(t testing.TB, s *Store, ref MailboxRef, folder Folder, id string) MessagePaths {
	t.Helper()
	if ref == (MailboxRef{}) {
		ref = testRef
	}
	if folder == "" {
		folder = Inbox
	}
	p, err := s.Paths(ref, folder, id)
	if err != nil {
		t.Fatalf("Paths %s: %v", id, err)
	}
	return p
}
