package storemove

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/storage"
)

var (
	boxA = storage.MailboxRef{Domain: "agent.example.com", Local: "support"}
	boxB = storage.MailboxRef{Domain: "other.example", Local: "ops"}
	t0   = time.Date(2026, 10, 7, 14, 45, 13, 0, time.UTC)
)

// mailboxes is the mailbox list the tests copy.
func mailboxes() []storage.MailboxOwner {
	return []storage.MailboxOwner{{Ref: boxA}, {Ref: boxB}}
}

// openFiles opens a file store in a fresh temp dir.
func openFiles(t *testing.T) *storage.Store {
	t.Helper()
	s, err := storage.Open(filepath.Join(t.TempDir(), "data"), storage.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func inbound(subject string, at time.Time) storage.Frontmatter {
	return storage.Frontmatter{
		MessageID: subject + "@example.com", ThreadID: "0123456789abcdef",
		From: "Alice <alice@example.com>", To: []string{"support@agent.example.com"},
		Subject: subject, Date: at.Format(time.RFC3339), ReceivedAt: at,
		DKIM: "pass", SPF: "pass", DMARC: "pass", Trusted: "true",
		HooksDue: []string{"triage"},
	}
}

func rawOf(subject string) []byte {
	return []byte("From: alice@example.com\r\nSubject: " + subject + "\r\n\r\nbody of " + subject + "\r\n")
}

// fill writes the test mail into s through the MessageStore interface
// and returns how many messages it holds: every folder, read and unread,
// labels, attachments, a message without an .eml, sent copies with a
// delivery state, and mail deleted from the inbox, the archive and sent.
func fill(t *testing.T, s storage.MessageStore) int {
	t.Helper()
	ctx := context.Background()
	for _, mb := range mailboxes() {
		if err := s.EnsureMailbox(ctx, mb.Ref, nil); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	put := func(ref storage.MailboxRef, folder storage.Folder, subject string, at time.Time, mod func(*storage.PutRequest)) string {
		t.Helper()
		req := storage.PutRequest{Mailbox: ref, Folder: folder, At: at, Frontmatter: inbound(subject, at),
			Raw: rawOf(subject), Body: "body of " + subject + "\n"}
		if mod != nil {
			mod(&req)
		}
		st, err := s.Put(ctx, req)
		if err != nil {
			t.Fatalf("put %s: %v", subject, err)
		}
		n++
		return st.ID
	}
	move := func(ref storage.MailboxRef, from, to storage.Folder, id string) {
		t.Helper()
		if _, err := s.Move(ctx, ref, from, to, id); err != nil {
			t.Fatalf("move %s: %v", id, err)
		}
	}
	sentCopy := func(r *storage.PutRequest) {
		r.Frontmatter.HooksDue = nil
		r.Frontmatter.ReceivedAt = time.Time{}
		r.Frontmatter.OutboundFormat = "markdown"
		r.Frontmatter.DeliveryStatus = "queued"
		r.Frontmatter.Recipients = []storage.Recipient{{Address: "bob@example.net", Status: "queued"}}
	}
	for i := range 3 {
		put(boxA, storage.Inbox, fmt.Sprintf("plain %d", i), t0.Add(time.Duration(i)*time.Minute), nil)
	}
	read := put(boxA, storage.Inbox, "read and labelled", t0.Add(time.Hour), nil)
	if _, err := s.SetRead(ctx, boxA, storage.Inbox, read, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetLabels(ctx, boxA, storage.Inbox, read, []string{"finance", "todo"}, nil); err != nil {
		t.Fatal(err)
	}
	put(boxA, storage.Inbox, "with files", t0.Add(2*time.Hour), func(r *storage.PutRequest) {
		r.Attachments = []storage.Attachment{
			{Filename: "report.pdf", ContentType: "application/pdf", Data: bytes.Repeat([]byte("%PDF"), 1000)},
			{Filename: "notes.txt", ContentType: "text/plain; charset=utf-8", Data: []byte("notes\n")},
		}
	})
	put(boxA, storage.Inbox, "no eml", t0.Add(3*time.Hour), func(r *storage.PutRequest) { r.Raw = nil })
	sent := put(boxA, storage.Sent, "a reply", t0.Add(4*time.Hour), sentCopy)
	if _, err := s.SetDelivery(ctx, boxA, sent, func([]storage.Recipient) (string, []storage.Recipient) {
		return "delivered", []storage.Recipient{{Address: "bob@example.net", Status: "delivered", Detail: "250 ok", Attempts: 1, TLS: "verified", UpdatedAt: t0.Add(5 * time.Hour)}}
	}); err != nil {
		t.Fatal(err)
	}
	gone := put(boxA, storage.Sent, "sent then deleted", t0.Add(5*time.Hour), sentCopy)
	move(boxA, storage.Sent, storage.Trash, gone)
	arch := put(boxA, storage.Inbox, "archived", t0.Add(6*time.Hour), nil)
	move(boxA, storage.Inbox, storage.Archive, arch)
	del := put(boxA, storage.Inbox, "deleted", t0.Add(7*time.Hour), nil)
	move(boxA, storage.Inbox, storage.Trash, del)
	delArch := put(boxA, storage.Inbox, "archived then deleted", t0.Add(8*time.Hour), nil)
	move(boxA, storage.Inbox, storage.Archive, delArch)
	move(boxA, storage.Archive, storage.Trash, delArch)
	for i := range 4 {
		put(boxB, storage.Inbox, fmt.Sprintf("ops %d", i), t0.Add(time.Duration(i)*time.Second), nil)
	}
	return n
}

// folderIDs lists every id of a folder, oldest first.
func folderIDs(t *testing.T, s storage.MessageStore, ref storage.MailboxRef, folder storage.Folder) []string {
	t.Helper()
	res, err := s.List(context.Background(), storage.ListQuery{Mailbox: ref, Folder: folder, Oldest: true, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range res.Messages {
		out = append(out, m.ID)
	}
	return out
}

// readAll returns a file of a message whole.
func readAll(t *testing.T, f *storage.MessageFile) []byte {
	t.Helper()
	defer f.Close()
	b, err := io.ReadAll(f.Reader())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameMail fails unless dst holds every message of src with the same id,
// folder, raw bytes, body, attachments, read state, labels, delivery
// state, hooks_due and trash origin.
func sameMail(t *testing.T, src, dst storage.MessageStore) {
	t.Helper()
	ctx := context.Background()
	for _, mb := range mailboxes() {
		for _, folder := range storage.Folders {
			ids := folderIDs(t, src, mb.Ref, folder)
			if got := folderIDs(t, dst, mb.Ref, folder); !slices.Equal(got, ids) {
				t.Fatalf("%s/%s: ids %v, want %v", mb.Ref, folder, got, ids)
			}
			for _, id := range ids {
				a, err := src.Read(ctx, mb.Ref, folder, id)
				if err != nil {
					t.Fatal(err)
				}
				b, err := dst.Read(ctx, mb.Ref, folder, id)
				if err != nil {
					t.Fatal(err)
				}
				fa, fb := a.Frontmatter, b.Frontmatter
				if a.Body != b.Body || fa.Read != fb.Read || !fa.ReadAt.Equal(fb.ReadAt) ||
					!slices.Equal(fa.Labels(), fb.Labels()) || fa.DeliveryStatus != fb.DeliveryStatus ||
					!sameRecipients(fa.Recipients, fb.Recipients) || !slices.Equal(fa.HooksDue, fb.HooksDue) ||
					!fa.ReceivedAt.Equal(fb.ReceivedAt) || fa.Subject != fb.Subject || fa.SizeBytes != fb.SizeBytes {
					t.Errorf("%s/%s/%s differs:\n src %+v %q\n dst %+v %q", mb.Ref, folder, id, fa, a.Body, fb, b.Body)
				}
				if _, fromA := storage.TrashInfo(fa); folder == storage.Trash {
					if _, fromB := storage.TrashInfo(fb); fromA != fromB {
						t.Errorf("%s: deleted from %q, want %q", id, fromB, fromA)
					}
				}
				ra, errA := src.OpenRaw(ctx, mb.Ref, folder, id)
				rb, errB := dst.OpenRaw(ctx, mb.Ref, folder, id)
				switch {
				case errors.Is(errA, storage.ErrNotFound):
					if !errors.Is(errB, storage.ErrNotFound) {
						t.Errorf("%s: the target has an .eml the source has not (%v)", id, errB)
					}
				case errA != nil || errB != nil:
					t.Fatalf("%s: open raw: %v, %v", id, errA, errB)
				default:
					if !bytes.Equal(readAll(t, ra), readAll(t, rb)) {
						t.Errorf("%s: raw bytes differ", id)
					}
				}
				if len(fa.Attachments) != len(fb.Attachments) {
					t.Fatalf("%s: %d attachments, want %d", id, len(fb.Attachments), len(fa.Attachments))
				}
				for i, att := range fa.Attachments {
					if fb.Attachments[i].Filename != att.Filename || fb.Attachments[i].ContentType != att.ContentType {
						t.Errorf("%s: attachment %+v, want %+v", id, fb.Attachments[i], att)
					}
					xa, err := src.OpenAttachment(ctx, mb.Ref, folder, id, att.Filename)
					if err != nil {
						t.Fatal(err)
					}
					xb, err := dst.OpenAttachment(ctx, mb.Ref, folder, id, att.Filename)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(readAll(t, xa.MessageFile), readAll(t, xb.MessageFile)) {
						t.Errorf("%s: attachment %s differs", id, att.Filename)
					}
				}
			}
		}
	}
}

// faultyStore fails its writes (Put and Move) from the failAt-th on, as a
// crash or a lost database would, and can refuse to read one id.
type faultyStore struct {
	storage.MessageStore
	mu      sync.Mutex
	writes  int
	failAt  int    // 0: never
	badRead string // Read of this id fails
}

var errInjected = errors.New("injected failure")

func (f *faultyStore) write() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	if f.failAt > 0 && f.writes >= f.failAt {
		return errInjected
	}
	return nil
}

func (f *faultyStore) Put(ctx context.Context, req storage.PutRequest) (*storage.Stored, error) {
	if err := f.write(); err != nil {
		return nil, err
	}
	return f.MessageStore.Put(ctx, req)
}

func (f *faultyStore) Move(ctx context.Context, ref storage.MailboxRef, from, to storage.Folder, id string) (*storage.Frontmatter, error) {
	if err := f.write(); err != nil {
		return nil, err
	}
	return f.MessageStore.Move(ctx, ref, from, to, id)
}

func (f *faultyStore) Read(ctx context.Context, ref storage.MailboxRef, folder storage.Folder, id string) (*storage.Message, error) {
	if id == f.badRead {
		return nil, fmt.Errorf("read %s: %w", id, errInjected)
	}
	return f.MessageStore.Read(ctx, ref, folder, id)
}
