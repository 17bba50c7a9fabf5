package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// testClock is a store clock the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func TestPurgeTrash(t *testing.T) {
	t.Parallel()
	clock := &testClock{now: t0}
	s, dir := openTestStore(t, Options{Now: clock.Now})
	ctx := context.Background()
	old := putMoveMsg(t, s, "old", moveCases["bundle"])
	recent := putMoveMsg(t, s, "recent", nil)
	kept := putMoveMsg(t, s, "kept in the inbox", nil)
	day := 24 * time.Hour
	if _, err := s.Move(ctx, testRef, Inbox, Trash, old); err != nil {
		t.Fatal(err)
	}
	clock.Set(t0.Add(10 * day))
	if _, err := s.Move(ctx, testRef, Inbox, Trash, recent); err != nil {
		t.Fatal(err)
	}
	// Nothing was deleted before t0: nothing goes.
	if n, err := s.PurgeTrash(ctx, testRef, t0); err != nil || n != 0 {
		t.Fatalf("purge at t0 = %d, %v", n, err)
	}
	// The first was deleted at t0, the second ten days later.
	if n, err := s.PurgeTrash(ctx, testRef, t0.Add(5*day)); err != nil || n != 1 {
		t.Fatalf("purge at t0+5d = %d, %v", n, err)
	}
	if got := listIDs(t, s, Trash); !slices.Equal(got, []string{recent}) {
		t.Fatalf("trash after purge = %v", got)
	}
	if got := listIDs(t, s, Inbox); !slices.Equal(got, []string{kept}) {
		t.Fatalf("the purge touched the inbox: %v", got)
	}
	// The next expiry is remembered: a purge before it reads nothing,
	// even when a file under it has gone bad behind the store's back.
	md := filepath.Join(dir, testRef.Domain, "trash", testRef.Local, recent+".md")
	good, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(md, []byte("not a message"), 0o640); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PurgeTrash(ctx, testRef, t0.Add(9*day)); err != nil || n != 0 {
		t.Fatalf("purge before the next expiry = %d, %v", n, err)
	}
	if err := os.WriteFile(md, good, 0o640); err != nil {
		t.Fatal(err)
	}
	// A message moved in meanwhile is seen by the next purge.
	clock.Set(t0.Add(11 * day))
	if _, err := s.Move(ctx, testRef, Inbox, Trash, kept); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PurgeTrash(ctx, testRef, t0.Add(30*day)); err != nil || n != 2 {
		t.Fatalf("purge at t0+30d = %d, %v", n, err)
	}
	if got := listIDs(t, s, Trash); len(got) != 0 {
		t.Fatalf("trash after the last purge = %v", got)
	}
	// An empty or missing trash purges nothing.
	if n, err := s.PurgeTrash(ctx, MailboxRef{Domain: "agent.example.com", Local: "nobody"}, t0.Add(99*day)); err != nil || n != 0 {
		t.Fatalf("purge of a missing trash = %d, %v", n, err)
	}
}

// A trash message without deleted_at (a crash between the move and its
// bookkeeping, or put there by hand) is stamped by the purge and kept a
// full period from then; restoring it sends received mail to the inbox.
func TestPurgeStampsUnstampedTrash(t *testing.T) {
	t.Parallel()
	clock := &testClock{now: t0}
	w, _ := faultAt(-1)
	s, _ := openTestStore(t, Options{Now: clock.Now, Writer: w})
	ctx := context.Background()
	id := putMoveMsg(t, s, "unstamped", nil)
	// Crash the bookkeeping write (the first step after the move's own).
	calls := 0
	w.Fault = func(step Step, path string) error {
		if step == StepCreateTemp {
			calls++
			return errCrash
		}
		return nil
	}
	fm, err := s.Move(ctx, testRef, Inbox, Trash, id)
	w.Fault = nil
	if err != nil || calls != 1 {
		t.Fatalf("move with its bookkeeping cut short: %v (%d)", err, calls)
	}
	if at, _ := TrashInfo(fm); !at.IsZero() {
		t.Fatalf("stamped although the write crashed: %v", at)
	}
	clock.Set(t0.Add(100 * 24 * time.Hour))
	if n, err := s.PurgeTrash(ctx, testRef, clock.Now().Add(-DefaultTrashRetention)); err != nil || n != 0 {
		t.Fatalf("purge removed an unstamped message: %d, %v", n, err)
	}
	m, err := s.Read(ctx, testRef, Trash, id)
	if err != nil {
		t.Fatal(err)
	}
	if at, _ := TrashInfo(m.Frontmatter); !at.Equal(clock.Now()) || RestoreFolder(m.Frontmatter) != Inbox {
		t.Fatalf("stamp = %v, restore to %s", at, RestoreFolder(m.Frontmatter))
	}
	if n, err := s.PurgeTrash(ctx, testRef, clock.Now().Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("purge after the stamp = %d, %v", n, err)
	}
}

func TestOpenAttachment(t *testing.T) {
	t.Parallel()
	s, dir := openTestStore(t, Options{})
	ctx := context.Background()
	atts := []Attachment{
		{Filename: "report.txt", ContentType: "text/plain; charset=utf-8", Data: []byte("the report")},
		{Filename: "Photo.PNG", ContentType: "image/png", Data: []byte{0x89, 'P', 'N', 'G'}},
		{Filename: "../../etc/passwd", ContentType: "text/plain", Data: []byte("not a passwd")},
	}
	id := putMsg(t, s, PutRequest{Frontmatter: inboundFM("files"), Body: "b", Attachments: atts}).ID
	flat := putMsg(t, s, PutRequest{Frontmatter: inboundFM("flat"), Body: "b"}).ID
	for name, want := range map[string]string{"report.txt": "the report", "photo.png": "\x89PNG", "passwd": "not a passwd"} {
		f, err := s.OpenAttachment(ctx, testRef, Inbox, id, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b := make([]byte, f.Size())
		if _, err := f.ReadAt(b, 0); err != nil || string(b) != want || f.Info.Size != int64(len(want)) || f.Message.Subject != "files" {
			t.Fatalf("%s = %q (%+v), %v", name, b, f.Info, err)
		}
		f.Close()
	}
	for _, name := range []string{"missing.txt", "../../etc/passwd", id + ".md", id + ".eml", ""} {
		if _, err := s.OpenAttachment(ctx, testRef, Inbox, id, name); !errors.Is(err, ErrNoAttachment) {
			t.Errorf("%q: %v, want ErrNoAttachment", name, err)
		}
	}
	if _, err := s.OpenAttachment(ctx, testRef, Inbox, flat, "report.txt"); !errors.Is(err, ErrNoAttachment) {
		t.Errorf("flat message: %v", err)
	}
	// A frontmatter edited to point outside the bundle opens nothing.
	bundle := filepath.Join(dir, testRef.Domain, "inbox", testRef.Local, id)
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	mdPath := filepath.Join(bundle, id+".md")
	md := readFile(t, mdPath)
	edited := []byte(strings.Replace(md, `path = "report.txt"`, `path = "../../../../secret"`, 1))
	if err := os.WriteFile(mdPath, edited, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenAttachment(ctx, testRef, Inbox, id, "report.txt"); !errors.Is(err, ErrNoAttachment) {
		t.Fatalf("path outside the bundle: %v", err)
	}
	// A symlink in place of an attachment file is never followed.
	if err := os.Remove(filepath.Join(bundle, "Photo.PNG")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(bundle, "Photo.PNG")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenAttachment(ctx, testRef, Inbox, id, "Photo.PNG"); !errors.Is(err, ErrNoAttachment) {
		t.Fatalf("symlinked attachment: %v", err)
	}
}
