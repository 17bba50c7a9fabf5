package storemove

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/storage"
)

func TestCopyFull(t *testing.T) {
	ctx := context.Background()
	src, dst := openFiles(t), openFiles(t)
	n := fill(t, src)
	var progress bytes.Buffer
	res, err := Copy(ctx, src, dst, Options{Mailboxes: mailboxes(), Progress: &progress, PageSize: 3})
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if res.Copied != n || res.Skipped != 0 || res.Mailboxes != 2 || res.Messages() != n {
		t.Errorf("copied %d, skipped %d, mailboxes %d, messages %d; want %d, 0, 2, %d", res.Copied, res.Skipped, res.Mailboxes, res.Messages(), n, n)
	}
	if len(res.Folders) != 8 {
		t.Errorf("%d folder checks, want 8", len(res.Folders))
	}
	for _, f := range res.Folders {
		if !f.OK() || f.SourceDigest == "" {
			t.Errorf("check %v not ok", f)
		}
	}
	sameMail(t, src, dst)
	out := progress.String()
	for _, want := range []string{
		"support@agent.example.com: 11 messages (inbox 6, sent 1, archive 1, trash 3)",
		"ops@other.example: 4 messages", "total 15", "verified ops@other.example: inbox 4 ok",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lacks %q:\n%s", want, out)
		}
	}

	// A second run finds everything there.
	res, err = Copy(ctx, src, dst, Options{Mailboxes: mailboxes()})
	if err != nil {
		t.Fatalf("second Copy: %v", err)
	}
	if res.Copied != 0 || res.Skipped != n {
		t.Errorf("second run copied %d, skipped %d; want 0, %d", res.Copied, res.Skipped, n)
	}
}

// TestCopyResumes interrupts a copy at every write in turn (a Put, or a
// Move of a message stored in its home folder on the way to the archive
// or the trash) and runs it again: the second run completes the copy.
func TestCopyResumes(t *testing.T) {
	ctx := context.Background()
	src := openFiles(t)
	n := fill(t, src)
	// Count the writes of a whole copy.
	probe := &faultyStore{MessageStore: openFiles(t)}
	if _, err := Copy(ctx, src, probe, Options{Mailboxes: mailboxes()}); err != nil {
		t.Fatal(err)
	}
	if probe.writes <= n {
		t.Fatalf("%d writes for %d messages: the moves are not counted", probe.writes, n)
	}
	for failAt := 1; failAt <= probe.writes; failAt++ {
		dst := openFiles(t)
		res, err := Copy(ctx, src, &faultyStore{MessageStore: dst, failAt: failAt}, Options{Mailboxes: mailboxes()})
		if !errors.Is(err, errInjected) {
			t.Fatalf("fail at write %d: Copy = %v, want the injected failure", failAt, err)
		}
		if res.Copied >= n {
			t.Fatalf("fail at write %d: copied %d of %d before failing", failAt, res.Copied, n)
		}
		if _, err := Verify(ctx, src, dst, Options{Mailboxes: mailboxes()}); err == nil {
			t.Fatalf("fail at write %d: a partial copy verifies", failAt)
		}
		res, err = Copy(ctx, src, dst, Options{Mailboxes: mailboxes()})
		if err != nil {
			t.Fatalf("fail at write %d: resumed Copy: %v", failAt, err)
		}
		if res.Copied+res.Skipped != n || res.Copied == 0 || len(res.Failed) != 0 {
			t.Errorf("fail at write %d: resumed run copied %d, skipped %d, failed %d (of %d)", failAt, res.Copied, res.Skipped, len(res.Failed), n)
		}
		sameMail(t, src, dst)
	}
}

func TestVerifyCatchesTampering(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		tamper func(t *testing.T, dst storage.MessageStore, id string)
		counts bool // the counts differ too
	}{
		{"body", func(t *testing.T, dst storage.MessageStore, id string) {
			swap(t, dst, id, rawOf("plain 1"), "tampered body\n")
		}, false},
		{"raw", func(t *testing.T, dst storage.MessageStore, id string) {
			swap(t, dst, id, []byte("From: mallory@example.com\r\n\r\nx\r\n"), "body of plain 1\n")
		}, false},
		{"missing", func(t *testing.T, dst storage.MessageStore, id string) {
			if _, err := dst.Delete(ctx, boxA, storage.Inbox, id); err != nil {
				t.Fatal(err)
			}
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, dst := openFiles(t), openFiles(t)
			fill(t, src)
			if _, err := Copy(ctx, src, dst, Options{Mailboxes: mailboxes()}); err != nil {
				t.Fatal(err)
			}
			id := folderIDs(t, src, boxA, storage.Inbox)[1] // "plain 1"
			tt.tamper(t, dst, id)
			checks, err := Verify(ctx, src, dst, Options{Mailboxes: mailboxes()})
			var mm *MismatchError
			if !errors.As(err, &mm) {
				t.Fatalf("Verify = %v, want a *MismatchError", err)
			}
			if len(mm.Folders) != 1 || mm.Folders[0].Mailbox != boxA || mm.Folders[0].Folder != storage.Inbox {
				t.Fatalf("mismatches %v, want support's inbox alone", mm.Folders)
			}
			if msg := err.Error(); !strings.Contains(msg, "support@agent.example.com inbox") || !strings.Contains(msg, id) {
				t.Errorf("error %q names neither the mailbox nor the message", msg)
			}
			bad := mm.Folders[0]
			if (bad.Source != bad.Target) != tt.counts || bad.SourceDigest == bad.TargetDigest {
				t.Errorf("check %+v", bad)
			}
			if len(checks) != 8 {
				t.Errorf("%d checks, want 8", len(checks))
			}
			// A copy run over it skips the tampered message (it is there)
			// but still fails its verification; a missing one is copied
			// (by a new process: see TestCopyTwinIDs).
			_, err = Copy(ctx, src, reopen(t, dst), Options{Mailboxes: mailboxes()})
			if tt.counts != (err == nil) {
				t.Errorf("Copy over the tampered target: %v", err)
			}
		})
	}
}

// swap replaces the inbox message id of the target by another with the
// same id. The file store keeps an id it gave out taken for its life, so
// the new one is put through a second store on the same data dir.
func swap(t *testing.T, s storage.MessageStore, id string, raw []byte, body string) {
	t.Helper()
	ctx := context.Background()
	m, err := s.Read(ctx, boxA, storage.Inbox, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, boxA, storage.Inbox, id); err != nil {
		t.Fatal(err)
	}
	again := reopen(t, s.(*storage.Store))
	if _, err := again.Put(ctx, storage.PutRequest{Mailbox: boxA, Folder: storage.Inbox, ID: id, Frontmatter: *m.Frontmatter, Raw: raw, Body: body}); err != nil {
		t.Fatal(err)
	}
}

// reopen opens a second file store on the data dir of s.
func reopen(t *testing.T, s *storage.Store) *storage.Store {
	t.Helper()
	again, err := storage.Open(s.Root(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { again.Close() })
	return again
}

// TestCopyTwinIDs: one id in the archive and, for another message, in the
// inbox (possible across restarts: a stem freed by a move is given out
// again). The file store keeps an id it gave out taken until it is opened
// again, so the first run cannot stage the archived one through the inbox
// and then store the inbox one: it reports that message, and a second run
// (a new process) copies it.
func TestCopyTwinIDs(t *testing.T) {
	ctx := context.Background()
	src := openFiles(t)
	if err := src.EnsureMailbox(ctx, boxA, nil); err != nil {
		t.Fatal(err)
	}
	req := storage.PutRequest{Mailbox: boxA, Folder: storage.Inbox, At: t0, Frontmatter: inbound("twin", t0), Raw: rawOf("twin"), Body: "first\n"}
	st, err := src.Put(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Move(ctx, boxA, storage.Inbox, storage.Archive, st.ID); err != nil {
		t.Fatal(err)
	}
	req.ID, req.Body, req.Raw = st.ID, "second\n", rawOf("the other twin")
	if _, err := reopen(t, src).Put(ctx, req); err != nil {
		t.Fatal(err)
	}
	opts := Options{Mailboxes: []storage.MailboxOwner{{Ref: boxA}}}
	dst := openFiles(t)
	res, err := Copy(ctx, src, dst, opts)
	var fe *FailedError
	if !errors.As(err, &fe) || len(fe.Failures) != 1 || fe.Failures[0].Folder != storage.Inbox || !errors.Is(fe.Failures[0].Err, storage.ErrExist) {
		t.Fatalf("first run: %v, want the inbox twin refused as taken", err)
	}
	if res.Copied != 1 {
		t.Errorf("first run copied %d, want 1", res.Copied)
	}
	res, err = Copy(ctx, src, reopen(t, dst), opts)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if res.Copied != 1 || res.Skipped != 1 {
		t.Errorf("second run copied %d, skipped %d; want 1, 1", res.Copied, res.Skipped)
	}
}

// TestCopySourceFailure: a message the source cannot give is reported and
// the rest is copied.
func TestCopySourceFailure(t *testing.T) {
	ctx := context.Background()
	files, dst := openFiles(t), openFiles(t)
	n := fill(t, files)
	bad := folderIDs(t, files, boxA, storage.Inbox)[0]
	src := &faultyStore{MessageStore: files, badRead: bad}
	var progress bytes.Buffer
	res, err := Copy(ctx, src, dst, Options{Mailboxes: mailboxes(), Progress: &progress})
	var fe *FailedError
	if !errors.As(err, &fe) || len(fe.Failures) != 1 || fe.Failures[0].ID != bad {
		t.Fatalf("Copy = %v, want one failure for %s", err, bad)
	}
	if res.Copied != n-1 {
		t.Errorf("copied %d, want %d", res.Copied, n-1)
	}
	if !strings.Contains(progress.String(), "not copied: support@agent.example.com/inbox/"+bad) {
		t.Errorf("progress does not name the failure:\n%s", progress.String())
	}
	var mm *MismatchError
	if !errors.As(err, &mm) {
		t.Errorf("the verification did not flag the folder: %v", err)
	}
}

func TestCopyRefusesBadMailbox(t *testing.T) {
	src, dst := openFiles(t), openFiles(t)
	_, err := Copy(context.Background(), src, dst, Options{Mailboxes: []storage.MailboxOwner{{Ref: storage.MailboxRef{Domain: "..", Local: "x"}}}})
	if !errors.Is(err, storage.ErrInvalidMailbox) {
		t.Fatalf("Copy = %v, want ErrInvalidMailbox", err)
	}
}

func TestDigest(t *testing.T) {
	ctx := context.Background()
	a, b := openFiles(t), openFiles(t)
	fill(t, a)
	fill(t, b)
	for _, folder := range storage.Folders {
		na, da, err := Digest(ctx, a, boxA, folder)
		if err != nil {
			t.Fatal(err)
		}
		nb, db, err := Digest(ctx, b, boxA, folder)
		if err != nil {
			t.Fatal(err)
		}
		// Two fills give the same ids (the same times and subjects) and bytes.
		if na != nb || da != db || na == 0 {
			t.Errorf("%s: %d %s vs %d %s", folder, na, da, nb, db)
		}
	}
	n, d, err := Digest(ctx, a, storage.MailboxRef{Domain: "agent.example.com", Local: "nobody"}, storage.Inbox)
	if err != nil || n != 0 || d == "" {
		t.Errorf("empty mailbox: %d %q %v", n, d, err)
	}
}

// forgetfulStore stores mail without its read state, labels or delivery
// state, as a target whose Put takes only what intake gives would.
type forgetfulStore struct{ storage.MessageStore }

func (f forgetfulStore) Put(ctx context.Context, req storage.PutRequest) (*storage.Stored, error) {
	fm := req.Frontmatter
	fm.Read, fm.ReadAt = false, time.Time{}
	fm.Extra = slices.DeleteFunc(slices.Clone(fm.Extra), func(x storage.Field) bool { return x.Key == "labels" })
	if fm.Outbound {
		fm.DeliveryStatus = "queued"
		fm.Recipients = []storage.Recipient{{Address: "bob@example.net", Status: "queued"}}
	}
	req.Frontmatter = fm
	return f.MessageStore.Put(ctx, req)
}

// TestCopySetsWhatPutForgets: read state, labels and delivery state are
// set after the Put when the target did not take them from it.
func TestCopySetsWhatPutForgets(t *testing.T) {
	ctx := context.Background()
	src, files := openFiles(t), openFiles(t)
	fill(t, src)
	dst := forgetfulStore{files}
	if _, err := Copy(ctx, src, dst, Options{Mailboxes: mailboxes()}); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, mb := range mailboxes() {
		for _, folder := range storage.Folders {
			for _, id := range folderIDs(t, src, mb.Ref, folder) {
				a, err := src.Read(ctx, mb.Ref, folder, id)
				if err != nil {
					t.Fatal(err)
				}
				b, err := files.Read(ctx, mb.Ref, folder, id)
				if err != nil {
					t.Fatal(err)
				}
				fa, fb := a.Frontmatter, b.Frontmatter
				if fa.Read != fb.Read || !slices.Equal(fa.Labels(), fb.Labels()) ||
					fa.DeliveryStatus != fb.DeliveryStatus || !sameRecipients(fa.Recipients, fb.Recipients) {
					t.Errorf("%s: read %v labels %v delivery %s %v; want %v %v %s %v", id, fb.Read, fb.Labels(),
						fb.DeliveryStatus, fb.Recipients, fa.Read, fa.Labels(), fa.DeliveryStatus, fa.Recipients)
				}
				if fa.Read || len(fa.Labels()) > 0 || fa.DeliveryStatus == "delivered" {
					checked++
				}
			}
		}
	}
	if checked < 2 {
		t.Fatalf("only %d messages with state to set: the fixture lost them", checked)
	}
}
