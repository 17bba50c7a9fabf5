package storage

// Regression tests for the findings of the security review (book/security.md).
// Each names its finding. The races are driven through Options.Seam, which
// runs the attacker's step between two of the store's steps.

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// swapForSymlink moves dir aside and puts a symlink to target in its place,
// as an owner who could write the parent would.
func swapForSymlink(t *testing.T, dir, target string) {
	t.Helper()
	if err := os.Rename(dir, dir+"-moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, dir); err != nil {
		t.Fatal(err)
	}
}

// assertEmptyDir fails when dir holds anything.
func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range des {
		t.Errorf("%s gained %s", dir, d.Name())
	}
}

// within fails the test when fn does not return in time (a FIFO would
// block it forever).
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s blocked", what)
	}
}

// C2: SetRead re-resolved the bundle path, so a bundle dir swapped for a
// symlink between the lookup and the write sent the write anywhere.
func TestC2_SetReadBundleSwapWritesNowhereElse(t *testing.T) {
	t.Parallel()
	target := t.TempDir()
	var swapped string
	s, _ := openTestStore(t, Options{Seam: func(at Seam, path string) {
		if at == SeamReadStateLocated {
			swapForSymlink(t, path, target)
			swapped = path
		}
	}})
	st := putMsg(t, s, PutRequest{Frontmatter: inboundFM("bundle"), Body: "b",
		Attachments: []Attachment{{Filename: "a.txt", Data: []byte("x")}}})
	if _, err := s.SetRead(context.Background(), testRef, Inbox, st.ID, true); err != nil {
		t.Fatal(err)
	}
	if swapped == "" {
		t.Fatal("the seam never ran")
	}
	assertEmptyDir(t, target)
	b, err := os.ReadFile(filepath.Join(swapped+"-moved", st.ID+".md"))
	if err != nil || !strings.Contains(string(b), "read = true") {
		t.Fatalf("the held bundle dir was not the one written: %v\n%s", err, b)
	}
}

// C3: putBundle wrote tmp/<name> by path after Mkdir+Chmod, so swapping
// the temp dir for a symlink wrote attachments anywhere and chmodded the
// target 0700.
func TestC3_BundleTempSwapWritesNowhereElse(t *testing.T) {
	t.Parallel()
	target := t.TempDir()
	if err := os.Chmod(target, 0o755); err != nil {
		t.Fatal(err)
	}
	ran := false
	s, _ := openTestStore(t, Options{Seam: func(at Seam, path string) {
		if at == SeamBundleTempMade {
			swapForSymlink(t, path, target)
			ran = true
		}
	}})
	_, err := s.Put(context.Background(), PutRequest{Mailbox: testRef, Folder: Inbox, Raw: []byte("raw"),
		Frontmatter: inboundFM("bundle"), Body: "b",
		Attachments: []Attachment{{Filename: "payload.sh", Data: []byte("x")}}})
	if !ran {
		t.Fatal("the seam never ran")
	}
	// The publish renames the symlink's name, not the held dir: either way
	// nothing lands in the target and its mode is untouched.
	_ = err
	assertEmptyDir(t, target)
	if m := mode(t, target); m != 0o755 {
		t.Errorf("target mode %o, want 755", m)
	}
}

// H1: a 1 TiB sparse .md made Read and the index build read it whole.
func TestH1_SparseMessageRefusedNotRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dir := openTestStore(t, Options{MaxFileBytes: 1 << 20})
	good := putMsg(t, s, PutRequest{Frontmatter: inboundFM("good"), Body: "b"})
	box := filepath.Join(dir, testRef.Domain, "inbox", testRef.Local)
	f, err := os.Create(filepath.Join(box, "2026-10-07-150000-huge.md"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 40); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// A frontmatter that never ends, under the file cap but over the
	// frontmatter cap.
	long := "+++\n" + strings.Repeat("x = 1\n", MaxFrontmatterBytes/6+10)
	if err := os.WriteFile(filepath.Join(box, "2026-10-07-150001-long.md"), []byte(long), 0o640); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir, Options{MaxFileBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	within(t, "Read of a sparse file", func() {
		if _, err := s2.Read(ctx, testRef, Inbox, "2026-10-07-150000-huge"); !errors.Is(err, ErrTooLarge) {
			t.Errorf("Read = %v, want ErrTooLarge", err)
		}
		if _, err := s2.OpenMD(ctx, testRef, Inbox, "2026-10-07-150000-huge"); !errors.Is(err, ErrTooLarge) {
			t.Errorf("OpenMD = %v, want ErrTooLarge", err)
		}
	})
	within(t, "List", func() {
		res, err := s2.List(ctx, ListQuery{Mailbox: testRef})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range res.Messages {
			if m.ID == "2026-10-07-150000-huge" {
				t.Error("the sparse file is listed")
			}
		}
		found := false
		for _, m := range res.Messages {
			found = found || m.ID == good.ID
		}
		if !found {
			t.Error("the good message is not listed")
		}
	})
}

// M1: a FIFO in place of a .md blocked every reader on open(2).
func TestM1_FIFOMessageRefusedWithoutBlocking(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dir := openTestStore(t, Options{})
	bundle := putMsg(t, s, PutRequest{Raw: []byte("raw"), Frontmatter: inboundFM("bundle"), Body: "b",
		Attachments: []Attachment{{Filename: "a.txt", Data: []byte("x")}}})
	box := filepath.Join(dir, testRef.Domain, "inbox", testRef.Local)
	if err := syscall.Mkfifo(filepath.Join(box, "2026-10-07-150000-fifo.md"), 0o640); err != nil {
		t.Fatal(err)
	}
	eml := filepath.Join(pathsOf(t, s, testRef, Inbox, bundle.ID).Bundle, bundle.ID+".eml")
	if err := os.Remove(eml); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(eml, 0o640); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	within(t, "reads of FIFOs", func() {
		if _, err := s2.Read(ctx, testRef, Inbox, "2026-10-07-150000-fifo"); !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrNotRegular) {
			t.Errorf("Read(fifo) = %v", err)
		}
		if _, err := s2.OpenRaw(ctx, testRef, Inbox, bundle.ID); !errors.Is(err, ErrNotRegular) && !errors.Is(err, ErrNotFound) {
			t.Errorf("OpenRaw(fifo) = %v", err)
		}
		if _, err := s2.List(ctx, ListQuery{Mailbox: testRef}); err != nil {
			t.Errorf("List = %v", err)
		}
	})
}

// Symlinks are never followed, whatever they point at.
func TestReadRefusesSymlinkedMessage(t *testing.T) {
	t.Parallel()
	s, dir := openTestStore(t, Options{})
	putMsg(t, s, PutRequest{Frontmatter: inboundFM("x"), Body: "b"})
	secret := filepath.Join(t.TempDir(), "secret.md")
	if err := os.WriteFile(secret, EncodeMD(&Frontmatter{ID: "s", Subject: "secret"}, "root only"), 0o600); err != nil {
		t.Fatal(err)
	}
	box := filepath.Join(dir, testRef.Domain, "inbox", testRef.Local)
	if err := os.Symlink(secret, filepath.Join(box, "2026-10-07-150000-link.md")); err != nil {
		t.Fatal(err)
	}
	for _, fn := range []func() error{
		func() error {
			_, err := s.Read(context.Background(), testRef, Inbox, "2026-10-07-150000-link")
			return err
		},
		func() error {
			_, err := s.OpenMD(context.Background(), testRef, Inbox, "2026-10-07-150000-link")
			return err
		},
	} {
		if err := fn(); !errors.Is(err, ErrNotFound) {
			t.Errorf("got %v, want ErrNotFound", err)
		}
	}
}

// M6: a mailbox removed from the config by hand and created again by
// another owner inherited the old owner's mail.
func TestM6_ForeignMailNotInherited(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: owners are only recorded when the daemon can chown")
	}
	t.Parallel()
	ctx := context.Background()
	s, dir := openTestStore(t, Options{})
	alice := &Owner{UID: 65534, GID: 65534}
	mallory := &Owner{UID: 1, GID: 1}
	if err := s.EnsureMailbox(ctx, testRef, alice); err != nil {
		t.Fatal(err)
	}
	putMsg(t, s, PutRequest{Owner: alice, Frontmatter: inboundFM("private"), Body: "b"})
	if err := s.EnsureMailbox(ctx, testRef, mallory); !errors.Is(err, ErrForeignMail) {
		t.Fatalf("EnsureMailbox by another owner = %v, want ErrForeignMail", err)
	}
	box := filepath.Join(dir, testRef.Domain, "inbox", testRef.Local)
	var st unix.Stat_t
	if err := unix.Stat(box, &st); err != nil || st.Gid != 65534 {
		t.Fatalf("the refused create changed the group: %d %v", st.Gid, err)
	}
	if err := s.EnsureMailbox(ctx, testRef, alice); err != nil {
		t.Fatalf("the same owner again: %v", err)
	}
	// The operator's --force: wipe, then create.
	if _, err := s.RemoveMailbox(ctx, testRef); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureMailbox(ctx, testRef, mallory); err != nil {
		t.Fatalf("after the wipe: %v", err)
	}
	// Storage in the old modes (owned by the owner, no marker) is judged
	// by its uid.
	old := MailboxRef{Domain: testRef.Domain, Local: "old"}
	for _, f := range []string{"inbox", "sent"} {
		p := filepath.Join(dir, old.Domain, f, old.Local)
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, old.Domain, "inbox", old.Local, "2026-01-01-000000-x.md"), []byte("+++\n+++\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureMailbox(ctx, old, mallory); !errors.Is(err, ErrForeignMail) {
		t.Fatalf("old-mode storage = %v, want ErrForeignMail", err)
	}
}

// The root cause: an owner can read its mail but change nothing under
// the data dir (book/storage.md modes).
func TestOwnerCanReadButNotWrite(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to act as another user")
	}
	t.Parallel()
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} { // t.TempDir is 0700
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(base, "data")
	s, err := Open(dir, Options{Now: fixedClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	owner := &Owner{UID: 65534, GID: 65534}
	if err := s.EnsureMailbox(context.Background(), testRef, owner); err != nil {
		t.Fatal(err)
	}
	st := pathsOf(t, s, testRef, Inbox, putMsg(t, s, PutRequest{Owner: owner, Raw: []byte("raw"), Frontmatter: inboundFM("x"), Body: "hello owner",
		Attachments: []Attachment{{Filename: "a.txt", Data: []byte("x")}}}).ID)
	box := filepath.Join(dir, testRef.Domain, "inbox", testRef.Local)
	asOwner := func(name string, args ...string) error {
		cmd := exec.Command(name, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return errors.New(string(out))
		}
		return nil
	}
	if err := asOwner("cat", st.MD); err != nil {
		t.Errorf("the owner cannot read its mail: %v", err)
	}
	for _, args := range [][]string{
		{"touch", filepath.Join(box, "planted.md")},
		{"touch", filepath.Join(st.Bundle, "planted")},
		{"mv", st.Bundle, st.Bundle + "-x"},
		{"rm", "-f", st.MD},
		{"chmod", "777", box},
	} {
		if err := asOwner(args[0], args[1:]...); err == nil {
			t.Errorf("the owner could run %v", args)
		}
	}
}
