package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// loopConfig: two mailboxes whose on_receive hooks answer every message
// with aimx send, the classic mail loop between two agents.
const loopConfig = `domains = ["agent.localhost"]
data_dir = "$DIR/data"
runtime_dir = "$DIR/run"

[smtp]
tls_cert = "$DIR/tls/cert.pem"
tls_key = "$DIR/tls/key.pem"

[outbound]
send_wait = "5s"

[mailboxes."ping@agent.localhost"]
address = "ping@agent.localhost"
owner = "root"

[[mailboxes."ping@agent.localhost".hooks]]
name = "ping-answers"
event = "on_receive"
cmd = ["/bin/sh", "-c", "exec $BIN --config-dir $DIR send --from \"$AIMX_MAILBOX\" --to \"$AIMX_FROM\" --subject answer --body ok"]
fire_on_untrusted = true

[mailboxes."pong@agent.localhost"]
address = "pong@agent.localhost"
owner = "root"

[[mailboxes."pong@agent.localhost".hooks]]
name = "pong-answers"
event = "on_receive"
cmd = ["/bin/sh", "-c", "exec $BIN --config-dir $DIR send --from \"$AIMX_MAILBOX\" --to \"$AIMX_FROM\" --subject answer --body ok"]
fire_on_untrusted = true
`

func TestTwoAnsweringAgentsDoNotLoop(t *testing.T) {
	t.Parallel()
	cfg := strings.ReplaceAll(testOwner(t, loopConfig), "$BIN", aimxBinary(t))
	d := StartDev(t, DaemonOptions{Config: cfg})
	// The first message is a person's: pong answers it, ping gets an
	// automatic answer and does not answer back.
	if out, errOut, code := d.CLI("send", "--from", "ping@agent.localhost", "--to", "pong@agent.localhost", "--subject", "hello", "--body", "hi"); code != 0 {
		t.Fatalf("send: %s %s", out, errOut)
	}
	count := func(mb string) int {
		es, _ := os.ReadDir(filepath.Join(d.DataDir(), "agent.localhost", "inbox", mb))
		n := 0
		for _, e := range es {
			if strings.HasSuffix(e.Name(), ".md") {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(30 * time.Second)
	for count("ping") < 1 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	// Give a loop every chance to show itself before counting.
	time.Sleep(2 * time.Second)
	if p, q := count("ping"), count("pong"); p != 1 || q != 1 {
		t.Fatalf("ping holds %d messages, pong %d: want exactly one each (the exchange stops after the automatic answer)", p, q)
	}
	logs := d.Stderr() + d.Stdout()
	if !strings.Contains(logs, `"reason":"auto_submitted"`) || !strings.Contains(logs, "ping-answers") {
		t.Fatalf("no log line says why the hook did not fire:\n%s", tail(logs, 3000))
	}
	raw, err := os.ReadFile(firstEML(t, filepath.Join(d.DataDir(), "agent.localhost", "inbox", "ping")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "Auto-Submitted: auto-replied") {
		t.Fatalf("the hook's answer is not marked automatic:\n%s", raw)
	}
}

// firstEML is the path of the first .eml in a mailbox dir.
func firstEML(t *testing.T, dir string) string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if strings.HasSuffix(e.Name(), ".eml") {
			return filepath.Join(dir, e.Name())
		}
	}
	t.Fatalf("no .eml in %s", dir)
	return ""
}

func tail(s string, n int) string {
	if len(s) > n {
		return fmt.Sprint("...", s[len(s)-n:])
	}
	return s
}
