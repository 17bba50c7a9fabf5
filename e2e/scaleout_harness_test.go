package e2e

import (
	"errors"
	"fmt"
	"net/smtp"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/internal/dnstest"
	"github.com/aimx-dev/aimx/internal/pgtest"
)

// Helpers for the scale-out test (book/scale-out.md): several `aimx serve`
// nodes, each its own dev dir, over one PostgreSQL database that
// internal/pgtest provides (test plumbing, like internal/dnstest).

// TestMain stops the throwaway PostgreSQL cluster after the tests.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// scaleHookScript appends "<job id> <message id>" to $1: a job that runs
// twice shows as a repeated job id (book/hooks.md, AIMX_JOB_ID).
const scaleHookScript = `printf '%s %s\n' "$AIMX_JOB_ID" "$AIMX_MESSAGE_ID" >> "$1"
`

// scaleCluster is the nodes of one scale-out test and what they share.
type scaleCluster struct {
	t     *testing.T
	dsn   string
	nodes []*Daemon
	// addrs is each node's SMTP address while it is up, "" while it is
	// down: the load's clients read it while the test kills and restarts.
	addrs   []atomic.Pointer[string]
	hookLog string
	sink    *sink
}

// scaleConfig is one node's config.toml: the shared domain, mailbox and
// hook, the shared database under this node's name, the sink as relay.
func scaleConfig(t *testing.T, dsn, node, script, hookLog, relay string) string {
	extra := "[smtp]\nmax_connections_per_ip = 1000\n\n" +
		"[outbound]\nrelay = " + fmt.Sprintf("%q", relay) + "\nretry_base = \"1s\"\nsend_wait = \"20s\"\n\n" +
		"[storage]\nbackend = \"postgres\"\ndsn = " + fmt.Sprintf("%q", dsn) + "\nnode = " + fmt.Sprintf("%q", node) + "\n\n" +
		mailboxTOML("hello", currentUser(t), hookTOML("count", 30, true, "/bin/sh", script, hookLog))
	return hookConfig(4, extra)
}

// startScaleCluster starts n nodes ("a", "b", ...) over a fresh database.
func startScaleCluster(t *testing.T, n int) *scaleCluster {
	t.Helper()
	dsn := pgtest.DSN(t)
	shared := newDevDir(t)
	script := filepath.Join(shared, "hook.sh")
	writeScript(t, script, scaleHookScript)
	c := &scaleCluster{t: t, dsn: dsn, addrs: make([]atomic.Pointer[string], n),
		hookLog: filepath.Join(shared, "hooks.log"), sink: startSink(t, nil)}
	dns := dnstest.Start(t)
	for i := range n {
		name := string(rune('a' + i))
		cfg := scaleConfig(t, dsn, name, script, c.hookLog, c.sink.relay())
		d := StartDev(t, DaemonOptions{Dir: newDevDir(t), Config: cfg, DNS: dns.Addr()})
		c.nodes = append(c.nodes, d)
		c.setAddr(i, d.SMTPAddr())
	}
	return c
}

func (c *scaleCluster) setAddr(i int, addr string) { c.addrs[i].Store(&addr) }

// addr is node i's SMTP address, "" while it is down.
func (c *scaleCluster) addr(i int) string {
	if p := c.addrs[i].Load(); p != nil {
		return *p
	}
	return ""
}

// kill SIGKILLs node i; its clients go elsewhere from now on.
func (c *scaleCluster) kill(i int) {
	c.setAddr(i, "")
	c.nodes[i].Kill()
}

// restart starts node i again on its dir (new ports).
func (c *scaleCluster) restart(i int) {
	c.t.Helper()
	c.nodes[i].Restart()
	c.setAddr(i, c.nodes[i].SMTPAddr())
}

// errPermanent marks a 5xx reply: a sending MTA gives up rather than
// trying another MX.
var errPermanent = errors.New("permanent SMTP failure")

// deliverAny delivers data starting with node first and going round the
// others on any temporary failure (a refused connection, a dropped one, a
// 4xx), as a sending MTA with several MX records does, until one answers
// 250 or the deadline passes. It returns the node that took it.
func (c *scaleCluster) deliverAny(first int, rcpt string, data []byte, deadline time.Time) (int, error) {
	var last error
	for try := 0; ; try++ {
		i := (first + try) % len(c.nodes)
		if addr := c.addr(i); addr != "" {
			err := smtpDeliver(addr, "load@example.com", rcpt, data)
			if err == nil {
				return i, nil
			}
			var te *textproto.Error
			if errors.As(err, &te) && te.Code >= 500 {
				return i, fmt.Errorf("%w: node %d: %v", errPermanent, i, err)
			}
			last = err
		}
		if time.Now().After(deadline) {
			return -1, fmt.Errorf("no node took the message: %v", last)
		}
		if try%len(c.nodes) == len(c.nodes)-1 {
			time.Sleep(50 * time.Millisecond) // every node failed once: back off a little
		}
	}
}

// smtpDeliver sends one message over plain SMTP to addr; nil means 250.
func smtpDeliver(addr, from, rcpt string, data []byte) error {
	cl, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.Hello("client.test"); err != nil {
		return err
	}
	if err := cl.Mail(from); err != nil {
		return err
	}
	if err := cl.Rcpt(rcpt); err != nil {
		return err
	}
	w, err := cl.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	_ = cl.Quit() // the 250 has been read: the message is ours
	return nil
}

// scaleMessage is message i of the load: its number in the subject and
// the Message-ID.
func scaleMessage(i int) []byte {
	return crlf([]byte(fmt.Sprintf("From: load@example.com\nTo: hello@agent.localhost\nSubject: scale %d\n"+
		"Message-ID: <scale-%d@example.com>\nDate: Mon, 23 Nov 2026 10:00:00 +0000\n\nbody of message %d\n%s\n",
		i, i, i, strings.Repeat("y", 50*(i%5)))))
}

// listSubjects pages through a mailbox's email_list with cursors and
// counts each subject; total is what the first page said matches.
func listSubjects(t *testing.T, s *mcpSession, mailbox string) (map[string]int, int) {
	t.Helper()
	seen := map[string]int{}
	args := map[string]any{"mailbox": mailbox, "limit": 200}
	total := -1
	for page := 0; ; page++ {
		r := s.call("email_list", args).ok(t)
		if total < 0 {
			n, _ := r.s["total"].(float64)
			total = int(n)
		}
		emails, _ := r.s["emails"].([]any)
		for _, e := range emails {
			m, _ := e.(map[string]any)
			sub, _ := m["subject"].(string)
			seen[sub]++
		}
		next, _ := r.s["next_cursor"].(string)
		if next == "" || len(emails) == 0 {
			return seen, total
		}
		if page > 1000 {
			t.Fatal("email_list: more than 1,000 pages")
		}
		args["cursor"] = next
	}
}

// hookRuns reads the hook log: the job ids of each message id, and how
// many times each job id ran.
func hookRuns(t *testing.T, path string) (jobsOf map[string]map[string]bool, runs map[string]int) {
	t.Helper()
	jobsOf, runs = map[string]map[string]bool{}, map[string]int{}
	for _, l := range lines(t, path) {
		job, msg, ok := strings.Cut(l, " ")
		if !ok || job == "" {
			t.Fatalf("hook log line %q: want \"<job id> <message id>\"", l)
		}
		if jobsOf[msg] == nil {
			jobsOf[msg] = map[string]bool{}
		}
		jobsOf[msg][job] = true
		runs[job]++
	}
	return jobsOf, runs
}
