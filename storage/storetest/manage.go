package storetest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/storage"
)

func testRead(t *testing.T, s storage.MessageStore) {
	ctx := context.Background()
	st := put(t, s, inboxReq(Ref, "read me", T0))
	tests := []struct {
		name   string
		ref    storage.MailboxRef
		folder storage.Folder
		id     string
		want   error
	}{
		{"missing id", Ref, storage.Inbox, "2026-01-01-000000-nothing", storage.ErrNotFound},
		{"other folder", Ref, storage.Archive, st.ID, storage.ErrNotFound},
		{"other mailbox", Other, storage.Inbox, st.ID, storage.ErrNotFound},
		{"traversal id", Ref, storage.Inbox, "../sent/" + st.ID, storage.ErrInvalidID},
		{"dot id", Ref, storage.Inbox, "..", storage.ErrInvalidID},
		{"empty id", Ref, storage.Inbox, "", storage.ErrInvalidID},
		{"bad folder", Ref, "../inbox", st.ID, storage.ErrInvalidFolder},
		{"bad mailbox", storage.MailboxRef{Domain: "x", Local: "support"}, storage.Inbox, st.ID, storage.ErrInvalidMailbox},
	}
	for _, tc := range tests {
		_, err := s.Read(ctx, tc.ref, tc.folder, tc.id)
		wantErr(t, "Read "+tc.name, err, tc.want)
		_, err = s.OpenMD(ctx, tc.ref, tc.folder, tc.id)
		wantErr(t, "OpenMD "+tc.name, err, tc.want)
		_, err = s.OpenRaw(ctx, tc.ref, tc.folder, tc.id)
		wantErr(t, "OpenRaw "+tc.name, err, tc.want)
		_, err = s.SetRead(ctx, tc.ref, tc.folder, tc.id, true)
		wantErr(t, "SetRead "+tc.name, err, tc.want)
		_, err = s.Delete(ctx, tc.ref, tc.folder, tc.id)
		wantErr(t, "Delete "+tc.name, err, tc.want)
	}
	read(t, s, Ref, storage.Inbox, st.ID) // still there
}

func testSetRead(t *testing.T, s storage.MessageStore) {
	ctx := context.Background()
	st := put(t, s, inboxReq(Ref, "unread", T0))
	fm, err := s.SetRead(ctx, Ref, storage.Inbox, st.ID, true)
	if err != nil || !fm.Read || fm.ReadAt.IsZero() {
		t.Fatalf("SetRead(true) = %+v, %v", fm, err)
	}
	m := read(t, s, Ref, storage.Inbox, st.ID)
	sameFM(t, "after SetRead(true)", m.Frontmatter, fm)
	want := st.Frontmatter
	want.Read, want.ReadAt = true, fm.ReadAt
	sameFM(t, "only the read state changed", m.Frontmatter, &want)
	if m.Body != StoredBody(inboxReq(Ref, "unread", T0).Body) {
		t.Fatalf("body changed: %q", m.Body)
	}
	if c, _ := s.Counts(ctx, Ref); c.Unread != 0 || c.Total != 1 {
		t.Fatalf("Counts after SetRead(true) = %+v", c)
	}
	again, err := s.SetRead(ctx, Ref, storage.Inbox, st.ID, true)
	if err != nil || !again.ReadAt.Equal(fm.ReadAt) {
		t.Fatalf("SetRead(true) again = %+v, %v; read_at must stay", again, err)
	}
	fm, err = s.SetRead(ctx, Ref, storage.Inbox, st.ID, false)
	if err != nil || fm.Read || !fm.ReadAt.IsZero() {
		t.Fatalf("SetRead(false) = %+v, %v", fm, err)
	}
	sameFM(t, "after SetRead(false)", read(t, s, Ref, storage.Inbox, st.ID).Frontmatter, &st.Frontmatter)
	if res := list(t, s, storage.ListQuery{Unread: true}); res.Total != 1 {
		t.Fatalf("unread after SetRead(false): %d", res.Total)
	}
}

func testSetDelivery(t *testing.T, s storage.MessageStore) {
	ctx := context.Background()
	st := put(t, s, storage.PutRequest{Mailbox: Ref, Folder: storage.Sent, At: T0, Raw: rawOf("out"),
		Frontmatter: sentFM("out"), Body: "signed\n"})
	at := time.Date(2026, 10, 7, 15, 0, 0, 0, time.UTC)
	fm, err := s.SetDelivery(ctx, Ref, st.ID, func(cur []storage.Recipient) (string, []storage.Recipient) {
		if len(cur) != 2 || cur[0].Status != "queued" {
			t.Errorf("update got %+v", cur)
		}
		cur[0].Status, cur[0].Attempts, cur[0].UpdatedAt, cur[0].TLS = "delivered", 1, at, "verified"
		cur[1].Status, cur[1].Attempts, cur[1].Detail = "deferred", 1, "451 4.7.1 try later"
		return "deferred", cur
	})
	if err != nil || fm.DeliveryStatus != "deferred" {
		t.Fatalf("SetDelivery = %+v, %v", fm, err)
	}
	want := st.Frontmatter
	want.DeliveryStatus = "deferred"
	want.Recipients = []storage.Recipient{
		{Address: "bob@example.net", Status: "delivered", Attempts: 1, UpdatedAt: at, TLS: "verified"},
		{Address: "carol@example.org", Status: "deferred", Attempts: 1, Detail: "451 4.7.1 try later"},
	}
	sameFM(t, "SetDelivery result", fm, &want)
	m := read(t, s, Ref, storage.Sent, st.ID)
	sameFM(t, "after SetDelivery", m.Frontmatter, &want)
	if m.Body != "signed\n" {
		t.Fatalf("body changed: %q", m.Body)
	}
	if raw := reader(t)(s.OpenRaw(ctx, Ref, storage.Sent, st.ID)); !bytes.Equal(raw, rawOf("out")) {
		t.Fatalf("raw changed: %q", raw)
	}
	noop := func(cur []storage.Recipient) (string, []storage.Recipient) { return "delivered", cur }
	in := put(t, s, inboxReq(Ref, "in", T0))
	_, err = s.SetDelivery(ctx, Ref, in.ID, noop)
	wantErr(t, "SetDelivery of an inbox id", err, storage.ErrNotFound)
	_, err = s.SetDelivery(ctx, Ref, "../x", noop)
	wantErr(t, "SetDelivery of a bad id", err, storage.ErrInvalidID)
}

func testCounts(t *testing.T, s storage.MessageStore) {
	ctx := context.Background()
	ids := fill(t, s, 3)
	for i := range 2 {
		put(t, s, storage.PutRequest{Mailbox: Ref, Folder: storage.Sent, At: T0.Add(time.Duration(i) * time.Second),
			Frontmatter: sentFM(fmt.Sprint("out", i))})
	}
	put(t, s, inboxReq(Other, "other", T0))
	if _, err := s.SetRead(ctx, Ref, storage.Inbox, ids[0], true); err != nil {
		t.Fatalf("SetRead: %v", err)
	}
	if _, err := s.Move(ctx, Ref, storage.Inbox, storage.Archive, ids[1]); err != nil {
		t.Fatalf("Move: %v", err)
	}
	c, err := s.Counts(ctx, Ref)
	if want := (storage.Counts{Total: 2, Unread: 1, Sent: 2}); err != nil || c != want {
		t.Fatalf("Counts = %+v, %v; want %+v", c, err, want)
	}
	_, err = s.Counts(ctx, storage.MailboxRef{Domain: "agent.example.com", Local: "../x"})
	wantErr(t, "Counts of a bad mailbox", err, storage.ErrInvalidMailbox)
}

func testSetLabels(t *testing.T, s storage.MessageStore) {
	ctx := context.Background()
	st := put(t, s, inboxReq(Ref, "labelled", T0))
	steps := []struct {
		add, remove []string
		want        []string
	}{
		{[]string{"Invoices", " later "}, nil, []string{"invoices", "later"}},
		{[]string{"INVOICES"}, nil, []string{"invoices", "later"}},
		{nil, []string{"LATER"}, []string{"invoices"}},
		{[]string{"a"}, []string{"a", "nothing"}, []string{"invoices"}},
		{nil, []string{"invoices"}, nil},
	}
	for i, step := range steps {
		fm, err := s.SetLabels(ctx, Ref, storage.Inbox, st.ID, step.add, step.remove)
		if err != nil || fmt.Sprint(fm.Labels()) != fmt.Sprint(step.want) {
			t.Fatalf("step %d: labels %q, %v; want %q", i, fm.Labels(), err, step.want)
		}
		m := read(t, s, Ref, storage.Inbox, st.ID)
		if fmt.Sprint(m.Frontmatter.Labels()) != fmt.Sprint(step.want) {
			t.Fatalf("step %d: read back %q", i, m.Frontmatter.Labels())
		}
	}
	// With every label gone the frontmatter is as stored.
	sameFM(t, "labels removed", read(t, s, Ref, storage.Inbox, st.ID).Frontmatter, &st.Frontmatter)
	for _, bad := range [][]string{{""}, {"bad\u202elabel"}, {strings.Repeat("x", storage.MaxLabelChars+1)}} {
		_, err := s.SetLabels(ctx, Ref, storage.Inbox, st.ID, bad, nil)
		wantErr(t, fmt.Sprintf("SetLabels(%q)", bad), err, storage.ErrInvalidLabel)
	}
	many := make([]string, storage.MaxLabels+1)
	for i := range many {
		many[i] = fmt.Sprint("l", i)
	}
	_, err := s.SetLabels(ctx, Ref, storage.Inbox, st.ID, many, nil)
	wantErr(t, "too many labels", err, storage.ErrInvalidLabel)
	if l := read(t, s, Ref, storage.Inbox, st.ID).Frontmatter.Labels(); len(l) != 0 {
		t.Fatalf("refused SetLabels wrote %q", l)
	}
	_, err = s.SetLabels(ctx, Ref, storage.Inbox, "2026-01-01-000000-none", []string{"x"}, nil)
	wantErr(t, "SetLabels of a missing message", err, storage.ErrNotFound)
}

func testOpenAttachment(t *testing.T, s storage.MessageStore) {
	ctx := context.Background()
	st := put(t, s, bundleReq(Ref, "files", T0))
	flat := put(t, s, inboxReq(Ref, "flat", T0))
	f, err := s.OpenAttachment(ctx, Ref, storage.Inbox, st.ID, "REPORT.PDF")
	if got := readAttachment(t, f, err); string(got) != "%PDF-1.4 one" {
		t.Fatalf("case-insensitive name: %q", got)
	}
	if f.Info.Filename != "report.pdf" || f.Info.ContentType != "application/pdf" || f.Message == nil || f.Message.ID != st.ID {
		t.Fatalf("AttachmentFile: %+v, message %+v", f.Info, f.Message)
	}
	tests := []struct {
		name, id, file string
		want           error
	}{
		{"unknown name", st.ID, "other.pdf", storage.ErrNoAttachment},
		{"traversal", st.ID, "../" + st.ID + ".md", storage.ErrNoAttachment},
		{"the raw message", st.ID, st.ID + ".eml", storage.ErrNoAttachment},
		{"the markdown", st.ID, st.ID + ".md", storage.ErrNoAttachment},
		{"absolute", st.ID, "/etc/passwd", storage.ErrNoAttachment},
		{"flat message", flat.ID, "report.pdf", storage.ErrNoAttachment},
		{"missing message", "2026-01-01-000000-none", "report.pdf", storage.ErrNotFound},
		{"bad id", "../x", "report.pdf", storage.ErrInvalidID},
	}
	for _, tc := range tests {
		_, err := s.OpenAttachment(ctx, Ref, storage.Inbox, tc.id, tc.file)
		wantErr(t, "OpenAttachment "+tc.name, err, tc.want)
	}
}
