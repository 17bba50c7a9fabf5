package storetest

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/storage"
)

func testMove(t *testing.T, s storage.MessageStore) {
	ctx := context.Background()
	req := bundleReq(Ref, "moving", T0)
	st := put(t, s, req)
	if _, err := s.SetLabels(ctx, Ref, storage.Inbox, st.ID, []string{"keep"}, nil); err != nil {
		t.Fatalf("SetLabels: %v", err)
	}
	steps := []struct {
		from, to  storage.Folder
		trashFrom storage.Folder // deleted_from recorded; "" when not in the trash
		restore   storage.Folder
	}{
		{storage.Inbox, storage.Archive, "", ""},
		{storage.Archive, storage.Trash, storage.Archive, storage.Archive},
		{storage.Trash, storage.Inbox, "", ""},
		{storage.Inbox, storage.Trash, storage.Inbox, storage.Inbox},
		{storage.Trash, storage.Archive, "", ""},
	}
	for _, step := range steps {
		name := fmt.Sprintf("%s to %s", step.from, step.to)
		fm, err := s.Move(ctx, Ref, step.from, step.to, st.ID)
		if err != nil {
			t.Fatalf("Move %s: %v", name, err)
		}
		if fm.ID != st.ID {
			t.Fatalf("Move %s: id %q, want %q", name, fm.ID, st.ID)
		}
		at, from := storage.TrashInfo(fm)
		if from != step.trashFrom || at.IsZero() != (step.trashFrom == "") {
			t.Fatalf("Move %s: TrashInfo = %v, %q", name, at, from)
		}
		if step.restore != "" && storage.RestoreFolder(fm) != step.restore {
			t.Fatalf("Move %s: RestoreFolder = %s", name, storage.RestoreFolder(fm))
		}
		_, err = s.Read(ctx, Ref, step.from, st.ID)
		wantErr(t, "Read of the old place after "+name, err, storage.ErrNotFound)
		m := read(t, s, Ref, step.to, st.ID)
		sameFM(t, "Move result and Read after "+name, m.Frontmatter, fm)
		if fmt.Sprint(m.Frontmatter.Labels()) != "[keep]" || m.Body != StoredBody(req.Body) {
			t.Fatalf("after %s: labels %q body %q", name, m.Frontmatter.Labels(), m.Body)
		}
		if raw := reader(t)(s.OpenRaw(ctx, Ref, step.to, st.ID)); !bytes.Equal(raw, req.Raw) {
			t.Fatalf("raw after %s: %q", name, raw)
		}
		f, err := s.OpenAttachment(ctx, Ref, step.to, st.ID, "report-1.pdf")
		if got := readAttachment(t, f, err); string(got) != "%PDF-1.4 two" {
			t.Fatalf("attachment after %s: %q", name, got)
		}
		if res := list(t, s, storage.ListQuery{Folder: step.to}); res.Total != 1 || res.Messages[0].ID != st.ID {
			t.Fatalf("list of %s after %s: %v", step.to, name, ids(res))
		}
		if res := list(t, s, storage.ListQuery{Folder: step.from}); res.Total != 0 {
			t.Fatalf("list of %s after %s: %v", step.from, name, ids(res))
		}
		if res := list(t, s, storage.ListQuery{Folder: step.to, Label: "keep"}); res.Total != 1 {
			t.Fatalf("label filter in %s after %s: %v", step.to, name, ids(res))
		}
	}
	// A sent copy goes to the trash and back to sent.
	sent := put(t, s, storage.PutRequest{Mailbox: Ref, Folder: storage.Sent, At: T0, Frontmatter: sentFM("out")})
	fm, err := s.Move(ctx, Ref, storage.Sent, storage.Trash, sent.ID)
	if err != nil || storage.RestoreFolder(fm) != storage.Sent {
		t.Fatalf("Move sent to trash = %+v, %v", fm, err)
	}
	fm, err = s.Move(ctx, Ref, storage.Trash, storage.Sent, sent.ID)
	if err != nil {
		t.Fatalf("Move trash to sent: %v", err)
	}
	sameFM(t, "sent copy back from the trash", fm, &sent.Frontmatter)
}

func testMoveRefused(t *testing.T, s storage.MessageStore) {
	ctx := context.Background()
	in := put(t, s, inboxReq(Ref, "in", T0))
	sent := put(t, s, storage.PutRequest{Mailbox: Ref, Folder: storage.Sent, At: T0, Frontmatter: sentFM("out")})
	tests := []struct {
		name     string
		from, to storage.Folder
		id       string
		want     error
	}{
		{"to the same folder", storage.Inbox, storage.Inbox, in.ID, storage.ErrMoveRefused},
		{"received mail to sent", storage.Inbox, storage.Sent, in.ID, storage.ErrMoveRefused},
		{"sent copy to inbox", storage.Sent, storage.Inbox, sent.ID, storage.ErrMoveRefused},
		{"sent copy to archive", storage.Sent, storage.Archive, sent.ID, storage.ErrMoveRefused},
		{"missing message", storage.Inbox, storage.Archive, "2026-01-01-000000-none", storage.ErrNotFound},
		{"bad destination", storage.Inbox, "spam", in.ID, storage.ErrInvalidFolder},
		{"bad source", "spam", storage.Inbox, in.ID, storage.ErrInvalidFolder},
		{"bad id", storage.Inbox, storage.Archive, "../x", storage.ErrInvalidID},
	}
	for _, tc := range tests {
		_, err := s.Move(ctx, Ref, tc.from, tc.to, tc.id)
		wantErr(t, "Move "+tc.name, err, tc.want)
	}
	// The id is taken in the trash (by a sent copy of the same id): the
	// message stays where it was.
	twin := storage.PutRequest{Mailbox: Ref, Folder: storage.Sent, At: T0, Frontmatter: sentFM("twin"), ID: in.ID}
	put(t, s, twin)
	if _, err := s.Move(ctx, Ref, storage.Sent, storage.Trash, in.ID); err != nil {
		t.Fatalf("Move: %v", err)
	}
	_, err := s.Move(ctx, Ref, storage.Inbox, storage.Trash, in.ID)
	wantErr(t, "Move onto a taken id", err, storage.ErrIDTaken)
	if m := read(t, s, Ref, storage.Inbox, in.ID); m.Frontmatter.Outbound {
		t.Fatal("the inbox message was replaced")
	}
	if m := read(t, s, Ref, storage.Trash, in.ID); !m.Frontmatter.Outbound {
		t.Fatal("the trash message was replaced")
	}
}

func testDelete(t *testing.T, s storage.MessageStore) {
	ctx := context.Background()
	flat := put(t, s, inboxReq(Ref, "flat", T0))
	bundle := put(t, s, bundleReq(Ref, "bundle", T0.Add(time.Second)))
	if _, err := s.Move(ctx, Ref, storage.Inbox, storage.Trash, bundle.ID); err != nil {
		t.Fatalf("Move: %v", err)
	}
	if n, err := s.Delete(ctx, Ref, storage.Inbox, flat.ID); err != nil || n != 2 {
		t.Fatalf("Delete flat = %d, %v; want 2", n, err)
	}
	if n, err := s.Delete(ctx, Ref, storage.Trash, bundle.ID); err != nil || n != 4 {
		t.Fatalf("Delete bundle = %d, %v; want 4", n, err)
	}
	for _, f := range []storage.Folder{storage.Inbox, storage.Trash} {
		if res := list(t, s, storage.ListQuery{Folder: f}); res.Total != 0 {
			t.Fatalf("%s after Delete: %v", f, ids(res))
		}
	}
	_, err := s.Delete(ctx, Ref, storage.Inbox, flat.ID)
	wantErr(t, "second Delete", err, storage.ErrNotFound)
	_, err = s.OpenAttachment(ctx, Ref, storage.Trash, bundle.ID, "report.pdf")
	wantErr(t, "OpenAttachment after Delete", err, storage.ErrNotFound)
	// Mail of the same stem arrives again. (Whether the id is reused is
	// the store's business: the file store keeps it reserved until it
	// restarts.)
	st := put(t, s, inboxReq(Ref, "flat", T0))
	if res := list(t, s, storage.ListQuery{}); res.Total != 1 || res.Messages[0].ID != st.ID {
		t.Fatalf("inbox after a new Put: %v", ids(res))
	}
}

func testPurgeTrash(t *testing.T, s storage.MessageStore) {
	ctx := context.Background()
	ids := fill(t, s, 3)
	for _, id := range ids[:2] {
		if _, err := s.Move(ctx, Ref, storage.Inbox, storage.Trash, id); err != nil {
			t.Fatalf("Move: %v", err)
		}
	}
	if n, err := s.PurgeTrash(ctx, Ref, T0.Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("PurgeTrash before any deletion = %d, %v", n, err)
	}
	if res := list(t, s, storage.ListQuery{Folder: storage.Trash}); res.Total != 2 {
		t.Fatalf("trash after an early purge: %v", ids)
	}
	if n, err := s.PurgeTrash(ctx, Ref, time.Now().Add(time.Hour)); err != nil || n != 2 {
		t.Fatalf("PurgeTrash = %d, %v; want 2", n, err)
	}
	if res := list(t, s, storage.ListQuery{Folder: storage.Trash}); res.Total != 0 {
		t.Fatalf("trash after the purge: %v", ids)
	}
	read(t, s, Ref, storage.Inbox, ids[2])
	if n, err := s.PurgeTrash(ctx, Other, time.Now().Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("PurgeTrash of a mailbox without trash = %d, %v", n, err)
	}
	_, err := s.PurgeTrash(ctx, storage.MailboxRef{Domain: "x", Local: "y"}, time.Now())
	wantErr(t, "PurgeTrash of a bad mailbox", err, storage.ErrInvalidMailbox)
}
