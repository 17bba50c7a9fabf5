package upgrade

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/aimx-dev/aimx/storage"
)

// As root, with the mail owned by its owner as the Rust aimx left it
// (0700 dirs, 0600 files), the move keeps owners and modes, and the
// start-up repair that runs after it re-owns the tree (book/storage.md).
func TestUpgradeKeepsOwnersForRepair(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("chown to another uid needs root")
	}
	const uid = 65534
	p := install(t, "v1")
	box := filepath.Join(p.DataDir, "inbox", "support")
	err := filepath.Walk(box, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, uid)
	})
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, Options{Paths: p})
	moved := filepath.Join(p.DataDir, dom, "inbox", "support")
	fi, err := os.Stat(moved)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != uid || fi.Mode().Perm() != 0o700 {
		t.Fatalf("moved mailbox %d %v, want the owner's 0700 as before", st.Uid, fi.Mode())
	}
	s, err := storage.Open(p.DataDir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ref := storage.MailboxRef{Domain: dom, Local: "support"}
	rep, err := s.Repair(context.Background(), []storage.MailboxOwner{{Ref: ref, Owner: &storage.Owner{UID: uid, GID: uid}}})
	if err != nil || rep.Reowned == 0 {
		t.Fatalf("repair %+v %v", rep, err)
	}
	fi, _ = os.Stat(moved)
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 || st.Gid != uid || fi.Mode().Perm() != 0o750 {
		t.Errorf("after repair %d:%d %v", st.Uid, st.Gid, fi.Mode())
	}
}
