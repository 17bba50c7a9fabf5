package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPutFlat(t *testing.T) {
	t.Parallel()
	s, dir := openTestStore(t, Options{})
	raw := []byte("Received: x\r\nSubject: Hello\r\n\r\nbody\r\n")
	st := putMsg(t, s, PutRequest{Raw: raw, Frontmatter: inboundFM("Hello, World!"), Body: "body"})
	if st.ID != "2026-10-07-144513-hello-world" {
		t.Errorf("ID = %q", st.ID)
	}
	mboxDir := filepath.Join(dir, testRef.Domain, "inbox", testRef.Local)
	paths := pathsOf(t, s, testRef, Inbox, st.ID)
	if paths.MD != filepath.Join(mboxDir, st.ID+".md") || paths.EML != filepath.Join(mboxDir, st.ID+".eml") || paths.Bundle != "" {
		t.Errorf("paths = %+v", paths)
	}
	if b, _ := os.ReadFile(paths.EML); !bytes.Equal(b, raw) {
		t.Errorf(".eml = %q", b)
	}
	m, err := s.Read(context.Background(), testRef, Inbox, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	fm := m.Frontmatter
	if fm.ID != st.ID || fm.Mailbox != "support@agent.example.com" || fm.SizeBytes != int64(len(raw)) || m.Body != "body\n" {
		t.Errorf("read back %+v body %q", fm, m.Body)
	}
	// Only the two files, no temp leftovers.
	ents, _ := os.ReadDir(mboxDir)
	if len(ents) != 2 {
		t.Errorf("mailbox dir has %d entries", len(ents))
	}
}

func TestPutWithoutRawAndAt(t *testing.T) {
	t.Parallel()
	s, _ := openTestStore(t, Options{})
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", -5*3600))
	st := putMsg(t, s, PutRequest{At: at, Frontmatter: inboundFM(""), Body: "b"})
	if st.ID != "2026-01-02-080405-no-subject" || pathsOf(t, s, testRef, Inbox, st.ID).EML != "" {
		t.Errorf("stored %+v", st)
	}
	sent := putMsg(t, s, PutRequest{Folder: Sent, Frontmatter: inboundFM("out"), Body: "b"})
	m, err := s.Read(context.Background(), testRef, Sent, sent.ID)
	if err != nil || !m.Frontmatter.Outbound {
		t.Errorf("sent copy not outbound: %+v %v", m, err)
	}
}

func TestPutCollisions(t *testing.T) {
	t.Parallel()
	s, dir := openTestStore(t, Options{})
	var ids []string
	for range 4 {
		ids = append(ids, putMsg(t, s, PutRequest{Raw: []byte("r"), Frontmatter: inboundFM("Status update"), Body: "b"}).ID)
	}
	base := "2026-10-07-144513-status-update"
	want := []string{base, base + "-2", base + "-3", base + "-4"}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("ids = %v", ids)
	}
	// A bundle collides with flat stems too.
	b := putMsg(t, s, PutRequest{Frontmatter: inboundFM("Status update"), Body: "b", Attachments: []Attachment{{Filename: "a", Data: []byte("a")}}})
	if b.ID != base+"-5" {
		t.Errorf("bundle id = %q", b.ID)
	}
	// A fresh store (a restart) scans the dir once and continues.
	s2, err := Open(dir, Options{Now: fixedClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	if id := putMsg(t, s2, PutRequest{Frontmatter: inboundFM("Status update"), Body: "b"}).ID; id != base+"-6" {
		t.Errorf("after restart id = %q", id)
	}
	// The id inside the file matches its name.
	m, _ := s2.Read(context.Background(), testRef, Inbox, base+"-3")
	if m.Frontmatter.ID != base+"-3" {
		t.Errorf("frontmatter id = %q", m.Frontmatter.ID)
	}
}

// TestPutNoReplaceRace: a stem published by someone else after the scan is
// never overwritten; the store takes the next suffix (link EEXIST).
func TestPutNoReplaceRace(t *testing.T) {
	t.Parallel()
	s, dir := openTestStore(t, Options{})
	first := putMsg(t, s, PutRequest{Frontmatter: inboundFM("warm"), Body: "b"}) // scan happens here
	mbox := filepath.Dir(pathsOf(t, s, testRef, Inbox, first.ID).MD)
	base := "2026-10-07-144513-race"
	for _, name := range []string{base + ".md", base + "-2.eml"} {
		if err := os.WriteFile(filepath.Join(mbox, name), []byte("theirs"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	flat := putMsg(t, s, PutRequest{Raw: []byte("ours"), Frontmatter: inboundFM("race"), Body: "b"})
	if flat.ID != base+"-3" {
		t.Errorf("flat id = %q, want -3", flat.ID)
	}
	for _, name := range []string{base + ".md", base + "-2.eml"} {
		if b, _ := os.ReadFile(filepath.Join(mbox, name)); string(b) != "theirs" {
			t.Errorf("%s was replaced", name)
		}
	}
	// Our .eml written under base before the .md collided is removed again.
	if _, err := os.Lstat(filepath.Join(mbox, base+".eml")); !os.IsNotExist(err) {
		t.Errorf("orphan .eml left: %v", err)
	}
	_ = dir
	if err := os.Mkdir(filepath.Join(mbox, base+"-4"), 0o700); err != nil {
		t.Fatal(err)
	}
	bundle := putMsg(t, s, PutRequest{Frontmatter: inboundFM("race"), Body: "b", Attachments: []Attachment{{Filename: "x", Data: []byte("x")}}})
	if bundle.ID != base+"-5" {
		t.Errorf("bundle id = %q, want -5", bundle.ID)
	}
	assertNoTemp(t, mbox)
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name()[0] == '.' {
			t.Errorf("temp entry left: %s", e.Name())
		}
	}
}

func TestPutBundle(t *testing.T) {
	t.Parallel()
	s, _ := openTestStore(t, Options{})
	st := putMsg(t, s, PutRequest{
		Raw: []byte("raw"), Frontmatter: inboundFM("Logs"), Body: "see attached",
		Attachments: []Attachment{
			{Filename: "deploy.log", ContentType: "text/plain; charset=utf-8", Data: []byte("log")},
			{Filename: "../health page.png", ContentType: "IMAGE/PNG", Data: []byte("png!")},
			{Filename: "deploy.log", ContentType: "", Data: []byte("again")},
			{Filename: "2026-10-07-144513-logs.md", ContentType: "text/markdown", Data: []byte("md")},
		},
	})
	paths := pathsOf(t, s, testRef, Inbox, st.ID)
	if paths.Bundle == "" || filepath.Base(paths.Bundle) != st.ID {
		t.Fatalf("not a bundle: %+v", paths)
	}
	m, err := s.Read(context.Background(), testRef, Inbox, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []AttachmentInfo{
		{"deploy.log", "text/plain", 3, "deploy.log"},
		{"health page.png", "image/png", 4, "health page.png"},
		{"deploy-1.log", "application/octet-stream", 5, "deploy-1.log"},
		{"2026-10-07-144513-logs-1.md", "text/markdown", 2, "2026-10-07-144513-logs-1.md"},
	}
	if fmt.Sprint(m.Frontmatter.Attachments) != fmt.Sprint(want) {
		t.Errorf("attachments = %+v", m.Frontmatter.Attachments)
	}
	for _, a := range want {
		fi, err := os.Lstat(filepath.Join(paths.Bundle, a.Path))
		if err != nil || fi.Size() != a.Size || fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: %v %v", a.Path, fi, err)
		}
	}
	if paths.EML != filepath.Join(paths.Bundle, st.ID+".eml") || paths.MD != filepath.Join(paths.Bundle, st.ID+".md") {
		t.Errorf("bundle paths %+v", paths)
	}
	if mode(t, paths.Bundle) != 0o750 {
		t.Errorf("bundle mode %o", mode(t, paths.Bundle))
	}
	assertNoTemp(t, filepath.Dir(paths.Bundle))
}

// TestGroupCommit: many concurrent writers into one mailbox all end up
// stored, with fewer directory fsyncs than messages. The first group fsync
// is held until every other writer is queued behind it, so sharing is
// certain rather than likely.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	const n = 24
	var dirSyncs atomic.Int64
	syncer := &DirSyncer{}
	release := make(chan struct{})
	var armed atomic.Bool // hold the first fsync after warm-up
	w := &Writer{}
	syncer.SyncFunc = func(dir string) error {
		dirSyncs.Add(1)
		if armed.CompareAndSwap(true, false) {
			<-release
		}
		return w.SyncDir(dir)
	}
	s, _ := openTestStore(t, Options{Writer: w, DirSyncer: syncer})
	putMsg(t, s, PutRequest{Frontmatter: inboundFM("warm"), Body: "b"}) // creates dirs outside the count
	dirSyncs.Store(0)
	armed.Store(true)
	mbox := s.folderDir(testRef, Inbox)

	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Put(context.Background(), PutRequest{Mailbox: testRef, Folder: Inbox, Raw: []byte("r"),
				Frontmatter: inboundFM(fmt.Sprintf("msg %d", i)), Body: "b"})
			errs <- err
		}()
	}
	// Wait (by order, not time) until one fsync runs and the rest queue.
	waitQueued(t, syncer, mbox, n-1)
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	res, err := s.List(context.Background(), ListQuery{Mailbox: testRef, Limit: 100})
	if err != nil || res.Total != n+1 {
		t.Fatalf("listed %d, want %d (%v)", res.Total, n+1, err)
	}
	if got := dirSyncs.Load(); got != 2 {
		t.Errorf("dir fsyncs = %d for %d messages, want 2 (one running, one shared by the rest)", got, n)
	}
}

func TestPutErrors(t *testing.T) {
	t.Parallel()
	s, _ := openTestStore(t, Options{})
	ctx := context.Background()
	if _, err := s.Put(ctx, PutRequest{Mailbox: MailboxRef{"a.com", ".."}, Folder: Inbox}); !errors.Is(err, ErrInvalidMailbox) {
		t.Errorf("bad ref: %v", err)
	}
	if _, err := s.Put(ctx, PutRequest{Mailbox: testRef, Folder: "trash"}); !errors.Is(err, ErrInvalidFolder) {
		t.Errorf("bad folder: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Put(cctx, PutRequest{Mailbox: testRef, Folder: Inbox}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}

// A mailbox whose dirs were removed by hand (not through RemoveMailbox)
// after its first write still receives: the next write sets it up again.
func TestPutAfterDirsRemovedBehindTheStore(t *testing.T) {
	t.Parallel()
	s, dir := openTestStore(t, Options{})
	putMsg(t, s, PutRequest{Frontmatter: inboundFM("first"), Body: "b"})
	if err := os.RemoveAll(filepath.Join(dir, testRef.Domain)); err != nil {
		t.Fatal(err)
	}
	st := putMsg(t, s, PutRequest{Frontmatter: inboundFM("second"), Body: "b"})
	if _, err := s.Read(context.Background(), testRef, Inbox, st.ID); err != nil {
		t.Fatalf("the second message is not readable: %v", err)
	}
}

func TestPutKeepsGivenID(t *testing.T) {
	s, _ := openTestStore(t, Options{})
	ctx := context.Background()
	ref := MailboxRef{Domain: "a.com", Local: "hello"}
	req := PutRequest{Mailbox: ref, Folder: Inbox, ID: "2025-01-02-030405-kept", Raw: []byte("Subject: x\r\n\r\nbody\r\n"),
		Frontmatter: Frontmatter{Subject: "x"}, Body: "body"}
	st, err := s.Put(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if st.ID != req.ID {
		t.Fatalf("stored as %q, want the given id %q", st.ID, req.ID)
	}
	if _, err := s.Read(ctx, ref, Inbox, req.ID); err != nil {
		t.Fatalf("read the kept id: %v", err)
	}
	if _, err := s.Put(ctx, req); !errors.Is(err, ErrExist) {
		t.Fatalf("second Put with the same id: err = %v, want ErrExist", err)
	}
	req.ID = "../escape"
	if _, err := s.Put(ctx, req); !errors.Is(err, ErrInvalidID) {
		t.Fatalf("Put with id %q: err = %v, want ErrInvalidID", req.ID, err)
	}
}
