package hooks

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/domains"
)

// TestRunAsOwnerWhenRoot: with a root daemon, a hook runs as its owner with
// the owner's groups only, and the kernel, not the runner, keeps it out of
// other users' files.
func TestRunAsOwnerWhenRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs euid 0: only a root daemon switches to the owner")
	}
	t.Parallel()
	owner, err := domains.LookupOwner("nobody")
	if err != nil || owner.UID != 65534 {
		// "another user" is uid 65534 even where the name differs.
		owner = Owner{Name: "nobody", UID: 65534, GID: 65534, Groups: []uint32{65534}, Home: "/nonexistent"}
	}

	// secret0700: 0600 root file in a 0700 root dir.
	// secret0755: 0600 root file in a traversable dir, so only the file's
	// own mode stops the hook.
	closed := t.TempDir()
	secretClosed := filepath.Join(closed, "secret")
	open := t.TempDir()
	secretOpen := filepath.Join(open, "secret")
	for _, p := range []string{secretClosed, secretOpen} {
		if err := os.WriteFile(p, []byte("root only\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// t.TempDir is <tmp>/<TestName><rand>/NNN, both 0700: open the chain
	// to the traversable dir and to a home the hook can write.
	home := t.TempDir()
	for _, d := range []string{filepath.Dir(open), open, home} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(home, int(owner.UID), int(owner.GID)); err != nil {
		t.Fatal(err)
	}
	owner.Home = home

	script := `id -u; id -g; id -G; pwd
cat "$1" && echo READ-CLOSED
cat "$2" && echo READ-OPEN
touch "$HOME/mine" && echo WROTE-HOME
exit 0`
	r, logs := testRunner(time.Second)
	run := baseRun(t, []string{"/bin/sh", "-c", script, "sh", secretClosed, secretOpen})
	run.Owner = owner
	res := r.Execute(context.Background(), run)
	if !res.OK() {
		t.Fatalf("run failed: %+v stderr=%s", res, res.Stderr)
	}
	want := "65534\n65534\n" + joinGroups(owner.Groups) + "\n" + home + "\nWROTE-HOME\n"
	if string(res.Stdout) != want {
		t.Errorf("stdout = %q, want %q", res.Stdout, want)
	}
	if strings.Contains(string(res.Stdout), "READ") || strings.Count(string(res.Stderr), "Permission denied") != 2 {
		t.Errorf("hook read root's files: stdout %q stderr %q", res.Stdout, res.Stderr)
	}
	fi, err := os.Stat(filepath.Join(home, "mine"))
	if err != nil {
		t.Fatalf("hook's file: %v", err)
	}
	if uid := statUID(fi); uid != 65534 {
		t.Errorf("hook's file owned by uid %d, want 65534", uid)
	}
	if !strings.Contains(logs.String(), `"owner":"`+owner.Name+`"`) {
		t.Errorf("log line lacks the owner: %s", logs)
	}
}

func joinGroups(groups []uint32) string {
	s := make([]string, len(groups))
	for i, g := range groups {
		s[i] = strconv.FormatUint(uint64(g), 10)
	}
	return strings.Join(s, " ")
}

func statUID(fi os.FileInfo) uint32 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid
	}
	return ^uint32(0)
}
