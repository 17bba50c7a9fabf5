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

func testPut(t *testing.T, s storage.MessageStore) {
	ctx := context.Background()
	tests := []struct {
		name   string
		req    storage.PutRequest
		folder storage.Folder
		files  int // .md, .eml and attachments: what Delete reports
	}{
		{"inbox with raw", inboxReq(Ref, "Invoice #42 (due)", T0), storage.Inbox, 2},
		{"inbox without raw", storage.PutRequest{Mailbox: Ref, Folder: storage.Inbox, At: T0.Add(time.Second),
			Frontmatter: Inbound("no raw", T0), Body: "no newline at the end"}, storage.Inbox, 1},
		{"sent copy", storage.PutRequest{Mailbox: Ref, Folder: storage.Sent, At: T0, Raw: rawOf("out"),
			Frontmatter: sentFM("out"), Body: "# Out\n\nsigned body\n"}, storage.Sent, 2},
		{"bundle", bundleReq(Ref, "with files", T0.Add(2*time.Second)), storage.Inbox, 4},
		{"catchall", inboxReq(storage.MailboxRef{Domain: Ref.Domain, Local: storage.CatchallLocal}, "catchall", T0), storage.Inbox, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := put(t, s, tc.req)
			if want := storage.BaseStem(tc.req.At, tc.req.Frontmatter.Subject); st.ID != want {
				t.Fatalf("id = %q, want %q", st.ID, want)
			}
			fm := st.Frontmatter
			if fm.ID != st.ID || fm.Mailbox != tc.req.Mailbox.String() || fm.Outbound != (tc.folder == storage.Sent) {
				t.Fatalf("stored frontmatter: id %q mailbox %q outbound %v", fm.ID, fm.Mailbox, fm.Outbound)
			}
			if fm.SizeBytes != int64(len(tc.req.Raw)) {
				t.Fatalf("size_bytes = %d, want %d", fm.SizeBytes, len(tc.req.Raw))
			}
			m := read(t, s, tc.req.Mailbox, tc.folder, st.ID)
			sameFM(t, "Read", m.Frontmatter, &fm)
			if m.ID != st.ID || m.Folder != tc.folder || m.Body != StoredBody(tc.req.Body) {
				t.Fatalf("Read = id %q folder %q body %q", m.ID, m.Folder, m.Body)
			}
			md := reader(t)(s.OpenMD(ctx, tc.req.Mailbox, tc.folder, st.ID))
			if want := storage.EncodeMD(&fm, tc.req.Body); !bytes.Equal(md, want) {
				t.Fatalf("OpenMD:\n%s\nwant\n%s", md, want)
			}
			raw, err := s.OpenRaw(ctx, tc.req.Mailbox, tc.folder, st.ID)
			if tc.req.Raw == nil {
				wantErr(t, "OpenRaw of a message without raw", err, storage.ErrNotFound)
			} else if got := readAll(t, raw, err); !bytes.Equal(got, tc.req.Raw) {
				t.Fatalf("OpenRaw = %q, want %q", got, tc.req.Raw)
			}
			for i, a := range fm.Attachments {
				f, err := s.OpenAttachment(ctx, tc.req.Mailbox, tc.folder, st.ID, a.Filename)
				if got := readAttachment(t, f, err); !bytes.Equal(got, tc.req.Attachments[i].Data) {
					t.Fatalf("attachment %q = %q", a.Filename, got)
				}
			}
			n, err := s.Delete(ctx, tc.req.Mailbox, tc.folder, st.ID)
			if err != nil || n != tc.files {
				t.Fatalf("Delete = %d, %v; want %d", n, err, tc.files)
			}
		})
	}
	t.Run("attachment names and types", func(t *testing.T) {
		st := put(t, s, bundleReq(Ref, "names", T0))
		want := []storage.AttachmentInfo{
			{Filename: "report.pdf", ContentType: "application/pdf", Size: 12, Path: "report.pdf"},
			{Filename: "report-1.pdf", ContentType: "application/octet-stream", Size: 12, Path: "report-1.pdf"},
		}
		if got := st.Frontmatter.Attachments; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("attachments = %+v, want %+v", got, want)
		}
	})
	t.Run("size_bytes given is kept", func(t *testing.T) {
		req := inboxReq(Ref, "sized", T0)
		req.Frontmatter.SizeBytes = 12345
		if st := put(t, s, req); st.Frontmatter.SizeBytes != 12345 {
			t.Fatalf("size_bytes = %d", st.Frontmatter.SizeBytes)
		}
	})
	t.Run("unknown keys kept", func(t *testing.T) {
		req := inboxReq(Ref, "extra", T0)
		req.Frontmatter.Extra = []storage.Field{{Key: "x_custom", Value: "v"}, {Key: "n", Value: int64(7)}}
		st := put(t, s, req)
		sameFM(t, "Read", read(t, s, Ref, storage.Inbox, st.ID).Frontmatter, &st.Frontmatter)
	})
}

func testPutIDs(t *testing.T, s storage.MessageStore) {
	base := storage.BaseStem(T0, "same")
	var got []string
	for range 3 {
		got = append(got, put(t, s, inboxReq(Ref, "same", T0)).ID)
	}
	sameIDs(t, "colliding stems", got, []string{base, base + "-2", base + "-3"})
	// A sent copy has its own folder: the stem is free there.
	sent := put(t, s, storage.PutRequest{Mailbox: Ref, Folder: storage.Sent, At: T0, Frontmatter: sentFM("same")})
	if sent.ID != base {
		t.Fatalf("sent id = %q, want %q", sent.ID, base)
	}

	req := inboxReq(Ref, "given", T0)
	req.ID = "2020-01-01-000000-imported"
	st := put(t, s, req)
	if st.ID != req.ID || st.Frontmatter.ID != req.ID {
		t.Fatalf("given id: stored as %q (%q)", st.ID, st.Frontmatter.ID)
	}
	read(t, s, Ref, storage.Inbox, req.ID)
	_, err := s.Put(context.Background(), req)
	wantErr(t, "Put of a taken id", err, storage.ErrExist)
	req.ID = base + "-2"
	_, err = s.Put(context.Background(), req)
	wantErr(t, "Put of a taken generated id", err, storage.ErrExist)
	for _, bad := range []string{"../x", "a/b", ".hidden", "a\x00b", strings.Repeat("x", 251)} {
		req.ID = bad
		_, err := s.Put(context.Background(), req)
		wantErr(t, fmt.Sprintf("Put with id %q", bad), err, storage.ErrInvalidID)
	}
	if res := list(t, s, storage.ListQuery{}); res.Total != 4 {
		t.Fatalf("inbox holds %d messages, want 4: %v", res.Total, ids(res))
	}
}

func testPutRefused(t *testing.T, s storage.MessageStore) {
	ctx := context.Background()
	tests := []struct {
		name string
		edit func(r *storage.PutRequest)
		want error
	}{
		{"archive", func(r *storage.PutRequest) { r.Folder = storage.Archive }, storage.ErrInvalidFolder},
		{"trash", func(r *storage.PutRequest) { r.Folder = storage.Trash }, storage.ErrInvalidFolder},
		{"unknown folder", func(r *storage.PutRequest) { r.Folder = "junk" }, storage.ErrInvalidFolder},
		{"traversal folder", func(r *storage.PutRequest) { r.Folder = "../inbox" }, storage.ErrInvalidFolder},
		{"bad local", func(r *storage.PutRequest) { r.Mailbox.Local = "../../etc" }, storage.ErrInvalidMailbox},
		{"bad domain", func(r *storage.PutRequest) { r.Mailbox.Domain = "localhost" }, storage.ErrInvalidMailbox},
	}
	for _, tc := range tests {
		req := inboxReq(Ref, tc.name, T0)
		tc.edit(&req)
		_, err := s.Put(ctx, req)
		wantErr(t, tc.name, err, tc.want)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Put(cctx, inboxReq(Ref, "canceled", T0)); err == nil {
		t.Fatal("Put with a canceled context stored")
	}
	if res := list(t, s, storage.ListQuery{}); res.Total != 0 {
		t.Fatalf("refused Puts stored %v", ids(res))
	}
}

func testPutStreaming(t *testing.T, s storage.MessageStore) {
	ctx := context.Background()
	trace := []byte("Received: from mx.example.net\r\n")
	spool := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320 KB
	body := strings.Repeat("streamed body line\n", 1000)
	req := inboxReq(Ref, "streamed", T0)
	req.Raw = nil
	req.RawFrom = storage.ConcatSource(bytes.NewReader(trace), bytes.NewReader(spool))
	req.Body = ""
	req.BodyFrom = strings.NewReader(body)
	req.Attachments = []storage.Attachment{{Filename: "big.bin", ContentType: "application/octet-stream",
		From: bytes.NewReader(spool)}}
	st := put(t, s, req)
	wantRaw := append(append([]byte(nil), trace...), spool...)
	if st.Frontmatter.SizeBytes != int64(len(wantRaw)) {
		t.Fatalf("size_bytes = %d, want %d", st.Frontmatter.SizeBytes, len(wantRaw))
	}
	if got := reader(t)(s.OpenRaw(ctx, Ref, storage.Inbox, st.ID)); !bytes.Equal(got, wantRaw) {
		t.Fatalf("OpenRaw: %d bytes, want %d", len(got), len(wantRaw))
	}
	if m := read(t, s, Ref, storage.Inbox, st.ID); m.Body != body {
		t.Fatalf("body: %d bytes, want %d", len(m.Body), len(body))
	}
	md := reader(t)(s.OpenMD(ctx, Ref, storage.Inbox, st.ID))
	if want := storage.EncodeMD(&st.Frontmatter, body); !bytes.Equal(md, want) {
		t.Fatalf("OpenMD differs from EncodeMD (%d bytes, want %d)", len(md), len(want))
	}
	f, err := s.OpenAttachment(ctx, Ref, storage.Inbox, st.ID, "big.bin")
	if got := readAttachment(t, f, err); !bytes.Equal(got, spool) || f.Info.Size != int64(len(spool)) {
		t.Fatalf("streamed attachment: %d bytes (info %d), want %d", len(got), f.Info.Size, len(spool))
	}
}
