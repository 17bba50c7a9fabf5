package storage

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// L3: a crash leaves dot-named temp files, bundle temp dirs and .eml files
// whose .md was never published; Repair removes them at start and keeps
// every message.
func TestL3_RepairRemovesCrashLeftovers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dir := openTestStore(t, Options{})
	flat := pathsOf(t, s, testRef, Inbox, putMsg(t, s, PutRequest{Raw: []byte("raw"), Frontmatter: inboundFM("keep"), Body: "b"}).ID)
	bundle := pathsOf(t, s, testRef, Inbox, putMsg(t, s, PutRequest{Raw: []byte("raw"), Frontmatter: inboundFM("bundle"), Body: "b",
		Attachments: []Attachment{{Filename: "a.txt", Data: []byte("x")}}}).ID)
	box := filepath.Join(dir, testRef.Domain, "inbox", testRef.Local)
	leftovers := []string{
		filepath.Join(box, ".2026-10-07-150000-x.md.tmp-0123456789abcdef"),
		filepath.Join(box, "2026-10-07-150001-orphan.eml"),
		filepath.Join(bundle.Bundle, ".a.txt.tmp-0123456789abcdef"),
	}
	for _, p := range leftovers {
		if err := os.WriteFile(p, []byte("x"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	tmpBundle := filepath.Join(box, ".bundle-2026-10-07-150002-y-0123456789abcdef")
	if err := os.MkdirAll(tmpBundle, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmpBundle, "a.txt"), nil, 0o640); err != nil {
		t.Fatal(err)
	}
	leftovers = append(leftovers, tmpBundle)
	rep, err := s.Repair(ctx, []MailboxOwner{{Ref: testRef}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Temps != 3 || rep.Orphans != 1 {
		t.Errorf("report %+v, want 3 temps and 1 orphan", rep)
	}
	for _, p := range leftovers {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s survived: %v", p, err)
		}
	}
	for _, p := range []string{flat.MD, flat.EML, bundle.MD, bundle.EML, filepath.Join(bundle.Bundle, "a.txt")} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("a message file went: %v", err)
		}
	}
	// Idempotent: nothing left to do.
	if rep, err := s.Repair(ctx, []MailboxOwner{{Ref: testRef}}); err != nil || rep != (RepairReport{}) {
		t.Errorf("second repair %+v, %v", rep, err)
	}
}

// Trees in the old modes (0700/0600, owned by the mailbox owner) are
// re-owned once at start: the daemon's user, the owner's group, 0750/0640.
func TestRepairReownsOldModes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	t.Parallel()
	ctx := context.Background()
	s, dir := openTestStore(t, Options{})
	owner := &Owner{UID: 65534, GID: 65534}
	st := pathsOf(t, s, testRef, Inbox, putMsg(t, s, PutRequest{Owner: owner, Raw: []byte("raw"), Frontmatter: inboundFM("x"), Body: "b",
		Attachments: []Attachment{{Filename: "a.txt", Data: []byte("x")}}}).ID)
	box := filepath.Join(dir, testRef.Domain, "inbox", testRef.Local)
	fifo := filepath.Join(box, "2026-10-07-150000-fifo.md")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	old := []string{box, st.Bundle, st.MD, st.EML, filepath.Join(st.Bundle, "a.txt")}
	for _, p := range old { // as the Rust aimx left them
		must(t, os.Lchown(p, 65534, 65534))
		mode := os.FileMode(0o600)
		if fi, _ := os.Lstat(p); fi.IsDir() {
			mode = 0o700
		}
		must(t, os.Chmod(p, mode))
	}
	rep, err := s.Repair(ctx, []MailboxOwner{{Ref: testRef, Owner: owner}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Reowned != 1 || rep.Refused != 1 {
		t.Errorf("report %+v, want 1 reowned, the FIFO refused", rep)
	}
	for _, p := range old {
		fi, err := os.Lstat(p)
		must(t, err)
		sys := fi.Sys().(*syscall.Stat_t)
		want := os.FileMode(0o640)
		if fi.IsDir() {
			want = 0o750
		}
		if sys.Uid != 0 || sys.Gid != 65534 || fi.Mode().Perm() != want {
			t.Errorf("%s: %d:%d %o after repair", p, sys.Uid, sys.Gid, fi.Mode().Perm())
		}
	}
	if rep, _ := s.Repair(ctx, []MailboxOwner{{Ref: testRef, Owner: owner}}); rep.Reowned != 0 {
		t.Errorf("re-owned again: %+v", rep)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// After a clean stop the leftover scan is skipped once (nothing can be
// left), and the marker is consumed, so a crash during the next run makes
// the start after it scan again.
func TestRepairSkipsScanAfterCleanStop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dir := openTestStore(t, Options{})
	putMsg(t, s, PutRequest{Raw: []byte("raw"), Frontmatter: inboundFM("keep"), Body: "b"})
	orphan := filepath.Join(dir, testRef.Domain, "inbox", testRef.Local, "2026-10-07-150001-orphan.eml")
	must(t, os.WriteFile(orphan, []byte("x"), 0o640))
	must(t, s.MarkCleanStop())
	rep, err := s.Repair(ctx, []MailboxOwner{{Ref: testRef}})
	if err != nil || !rep.SkippedScan || rep.Orphans != 0 {
		t.Fatalf("after a clean stop: %+v, %v", rep, err)
	}
	if _, err := os.Stat(orphan); err != nil {
		t.Fatal("the skipped scan removed something")
	}
	rep, err = s.Repair(ctx, []MailboxOwner{{Ref: testRef}})
	if err != nil || rep.SkippedScan || rep.Orphans != 1 {
		t.Fatalf("without the marker: %+v, %v", rep, err)
	}
}

// A mailbox outside the config at start (so Repair never saw it) keeps its
// old modes until it is created again; creating it re-owns the files too,
// not just the dirs.
func TestEnsureMailboxReownsOldModeFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	t.Parallel()
	s, dir := openTestStore(t, Options{})
	box := filepath.Join(dir, testRef.Domain, "inbox", testRef.Local)
	must(t, os.MkdirAll(box, 0o700))
	md := filepath.Join(box, "2026-01-01-000000-old.md")
	must(t, os.WriteFile(md, []byte("+++\nid = \"x\"\n+++\n\nb\n"), 0o600))
	for _, p := range []string{box, md} {
		must(t, os.Chown(p, 65534, 65534))
	}
	if err := s.EnsureMailbox(context.Background(), testRef, &Owner{UID: 65534, GID: 65534}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(md)
	must(t, err)
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 || st.Gid != 65534 || fi.Mode().Perm() != 0o640 {
		t.Errorf("old file after create: %d:%d %o", st.Uid, st.Gid, fi.Mode().Perm())
	}
}
