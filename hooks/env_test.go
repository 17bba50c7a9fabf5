package hooks

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// hostileSubject carries every shell metacharacter a sender could use; the
// hook must see it as bytes and nothing may ever evaluate it.
func hostileSubject(dir string) string {
	return "Re: $(touch " + dir + "/pwned) `touch " + dir + "/pwned2` 'single' \"double\" ; touch " +
		dir + "/pwned3 && echo $HOME | rm -rf /nonexistent\nsecond line\r\n\ttab $((1+1)) ${PATH} \\ end"
}

func TestHostileSubjectReachesHookLiterally(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	subject := hostileSubject(dir)
	r, _ := testRunner(time.Second)

	// The Go helper dumps its environment.
	run := baseRun(t, helperArgv(t, "env"))
	run.Env.Subject = subject
	run.Env.From = "Mallory <$(id)@evil.test>"
	res := r.Execute(context.Background(), run)
	if !res.OK() {
		t.Fatalf("helper run failed: %+v stderr=%s", res, res.Stderr)
	}
	env := parseEnv(t, res.Stdout)
	if got := env["AIMX_SUBJECT"]; got != subject {
		t.Errorf("AIMX_SUBJECT = %q, want %q", got, subject)
	}
	if got := env["AIMX_FROM"]; got != run.Env.From {
		t.Errorf("AIMX_FROM = %q, want %q", got, run.Env.From)
	}

	// A shell hook that quotes the variable writes the same bytes: the
	// shell is the hook's own command, the daemon never uses one.
	home := t.TempDir()
	run = baseRun(t, []string{"/bin/sh", "-c", `printf %s "$AIMX_SUBJECT" > out`})
	run.Owner.Home = home
	run.Env.Subject = subject
	res = r.Execute(context.Background(), run)
	if !res.OK() {
		t.Fatalf("sh hook failed: %+v stderr=%s", res, res.Stderr)
	}
	out, err := os.ReadFile(filepath.Join(home, "out"))
	if err != nil {
		t.Fatalf("read hook output: %v", err)
	}
	if string(out) != subject {
		t.Errorf("sh hook wrote %q, want %q", out, subject)
	}

	for _, name := range []string{"pwned", "pwned2", "pwned3"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists (err=%v): the subject was evaluated", name, err)
		}
	}
}

func parseEnv(t *testing.T, out []byte) map[string]string {
	t.Helper()
	env := map[string]string{}
	for kv := range strings.SplitSeq(string(out), "\x00") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("malformed env entry %q", kv)
		}
		if _, dup := env[k]; dup {
			t.Fatalf("duplicate env key %q", k)
		}
		env[k] = v
	}
	return env
}

func TestEnvironmentIsExactlyTheAllowedSet(t *testing.T) {
	t.Setenv("AIMX_LEAK_CANARY", "daemon-secret") // must not reach the hook
	vars := Vars{
		Mailbox:    "support@a.test",
		From:       "Alice <alice@b.test>",
		To:         "support@a.test",
		Subject:    "Hello",
		FilePath:   "/var/lib/aimx/a.test/inbox/support/2026-01-02-030405-hello.md",
		ID:         "2026-01-02-030405-hello",
		MessageID:  "m1@b.test",
		Date:       "2026-01-02T03:04:05Z",
		Trusted:    "true",
		SendStatus: "delivered",
	}
	tests := []struct {
		event      string
		sendStatus bool
	}{
		{EventOnReceive, false},
		{EventAfterSend, true},
	}
	for _, tc := range tests {
		t.Run(tc.event, func(t *testing.T) {
			r, _ := testRunner(time.Second)
			run := baseRun(t, helperArgv(t, "env"))
			run.Event = tc.event
			run.HookName = "triage"
			run.JobID = "job-42"
			run.Env = vars
			res := r.Execute(context.Background(), run)
			if !res.OK() {
				t.Fatalf("run failed: %+v stderr=%s", res, res.Stderr)
			}
			want := map[string]string{
				"PATH":            "/usr/local/bin:/usr/bin:/bin",
				"HOME":            run.Owner.Home,
				"AIMX_HOOK_NAME":  "triage",
				"AIMX_JOB_ID":     "job-42",
				"AIMX_EVENT":      tc.event,
				"AIMX_MAILBOX":    vars.Mailbox,
				"AIMX_FROM":       vars.From,
				"AIMX_TO":         vars.To,
				"AIMX_SUBJECT":    vars.Subject,
				"AIMX_FILEPATH":   vars.FilePath,
				"AIMX_ID":         vars.ID,
				"AIMX_MESSAGE_ID": vars.MessageID,
				"AIMX_DATE":       vars.Date,
				"AIMX_TRUSTED":    vars.Trusted,
			}
			if tc.sendStatus {
				want["AIMX_SEND_STATUS"] = vars.SendStatus
			}
			got := parseEnv(t, res.Stdout)
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("unexpected variable %s=%q", k, got[k])
				}
			}
		})
	}
}

func TestEnvValue(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", maxVarBytes-1) + "é" + "tail"
	tests := []struct {
		name, in, want string
	}{
		{"plain", "hello", "hello"},
		{"metacharacters", "$(x) `y` ; \n'\"", "$(x) `y` ; \n'\""},
		{"NUL dropped", "a\x00b\x00", "ab"},
		{"cut on rune boundary", long, strings.Repeat("a", maxVarBytes-1)},
	}
	for _, tc := range tests {
		if got := envValue(tc.in); got != tc.want {
			t.Errorf("%s: envValue = %q..., want %q...", tc.name, head([]byte(got)), head([]byte(tc.want)))
		}
	}
	if !slices.Contains((&Run{Event: EventAfterSend}).environ(), "AIMX_SEND_STATUS=") {
		t.Errorf("after_send run lacks AIMX_SEND_STATUS")
	}
}
