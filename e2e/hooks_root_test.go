package e2e

import (
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// probeScript records who the hook runs as and whether it can list another
// owner's mailbox.
const probeScript = `out="$1"
{
  id -u
  if ls "$2" >/dev/null 2>&1; then echo readable; else echo denied; fi
} > "$out.tmp" && mv "$out.tmp" "$out"
`

// TestHookRunsAsOwnerNonDev runs non-dev `aimx serve` as root with a
// mailbox owned by nobody: its stored files belong to root with nobody's group, and its
// hook runs as uid 65534 and cannot read a root-owned mailbox. Under root
// every prerequisite must hold: a root-only test that skips under root
// would hide a broken setup, so it fails instead.
func TestHookRunsAsOwnerNonDev(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the daemon must switch to the mailbox owner (runs in CI, which is root)")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("running as root but user nobody does not resolve: %v", err)
	}
	if nobody.Uid != "65534" {
		t.Fatalf("user nobody has uid %s, want 65534", nobody.Uid)
	}
	dir := newDevDir(t) // 0755: nobody reaches the probe script
	outDir := filepath.Join(dir, "out")
	if err := os.Mkdir(outDir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(outDir, 0o777); err != nil { // umask
		t.Fatal(err)
	}
	writeScript(t, filepath.Join(dir, "probe.sh"), probeScript)
	private := filepath.Join(dir, "data", hookDomain, "inbox", "private")
	cfg := "domains = [\"" + hookDomain + "\"]\ndata_dir = \"" + dir + "/data\"\nruntime_dir = \"" + dir + "/run\"\n\n" +
		"[smtp]\nlisten = \"127.0.0.1:0\"\n\n" +
		mailboxTOML("bot", "nobody", hookTOML("probe", 60, true, "/bin/sh", dir+"/probe.sh", outDir+"/result", private)) +
		mailboxTOML("private", "root")
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(cfg), 0o640); err != nil {
		t.Fatal(err)
	}
	d := StartServe(t, dir)
	if err := d.Deliver("bob@example.test", []string{"private@" + hookDomain}, hookMessage("private@"+hookDomain, "p@example.test", "secret")); err != nil {
		t.Fatal(err)
	}
	if err := d.Deliver("bob@example.test", []string{"bot@" + hookDomain}, hookMessage("bot@"+hookDomain, "n@example.test", "hello bot")); err != nil {
		t.Fatal(err)
	}
	got := waitLines(t, filepath.Join(outDir, "result"), 2)
	if got[0] != "65534" {
		t.Errorf("hook ran as uid %s, want 65534", got[0])
	}
	if got[1] != "denied" {
		t.Errorf("hook could list root's mailbox %s: %s", private, got[1])
	}
	msgs := readMessages(t, d.DataDir(), hookDomain, "bot")
	if len(msgs) != 1 {
		t.Fatalf("%d messages for bot", len(msgs))
	}
	mailboxDir := filepath.Join(d.DataDir(), hookDomain, "inbox", "bot")
	for _, p := range []string{mailboxDir, msgs[0].MDPath, strings.TrimSuffix(msgs[0].MDPath, ".md") + ".eml"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		// book/storage.md: the daemon's user owns it, nobody's group reads it.
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 || st.Gid != 65534 {
			t.Errorf("%s is owned by %d:%d, want 0:65534", p, st.Uid, st.Gid)
		}
	}
	if line := waitLog(t, d, `"message":"hook run"`, `"hook":"probe"`); !strings.Contains(line, `"owner":"nobody"`) || !strings.Contains(line, `"exit_code":0`) {
		t.Errorf("hook run line: %s", line)
	}
	d.Stop()
}
