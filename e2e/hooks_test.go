package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// markerScript appends the message id to $1 after sleeping 3 s when the
// subject starts with "slow", writing $1.started first.
const markerScript = `printf '%s\n' "$AIMX_MESSAGE_ID" >> "$1.started"
case "$AIMX_SUBJECT" in slow*) sleep 3;; esac
printf '%s\n' "$AIMX_MESSAGE_ID" >> "$1"
`

// TestHookOriginalBug is the Rust aimx bug, end to end: the SMTP 250 must
// not wait for the hook, and a re-delivery must not fire it again.
func TestHookOriginalBug(t *testing.T) {
	t.Parallel()
	dir := newDevDir(t)
	writeScript(t, filepath.Join(dir, "hook.sh"), markerScript)
	marker := filepath.Join(dir, "marker")
	cfg := hookConfig(1, mailboxTOML("hello", currentUser(t),
		hookTOML("marker", 60, true, "/bin/sh", "$DIR/hook.sh", "$DIR/marker"),
		hookTOML("trusted-only", 60, false, "/bin/sh", "$DIR/hook.sh", "$DIR/never")))
	d := StartDev(t, DaemonOptions{Dir: dir, Config: cfg})
	rcpt := []string{"hello@" + hookDomain}
	slow := hookMessage(rcpt[0], "slow-1@example.test", "slow one")

	if err := d.Deliver("bob@example.test", rcpt, slow); err != nil {
		t.Fatalf("first delivery: %v", err)
	}
	// 250 has arrived: the 3 s hook cannot have finished.
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("marker exists when 250 arrived (%v): the hook ran inside the SMTP transaction", err)
	}
	if got := waitLines(t, marker, 1); strings.Join(got, ",") != "slow-1@example.test" {
		t.Fatalf("marker %q", got)
	}
	if err := d.Deliver("bob@example.test", rcpt, slow); err != nil {
		t.Fatalf("re-delivery: %v", err)
	}
	// One worker runs jobs in order: once the next message's hook has
	// run, a job from the re-delivery would have run before it.
	if err := d.Deliver("bob@example.test", rcpt, hookMessage(rcpt[0], "fast-2@example.test", "fast two")); err != nil {
		t.Fatal(err)
	}
	got := waitLines(t, marker, 2)
	if strings.Join(got, ",") != "slow-1@example.test,fast-2@example.test" {
		t.Fatalf("marker holds %q: the re-delivery fired the hook again", got)
	}
	if len(readMessages(t, d.DataDir(), hookDomain, "hello")) != 2 {
		t.Error("want 2 stored messages")
	}
	// The trust gate: trusted = "none" mail never fires a hook without
	// fire_on_untrusted, and each skip is logged.
	if _, err := os.Stat(filepath.Join(dir, "never")); !os.IsNotExist(err) {
		t.Error("the trusted-only hook fired for untrusted mail")
	}
	if n := len(logLines(d, `"hook skipped"`, `"hook":"trusted-only"`, `"reason":"untrusted"`)); n != 2 {
		t.Errorf("%d skip lines for trusted-only, want 2 (one per stored message)", n)
	}
	for _, m := range readMessages(t, d.DataDir(), hookDomain, "hello") {
		if due, _ := m.FM["hooks_due"].([]any); len(due) != 1 || due[0] != "marker" {
			t.Errorf("%s: hooks_due %v", m.MDPath, m.FM["hooks_due"])
		}
	}
}

// crashScript logs each start and end; a "block" subject sleeps the first
// time only, so the daemon can be killed while it runs.
const crashScript = `log="$1"
printf 'start %s %s %s\n' "$AIMX_JOB_ID" "$AIMX_MESSAGE_ID" "$$" >> "$log"
case "$AIMX_SUBJECT" in
block*) if [ ! -e "$log.blocked" ]; then : > "$log.blocked"; sleep 120; fi;;
esac
printf 'end %s %s\n' "$AIMX_JOB_ID" "$AIMX_MESSAGE_ID" >> "$log"
`

// TestHookCrashRecovery: SIGKILL during a run; after restart the run is
// repeated with the same AIMX_JOB_ID, and a run that had finished is not.
func TestHookCrashRecovery(t *testing.T) {
	t.Parallel()
	dir := newDevDir(t)
	writeScript(t, filepath.Join(dir, "hook.sh"), crashScript)
	log := filepath.Join(dir, "runs")
	cfg := hookConfig(1, mailboxTOML("hello", currentUser(t), hookTOML("crash", 300, true, "/bin/sh", "$DIR/hook.sh", "$DIR/runs")))
	d := StartDev(t, DaemonOptions{Dir: dir, Config: cfg})
	rcpt := []string{"hello@" + hookDomain}
	if err := d.Deliver("bob@example.test", rcpt, hookMessage(rcpt[0], "a@example.test", "fast a")); err != nil {
		t.Fatal(err)
	}
	waitLines(t, log, 2) // start a, end a
	if err := d.Deliver("bob@example.test", rcpt, hookMessage(rcpt[0], "b@example.test", "block b")); err != nil {
		t.Fatal(err)
	}
	got := waitLines(t, log, 3)
	f := strings.Fields(got[2])
	if len(f) != 4 || f[0] != "start" || f[2] != "b@example.test" {
		t.Fatalf("third line %q, want b's start", got[2])
	}
	jobB := f[1]
	d.Kill()
	// The hook has its own process group and outlives the daemon: end it
	// so it cannot write later.
	if pid, err := strconv.Atoi(f[3]); err == nil {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
	d.Restart()
	got = waitLines(t, log, 5)
	want := []string{"start", "end", "start", "start", "end"}
	for i, l := range got {
		if i >= len(want) || !strings.HasPrefix(l, want[i]+" ") {
			t.Fatalf("runs after restart:\n%s", strings.Join(got, "\n"))
		}
	}
	if f := strings.Fields(got[3]); f[1] != jobB || f[2] != "b@example.test" {
		t.Errorf("re-run %q, want b with job id %s", got[3], jobB)
	}
	if f := strings.Fields(got[4]); f[1] != jobB {
		t.Errorf("end %q, want job %s", got[4], jobB)
	}
	// a finished before the kill: with one worker and recovery in receipt
	// order, a re-run of a would have come before b's.
	if n := strings.Count(strings.Join(got, "\n"), "start "+strings.Fields(got[0])[1]); n != 1 {
		t.Errorf("a started %d times, want 1", n)
	}
	d.Stop()
}

// TestHookHostileInput: a subject full of shell syntax reaches
// AIMX_SUBJECT as literal bytes and runs nothing; a hook that ignores
// SIGTERM is killed on time; a hook printing 10 MB costs the daemon no
// more than a fixed buffer.
func TestHookHostileInput(t *testing.T) {
	t.Parallel()
	dir := newDevDir(t)
	writeScript(t, filepath.Join(dir, "subject.sh"), `printf '%s' "$AIMX_SUBJECT" > "$1.tmp" && mv "$1.tmp" "$1"`+"\n")
	writeScript(t, filepath.Join(dir, "forever.sh"), `trap '' TERM
echo $$ > "$1"
while :; do sleep 1; done
`)
	writeScript(t, filepath.Join(dir, "flood.sh"), "/usr/bin/yes aimx | /usr/bin/head -c 10485760\n")
	user := currentUser(t)
	cfg := hookConfig(4,
		mailboxTOML("subject", user, hookTOML("subject", 60, true, "/bin/sh", "$DIR/subject.sh", "$DIR/subject.out"))+
			mailboxTOML("forever", user, hookTOML("forever", 1, true, "/bin/sh", "$DIR/forever.sh", "$DIR/forever.pid"))+
			mailboxTOML("flood", user, hookTOML("flood", 60, true, "/bin/sh", "$DIR/flood.sh")))
	d := StartDev(t, DaemonOptions{Dir: dir, Config: cfg})

	// The forever hook first: its 1 s timeout and 5 s grace run while
	// the other cases go on.
	if err := d.Deliver("bob@example.test", []string{"forever@" + hookDomain}, hookMessage("forever@"+hookDomain, "f@example.test", "forever")); err != nil {
		t.Fatal(err)
	}

	pwned := filepath.Join(dir, "pwned")
	// RFC 2047 carries a newline and quotes into the decoded subject.
	subject := "$(touch " + pwned + ") `touch " + pwned + "` \"dq\" 'sq' ; =?utf-8?q?line1=0Aline2_=24=28id=29?="
	if err := d.Deliver("bob@example.test", []string{"subject@" + hookDomain}, hookMessage("subject@"+hookDomain, "s@example.test", subject)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "subject.out")
	waitUntil(t, "the subject hook", func() bool { _, err := os.Stat(out); return err == nil })
	gotSubject, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	msgs := readMessages(t, d.DataDir(), hookDomain, "subject")
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	stored, _ := msgs[0].FM["subject"].(string)
	if string(gotSubject) != stored {
		t.Errorf("AIMX_SUBJECT %q differs from the stored subject %q", gotSubject, stored)
	}
	for _, s := range []string{"$(touch ", "`touch ", `"dq"`, "'sq'", "line1\nline2 $(id)"} {
		if !strings.Contains(string(gotSubject), s) {
			t.Errorf("AIMX_SUBJECT %q lacks the literal %q", gotSubject, s)
		}
	}
	if _, err := os.Stat(pwned); !os.IsNotExist(err) {
		t.Errorf("the subject was executed: %s exists", pwned)
	}

	// RSS: a warm-up run first, so what is measured is the flood.
	flood := func(id string) string {
		t.Helper()
		if err := d.Deliver("bob@example.test", []string{"flood@" + hookDomain}, hookMessage("flood@"+hookDomain, id, "flood")); err != nil {
			t.Fatal(err)
		}
		return waitLog(t, d, `"message":"hook run"`, `"message_id":"`+id+`"`)
	}
	flood("warm@example.test")
	before := vmRSS(t, d)
	line := flood("big@example.test")
	after := vmRSS(t, d)
	var rec struct {
		StdoutBytes int64  `json:"stdout_bytes"`
		Stdout      string `json:"stdout"`
		ExitCode    int    `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.StdoutBytes != 10<<20 || rec.ExitCode != 0 || len(rec.Stdout) != 64<<10 {
		t.Errorf("flood run: %d bytes out, exit %d, logged tail %d bytes; want 10 MiB, 0, the last 64 KiB", rec.StdoutBytes, rec.ExitCode, len(rec.Stdout))
	}
	if grow := after - before; grow >= 5<<10 {
		t.Errorf("daemon RSS grew by %d KiB for a 10 MB hook output (before %d KiB, after %d KiB)", grow, before, after)
	} else {
		t.Logf("RSS %d KiB → %d KiB (%+d KiB) for a 10 MB hook output", before, after, grow)
	}

	killed := waitLog(t, d, `"message":"hook run"`, `"hook":"forever"`)
	var kr struct {
		TimedOut   bool  `json:"timed_out"`
		Killed     bool  `json:"killed"`
		DurationMS int64 `json:"duration_ms"`
	}
	if err := json.Unmarshal([]byte(killed), &kr); err != nil {
		t.Fatal(err)
	}
	if !kr.TimedOut || !kr.Killed || kr.DurationMS < 5000 || kr.DurationMS > 30000 {
		t.Errorf("forever hook: %s; want timed out at 1 s and killed 5 s later", killed)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "forever.pid")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
			if err := syscall.Kill(pid, 0); err == nil {
				t.Errorf("the hook process %d still runs after its log line", pid)
			}
		}
	} else {
		t.Errorf("forever hook never started: %v", err)
	}
	d.Stop()
}

// vmRSS reads the daemon's resident set size in KiB.
func vmRSS(t testing.TB, d *Daemon) int64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(d.cmd.Process.Pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestHookRelativeCmdRejectedAtLoad: a config whose hook cmd[0] is not
// absolute stops the daemon at start, naming the key.
func TestHookRelativeCmdRejectedAtLoad(t *testing.T) {
	t.Parallel()
	dir := newDevDir(t)
	cfg := hookConfig(1, mailboxTOML("hello", currentUser(t), hookTOML("rel", 60, true, "touch", "$DIR/pwned")))
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(strings.ReplaceAll(cfg, "$DIR", dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(aimxBinary(t), "serve", "--dev", "--dir", dir, "--smtp", "127.0.0.1:0", "--mcp-http", "127.0.0.1:0")
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("aimx serve started with a relative hook cmd[0]")
	}
	if err == nil || !strings.Contains(string(out), "absolute") || !strings.Contains(string(out), "cmd") {
		t.Errorf("serve: err %v, output:\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); !os.IsNotExist(err) {
		t.Error("the relative command ran")
	}
}

// TestHookCreateIsLive: `aimx hooks create` against a running daemon (over
// aimx.sock) makes the hook fire for the very next message, without a
// restart or a signal: the change is live when the command returns.
func TestHookCreateIsLive(t *testing.T) {
	t.Parallel()
	dir := newDevDir(t)
	writeScript(t, filepath.Join(dir, "hook.sh"), markerScript)
	d := StartDev(t, DaemonOptions{Dir: dir, Config: hookConfig(1, mailboxTOML("hello", currentUser(t)))})
	stdout, stderr, code := d.CLI("hooks", "create", "--mailbox", "hello", "--event", "on_receive", "--name", "live",
		"--fire-on-untrusted", "--", "/bin/sh", filepath.Join(dir, "hook.sh"), filepath.Join(dir, "marker"))
	if code != 0 || !strings.Contains(stdout, "live") || strings.Contains(stderr, "not running") {
		t.Fatalf("hooks create: %d\n%s\n%s", code, stdout, stderr)
	}
	rcpt := []string{"hello@" + hookDomain}
	if err := d.Deliver("bob@example.test", rcpt, hookMessage(rcpt[0], "live@example.test", "live")); err != nil {
		t.Fatal(err)
	}
	if got := waitLines(t, filepath.Join(dir, "marker"), 1); got[0] != "live@example.test" {
		t.Errorf("marker %q", got)
	}
	if stdout, _, code := d.CLI("hooks", "list", "--json"); code != 0 || !strings.Contains(stdout, `"live"`) {
		t.Errorf("hooks list: %d %s", code, stdout)
	}
	if _, stderr, code := d.CLI("hooks", "delete", "live"); code != 0 {
		t.Fatalf("hooks delete: %d %s", code, stderr)
	}
	d.Stop()
}
