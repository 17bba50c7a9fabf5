package e2e

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Helpers for the hook tests: configs with hooks, hook scripts, waiting on
// files and log lines, and a non-dev `aimx serve`.

const hookDomain = "agent.localhost"

// currentUser is the login name running the tests (the owner of dev
// mailboxes, so their hooks resolve).
func currentUser(t testing.TB) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

// hookConfig is a dev config with data and runtime under $DIR, the given
// worker count and extra TOML (mailboxes and hooks) appended.
func hookConfig(workers int, extra string) string {
	return "domains = [\"" + hookDomain + "\"]\n" +
		"data_dir = \"$DIR/data\"\nruntime_dir = \"$DIR/run\"\n\n" +
		"[hooks]\nworkers = " + strconv.Itoa(workers) + "\n\n" + extra
}

// mailboxTOML is one mailbox table followed by hook tables.
func mailboxTOML(local, owner string, hooks ...string) string {
	name := local + "@" + hookDomain
	s := "[mailboxes.\"" + name + "\"]\naddress = \"" + name + "\"\nowner = \"" + owner + "\"\n\n"
	for _, h := range hooks {
		s += "[[mailboxes.\"" + name + "\".hooks]]\n" + h + "\n"
	}
	return s
}

// hookTOML is the body of one on_receive hook table running a script with
// arguments; fire_on_untrusted because dev mail is trusted = "none".
func hookTOML(name string, timeoutSecs int, untrusted bool, argv ...string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "\"" + a + "\""
	}
	s := "name = \"" + name + "\"\nevent = \"on_receive\"\ncmd = [" + strings.Join(q, ", ") + "]\n" +
		"timeout_secs = " + strconv.Itoa(timeoutSecs) + "\n"
	if untrusted {
		s += "fire_on_untrusted = true\n"
	}
	return s
}

// newDevDir makes a short dev dir (socket paths stay under 108 bytes),
// traversable so a hook running as another user can reach its scripts.
func newDevDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "axh")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeScript writes an executable /bin/sh script.
func writeScript(t testing.TB, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// hookMessage is a small message with a Message-ID.
func hookMessage(to, msgID, subject string) []byte {
	return []byte("From: Bob <bob@example.test>\r\nTo: " + to + "\r\nSubject: " + subject + "\r\nMessage-ID: <" + msgID +
		">\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nHello.\r\n")
}

// waitUntil polls cond until it holds; the 60 s limit is only a backstop.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lines reads a file as lines; a missing file has none.
func lines(t testing.TB, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSuffix(string(data), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// waitLines waits until the file holds at least n lines and returns them.
func waitLines(t testing.TB, path string, n int) []string {
	t.Helper()
	var got []string
	waitUntil(t, filepath.Base(path)+" to hold "+strconv.Itoa(n)+" lines", func() bool {
		got = lines(t, path)
		return len(got) >= n
	})
	return got
}

// logLines returns the daemon's JSON log lines holding every substring.
func logLines(d *Daemon, subs ...string) []string {
	var out []string
	for _, l := range strings.Split(d.Stderr(), "\n") {
		ok := true
		for _, s := range subs {
			if !strings.Contains(l, s) {
				ok = false
				break
			}
		}
		if ok && l != "" {
			out = append(out, l)
		}
	}
	return out
}

// waitLog waits for a log line holding every substring and returns it.
func waitLog(t testing.TB, d *Daemon, subs ...string) string {
	t.Helper()
	var got []string
	waitUntil(t, "log line with "+strings.Join(subs, " "), func() bool {
		got = logLines(d, subs...)
		return len(got) > 0
	})
	return got[0]
}

// StartServe runs non-dev `aimx serve --config-dir DIR` on a config
// already written to DIR/config.toml whose runtime_dir is DIR/run, and
// waits until it is ready.
func StartServe(t testing.TB, dir string, env ...string) *Daemon {
	t.Helper()
	d := &Daemon{t: t, Dir: dir, Args: []string{"serve", "--config-dir", dir}, Env: env}
	d.Start()
	t.Cleanup(func() { d.Kill() })
	return d
}
