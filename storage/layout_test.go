package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestOpenNewWritesMarkerAndModes(t *testing.T) {
	t.Parallel()
	s, dir := openTestStore(t, Options{})
	b, err := os.ReadFile(filepath.Join(dir, ".layout-version"))
	if err != nil || string(b) != "2\n" {
		t.Fatalf("marker = %q, %v", b, err)
	}
	if err := s.EnsureMailbox(context.Background(), testRef, nil); err != nil {
		t.Fatal(err)
	}
	st := pathsOf(t, s, testRef, Inbox, putMsg(t, s, PutRequest{Raw: []byte("raw"), Frontmatter: inboundFM("hi"), Body: "b"}).ID)
	want := map[string]os.FileMode{
		dir:                                                        0o755,
		filepath.Join(dir, ".layout-version"):                      0o644,
		filepath.Join(dir, ".spool"):                               0o700,
		filepath.Join(dir, testRef.Domain):                         0o755,
		filepath.Join(dir, testRef.Domain, "inbox"):                0o755,
		filepath.Join(dir, testRef.Domain, "sent"):                 0o755,
		filepath.Join(dir, testRef.Domain, "inbox", testRef.Local): 0o750,
		filepath.Join(dir, testRef.Domain, "sent", testRef.Local):  0o750,
		st.MD:  0o640,
		st.EML: 0o640,
	}
	for p, m := range want {
		if got := mode(t, p); got != m {
			t.Errorf("%s: mode %o, want %o", p, got, m)
		}
	}
	// Reopening a current layout is fine and keeps the marker.
	if _, err := Open(dir, Options{}); err != nil {
		t.Fatalf("reopen: %v", err)
	}
}

func TestEnsureMailboxFixesModes(t *testing.T) {
	t.Parallel()
	s, dir := openTestStore(t, Options{})
	domainDir := filepath.Join(dir, testRef.Domain)
	if err := os.MkdirAll(filepath.Join(domainDir, "inbox"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(domainDir, 0o700); err != nil { // the Rust umask-077 bug
		t.Fatal(err)
	}
	if err := s.EnsureMailbox(context.Background(), testRef, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{domainDir, filepath.Join(domainDir, "inbox")} {
		if got := mode(t, p); got != 0o755 {
			t.Errorf("%s: mode %o, want 755", p, got)
		}
	}
	if err := s.EnsureMailbox(context.Background(), MailboxRef{"a.com", "../x"}, nil); !errors.Is(err, ErrInvalidMailbox) {
		t.Errorf("traversal ref: %v", err)
	}
}

func TestOwnership(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("chown to uid 65534 needs root; storage skips chown when not root")
	}
	s, dir := openTestStore(t, Options{})
	owner := &Owner{UID: 65534, GID: 65534}
	if err := s.EnsureMailbox(context.Background(), testRef, owner); err != nil {
		t.Fatal(err)
	}
	flatMsg := putMsg(t, s, PutRequest{Owner: owner, Raw: []byte("raw"), Frontmatter: inboundFM("flat"), Body: "b"})
	bundleMsg := putMsg(t, s, PutRequest{Owner: owner, Raw: []byte("raw"), Frontmatter: inboundFM("bundle"), Body: "b",
		Attachments: []Attachment{{Filename: "a.txt", Data: []byte("x")}}})
	flat, bundle := pathsOf(t, s, testRef, Inbox, flatMsg.ID), pathsOf(t, s, testRef, Inbox, bundleMsg.ID)
	if _, err := s.SetRead(context.Background(), testRef, Inbox, flatMsg.ID, true); err != nil {
		t.Fatal(err)
	}
	paths := []string{
		filepath.Join(dir, testRef.Domain, "inbox", testRef.Local),
		filepath.Join(dir, testRef.Domain, "sent", testRef.Local),
		flat.MD, flat.EML, bundle.Bundle, bundle.MD, bundle.EML,
		filepath.Join(bundle.Bundle, "a.txt"),
	}
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		// book/storage.md: the daemon's user owns it, the owner's group reads it.
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != 0 || st.Gid != 65534 {
			t.Errorf("%s owned by %d:%d, want 0:65534", p, st.Uid, st.Gid)
		}
	}
	// Shared dirs stay the daemon's.
	fi, _ := os.Lstat(filepath.Join(dir, testRef.Domain))
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 {
		t.Errorf("domain dir owned by %d", st.Uid)
	}
}

func TestOpenLegacyLayout(t *testing.T) {
	t.Parallel()
	for _, legacy := range []string{"inbox", "sent"} {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, legacy, "support"), 0o700); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, dir)
		_, err := Open(dir, Options{})
		var le *LegacyLayoutError
		if !errors.Is(err, ErrLegacyLayout) || !errors.As(err, &le) || le.Path != filepath.Join(dir, legacy) {
			t.Fatalf("%s: Open err = %v", legacy, err)
		}
		if _, err := OpenReadOnly(dir); !errors.Is(err, ErrLegacyLayout) {
			t.Errorf("%s: OpenReadOnly err = %v", legacy, err)
		}
		if !equalSnap(before, snapshot(t, dir)) {
			t.Errorf("%s: Open wrote into a legacy layout", legacy)
		}
	}
}

func TestOpenBadMarker(t *testing.T) {
	t.Parallel()
	for _, content := range []string{"1\n", "2", "3\n", "", "2\n\n"} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ".layout-version"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(dir, Options{}); !errors.Is(err, ErrBadMarker) {
			t.Errorf("marker %q: Open err = %v", content, err)
		}
		if _, err := OpenReadOnly(dir); !errors.Is(err, ErrBadMarker) {
			t.Errorf("marker %q: OpenReadOnly err = %v", content, err)
		}
	}
}

func TestOpenReadOnlyWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// A missing data dir lists as empty and is not created.
	missing := filepath.Join(t.TempDir(), "nope")
	ro, err := OpenReadOnly(missing)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ro.List(ctx, ListQuery{Mailbox: testRef})
	if err != nil || res.Total != 0 || len(res.Messages) != 0 {
		t.Fatalf("List on missing dir: %+v %v", res, err)
	}
	if c, err := ro.Counts(ctx, testRef); err != nil || c != (Counts{}) {
		t.Fatalf("Counts on missing dir: %+v %v", c, err)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("OpenReadOnly created the data dir: %v", err)
	}
	// A new (unmarked) dir gets no marker; writes are refused.
	empty := t.TempDir()
	ro, err = OpenReadOnly(empty)
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, empty)
	if _, err := ro.Put(ctx, PutRequest{Mailbox: testRef, Folder: Inbox}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Put: %v", err)
	}
	if err := ro.EnsureMailbox(ctx, testRef, nil); !errors.Is(err, ErrReadOnly) {
		t.Errorf("EnsureMailbox: %v", err)
	}
	if _, err := ro.RemoveMailbox(ctx, testRef); !errors.Is(err, ErrReadOnly) {
		t.Errorf("RemoveMailbox: %v", err)
	}
	if _, err := ro.SetRead(ctx, testRef, Inbox, "x", true); !errors.Is(err, ErrReadOnly) {
		t.Errorf("SetRead: %v", err)
	}
	if !equalSnap(before, snapshot(t, empty)) {
		t.Error("read-only store wrote something")
	}
}

func TestRemoveMailbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dir := openTestStore(t, Options{})
	putMsg(t, s, PutRequest{Raw: []byte("r"), Frontmatter: inboundFM("a"), Body: "b"})
	putMsg(t, s, PutRequest{Raw: []byte("r"), Frontmatter: inboundFM("b"), Body: "b",
		Attachments: []Attachment{{Filename: "x.txt", Data: []byte("x")}}})
	putMsg(t, s, PutRequest{Folder: Sent, Raw: []byte("r"), Frontmatter: inboundFM("c"), Body: "b"})
	other := MailboxRef{Domain: testRef.Domain, Local: "billing"}
	putMsg(t, s, PutRequest{Mailbox: other, Frontmatter: inboundFM("keep"), Body: "b"})
	n, err := s.RemoveMailbox(ctx, testRef)
	if err != nil {
		t.Fatal(err)
	}
	if n != 7 { // 2 flat inbox + 3 bundle + 2 sent
		t.Errorf("removed %d files, want 7", n)
	}
	for _, f := range []string{"inbox", "sent"} {
		if _, err := os.Lstat(filepath.Join(dir, testRef.Domain, f, testRef.Local)); !os.IsNotExist(err) {
			t.Errorf("%s dir still there: %v", f, err)
		}
	}
	if c, _ := s.Counts(ctx, other); c.Total != 1 {
		t.Errorf("other mailbox lost mail: %+v", c)
	}
	// The mailbox can be used again (the stem cache was dropped).
	putMsg(t, s, PutRequest{Frontmatter: inboundFM("a"), Body: "b"})
	if n, err := s.RemoveMailbox(ctx, MailboxRef{Domain: "none.example", Local: "x"}); err != nil || n != 0 {
		t.Errorf("missing mailbox: %d %v", n, err)
	}
}
