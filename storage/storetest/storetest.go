// Package storetest is the conformance suite of storage.MessageStore: one
// set of tests every message store passes, the file store
// (*storage.Store, the reference implementation) and the PostgreSQL store
// alike (book/architecture.md, "The interfaces a backend implements").
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/storage"
)

// Run runs every conformance test; open returns a fresh, empty store for
// one subtest (it registers its own cleanup).
func Run(t *testing.T, open func(t *testing.T) storage.MessageStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.MessageStore)
	}{
		{"Mailbox", testMailbox},
		{"RemoveMailbox", testRemoveMailbox},
		{"RemoveDomain", testRemoveDomain},
		{"Put", testPut},
		{"PutIDs", testPutIDs},
		{"PutRefused", testPutRefused},
		{"PutStreaming", testPutStreaming},
		{"List", testList},
		{"ListPaging", testListPaging},
		{"ListFilters", testListFilters},
		{"ListSameSecond", testListSameSecond},
		{"Read", testRead},
		{"SetRead", testSetRead},
		{"SetDelivery", testSetDelivery},
		{"Counts", testCounts},
		{"Move", testMove},
		{"MoveRefused", testMoveRefused},
		{"Delete", testDelete},
		{"PurgeTrash", testPurgeTrash},
		{"SetLabels", testSetLabels},
		{"OpenAttachment", testOpenAttachment},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

// Ref is the mailbox most tests use; Other is a second one.
var (
	Ref   = storage.MailboxRef{Domain: "agent.example.com", Local: "support"}
	Other = storage.MailboxRef{Domain: "agent.example.com", Local: "sales"}
)

// T0 is the receipt time tests start from.
var T0 = time.Date(2026, 10, 7, 14, 45, 13, 0, time.UTC)

// Inbound is a typical inbound frontmatter as intake passes it, received
// at at.
func Inbound(subject string, at time.Time) storage.Frontmatter {
	return storage.Frontmatter{
		MessageID:   "abc@example.com",
		ThreadID:    "0123456789abcdef",
		From:        "Alice <alice@example.com>",
		To:          []string{"support@agent.example.com"},
		DeliveredTo: "support@agent.example.com",
		Subject:     subject,
		Date:        "2026-10-07T16:45:10+02:00",
		ReceivedAt:  at,
		DKIM:        "pass", SPF: "pass", DMARC: "pass", Trusted: storage.TrustedTrue,
		HooksDue: []string{"notify"},
	}
}

// sentFM is a sent copy's frontmatter.
func sentFM(subject string) storage.Frontmatter {
	return storage.Frontmatter{
		MessageID: "sent-" + subject + "@agent.example.com",
		ThreadID:  "fedcba9876543210",
		From:      "support@agent.example.com",
		To:        []string{"bob@example.net", "carol@example.org"},
		Subject:   subject,
		Date:      "2026-10-07T14:45:13Z",
		DKIM:      "none", SPF: "none", DMARC: "none", Trusted: storage.TrustedNone,
		OutboundFormat: "markdown",
		DeliveryStatus: "queued",
		Recipients: []storage.Recipient{
			{Address: "bob@example.net", Status: "queued"},
			{Address: "carol@example.org", Status: "queued"},
		},
	}
}

// rawOf is a small .eml.
func rawOf(subject string) []byte {
	return []byte("From: alice@example.com\r\nSubject: " + subject + "\r\n\r\nhello " + subject + "\r\n")
}

// inboxReq is an inbox Put received at at with a raw message and a body.
func inboxReq(ref storage.MailboxRef, subject string, at time.Time) storage.PutRequest {
	return storage.PutRequest{
		Mailbox: ref, Folder: storage.Inbox, At: at,
		Raw: rawOf(subject), Frontmatter: Inbound(subject, at), Body: "Hello, " + subject + ".\n",
	}
}

// StoredBody is the body a message reads back with: the body given, with
// the one "\n" the .md format ends it with (storage.EncodeMD).
func StoredBody(body string) string {
	if strings.HasSuffix(body, "\n") {
		return body
	}
	return body + "\n"
}

func put(t *testing.T, s storage.MessageStore, req storage.PutRequest) *storage.Stored {
	t.Helper()
	st, err := s.Put(context.Background(), req)
	if err != nil {
		t.Fatalf("Put %q: %v", req.Frontmatter.Subject, err)
	}
	return st
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}

// reader returns a function reading a whole opened message file.
func reader(t *testing.T) func(f *storage.MessageFile, err error) []byte {
	return func(f *storage.MessageFile, err error) []byte {
		t.Helper()
		return readAll(t, f, err)
	}
}

// readAttachment reads a whole opened attachment.
func readAttachment(t *testing.T, f *storage.AttachmentFile, err error) []byte {
	t.Helper()
	if err != nil {
		t.Fatalf("open attachment: %v", err)
	}
	return readAll(t, f.MessageFile, nil)
}

func readAll(t *testing.T, f *storage.MessageFile, err error) []byte {
	t.Helper()
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer f.Close()
	b, err := io.ReadAll(f.Reader())
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if int64(len(b)) != f.Size() {
		t.Fatalf("read %d bytes, Size() = %d", len(b), f.Size())
	}
	return b
}

func read(t *testing.T, s storage.MessageStore, ref storage.MailboxRef, folder storage.Folder, id string) *storage.Message {
	t.Helper()
	m, err := s.Read(context.Background(), ref, folder, id)
	if err != nil {
		t.Fatalf("Read %s/%s %s: %v", ref, folder, id, err)
	}
	return m
}

func list(t *testing.T, s storage.MessageStore, q storage.ListQuery) *storage.ListResult {
	t.Helper()
	if q.Mailbox == (storage.MailboxRef{}) {
		q.Mailbox = Ref
	}
	res, err := s.List(context.Background(), q)
	if err != nil {
		t.Fatalf("List %+v: %v", q, err)
	}
	return res
}

func ids(res *storage.ListResult) []string {
	out := make([]string, len(res.Messages))
	for i, m := range res.Messages {
		out[i] = m.ID
	}
	return out
}

func sameIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: ids = %q, want %q", what, got, want)
	}
}

// sameFM compares two frontmatters by their encoded bytes.
func sameFM(t *testing.T, what string, got, want *storage.Frontmatter) {
	t.Helper()
	g, w := storage.EncodeFrontmatter(got), storage.EncodeFrontmatter(want)
	if !bytes.Equal(g, w) {
		t.Fatalf("%s: frontmatter\n%s\nwant\n%s", what, g, w)
	}
}

func testMailbox(t *testing.T, s storage.MessageStore) {
	ctx := context.Background()
	for range 2 { // idempotent
		if err := s.EnsureMailbox(ctx, Ref, nil); err != nil {
			t.Fatalf("EnsureMailbox: %v", err)
		}
	}
	for _, bad := range []storage.MailboxRef{
		{Domain: "agent.example.com", Local: "../x"},
		{Domain: "..", Local: "support"},
		{Domain: "Agent.example.com", Local: "support"},
		{Domain: "agent.example.com", Local: ""},
	} {
		wantErr(t, fmt.Sprintf("EnsureMailbox(%+v)", bad), s.EnsureMailbox(ctx, bad, nil), storage.ErrInvalidMailbox)
		_, err := s.List(ctx, storage.ListQuery{Mailbox: bad})
		wantErr(t, fmt.Sprintf("List(%+v)", bad), err, storage.ErrInvalidMailbox)
	}
	for _, ref := range []storage.MailboxRef{Ref, Other} { // ensured, and never seen
		res := list(t, s, storage.ListQuery{Mailbox: ref})
		if res.Total != 0 || len(res.Messages) != 0 || res.NextCursor != "" {
			t.Fatalf("List of empty %s = %+v", ref, res)
		}
		c, err := s.Counts(ctx, ref)
		if err != nil || c != (storage.Counts{}) {
			t.Fatalf("Counts of empty %s = %+v, %v", ref, c, err)
		}
	}
}

// bundleReq is an inbox Put with a raw message and two attachments.
func bundleReq(ref storage.MailboxRef, subject string, at time.Time) storage.PutRequest {
	req := inboxReq(ref, subject, at)
	req.Attachments = []storage.Attachment{
		{Filename: "report.pdf", ContentType: "Application/PDF; name=report.pdf", Data: []byte("%PDF-1.4 one")},
		{Filename: "../report.pdf", ContentType: "", Data: []byte("%PDF-1.4 two")},
	}
	return req
}

func testRemoveMailbox(t *testing.T, s storage.MessageStore) {
	ctx := context.Background()
	flat := put(t, s, inboxReq(Ref, "flat", T0))
	put(t, s, bundleReq(Ref, "bundle", T0.Add(time.Second)))
	sent := put(t, s, storage.PutRequest{Mailbox: Ref, Folder: storage.Sent, At: T0, Frontmatter: sentFM("out"), Body: "out"})
	kept := put(t, s, inboxReq(Other, "other", T0))
	if _, err := s.Move(ctx, Ref, storage.Inbox, storage.Archive, flat.ID); err != nil {
		t.Fatalf("Move: %v", err)
	}
	// Files: flat .md+.eml, bundle .md+.eml+2 attachments, sent .md.
	n, err := s.RemoveMailbox(ctx, Ref)
	if err != nil || n != 7 {
		t.Fatalf("RemoveMailbox = %d, %v; want 7", n, err)
	}
	for _, f := range []storage.Folder{storage.Inbox, storage.Archive, storage.Sent} {
		if res := list(t, s, storage.ListQuery{Folder: f}); res.Total != 0 {
			t.Fatalf("%s after RemoveMailbox: %v", f, ids(res))
		}
	}
	_, err = s.Read(ctx, Ref, storage.Sent, sent.ID)
	wantErr(t, "Read after RemoveMailbox", err, storage.ErrNotFound)
	read(t, s, Other, storage.Inbox, kept.ID)
	if n, err := s.RemoveMailbox(ctx, Ref); err != nil || n != 0 {
		t.Fatalf("second RemoveMailbox = %d, %v", n, err)
	}
	// Mail arrives again: the mailbox is set up again by the Put.
	again := put(t, s, inboxReq(Ref, "again", T0))
	read(t, s, Ref, storage.Inbox, again.ID)
	_, err = s.RemoveMailbox(ctx, storage.MailboxRef{Domain: "agent.example.com", Local: "a/b"})
	wantErr(t, "RemoveMailbox(bad)", err, storage.ErrInvalidMailbox)
}

func testRemoveDomain(t *testing.T, s storage.MessageStore) {
	ctx := context.Background()
	far := storage.MailboxRef{Domain: "other.example.net", Local: "support"}
	put(t, s, inboxReq(Ref, "one", T0))
	put(t, s, inboxReq(Other, "two", T0))
	kept := put(t, s, inboxReq(far, "three", T0))
	if _, err := s.RemoveMailbox(ctx, Other); err != nil {
		t.Fatalf("RemoveMailbox: %v", err)
	}
	n, err := s.RemoveDomain(ctx, Ref.Domain)
	if err != nil || n != 2 {
		t.Fatalf("RemoveDomain = %d, %v; want 2 (.md and .eml left in %s)", n, err, Ref)
	}
	if res := list(t, s, storage.ListQuery{}); res.Total != 0 {
		t.Fatalf("inbox after RemoveDomain: %v", ids(res))
	}
	read(t, s, far, storage.Inbox, kept.ID)
	if n, err := s.RemoveDomain(ctx, "never.example.com"); err != nil || n != 0 {
		t.Fatalf("RemoveDomain of an unknown domain = %d, %v", n, err)
	}
	_, err = s.RemoveDomain(ctx, "../etc")
	wantErr(t, "RemoveDomain(bad)", err, storage.ErrInvalidMailbox)
}
