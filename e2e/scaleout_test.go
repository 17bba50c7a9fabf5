package e2e

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestScaleOutThreeNodes drives three `aimx serve` nodes over one
// PostgreSQL database (book/scale-out.md) like the world would: SMTP
// clients spread deliveries across the nodes and go to another node when
// one fails, as an MTA does with several MX records, while one node is
// SIGKILLed mid-load and restarted. Then: every acknowledged message is
// stored exactly once (counted through one node's email_list), the
// on_receive hook fired once for each (a job interrupted by the kill may
// run again, under the same AIMX_JOB_ID), email_send through each node
// reaches the relay once, and a mailbox created through node A's admin
// CLI receives through node B at once.
//
// Not parallel: the kill and the "within a second" of a config change are
// about this test's nodes, not about the load of every other e2e test.
func TestScaleOutThreeNodes(t *testing.T) {
	n, workers, kill := 2000, 8, true
	if testing.Short() {
		n, workers, kill = 200, 4, false
	}
	c := startScaleCluster(t, 3)
	const killed = 2 // node c
	rcpt := "hello@agent.localhost"

	// The load: message i goes first to node i%3.
	var acks atomic.Int64
	var next atomic.Int64
	var back atomic.Bool       // node c is up again after the kill
	var tookAfter atomic.Int64 // messages node c took since
	tookBy := make([]int, n)   // node that answered 250, -1 for none
	failed := make([]error, n)
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				node, err := c.deliverAny(i%3, rcpt, scaleMessage(i), time.Now().Add(30*time.Second))
				tookBy[i], failed[i] = node, err
				if err == nil {
					acks.Add(1)
					if node == killed && back.Load() {
						tookAfter.Add(1)
					}
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	killedAt, restartedAt := int64(-1), int64(-1)
	if kill {
		waitAcks := func(k int64) {
			for acks.Load() < k {
				select {
				case <-done:
					t.Fatalf("the load ended at %d acknowledgements, before %d", acks.Load(), k)
				case <-time.After(5 * time.Millisecond):
				}
			}
		}
		waitAcks(int64(n / 3))
		killedAt = acks.Load()
		c.kill(killed)
		waitAcks(int64(n / 2))
		c.restart(killed)
		back.Store(true)
		restartedAt = acks.Load()
	}
	<-done
	t.Logf("%d deliveries over %d clients in %s; node c killed at %d acks, back at %d",
		n, workers, time.Since(start).Round(time.Millisecond), killedAt, restartedAt)
	per := make([]int, 3)
	for i := range n {
		if failed[i] != nil {
			t.Errorf("message %d: %v", i, failed[i])
			continue
		}
		per[tookBy[i]]++
	}
	t.Logf("taken by node a, b, c: %v (node c after its restart: %d)", per, tookAfter.Load())
	if kill && tookAfter.Load() == 0 {
		t.Error("node c took no message after its restart")
	}
	for i, k := range per {
		if k == 0 {
			t.Errorf("node %c took no message: the load did not spread", 'a'+i)
		}
	}

	// Stored exactly once: every subject once, through node A's view.
	a := c.nodes[0].devConnect(t, viaUnix, protocolVersions[0])
	seen, total := listSubjects(t, a, "hello")
	if total != n {
		t.Errorf("email_list total %d, want %d", total, n)
	}
	for i := range n {
		if failed[i] == nil && seen[fmt.Sprintf("scale %d", i)] != 1 {
			t.Errorf("message %d acknowledged with 250 but listed %d times", i, seen[fmt.Sprintf("scale %d", i)])
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct subjects listed, want %d", len(seen), n)
	}

	// Every due hook fired once: one job per message, each job run once,
	// save a job the kill interrupted (the same job id again).
	var jobsOf map[string]map[string]bool
	var runs map[string]int
	waitUntil(t, "a hook run for every message", func() bool {
		jobsOf, runs = hookRuns(t, c.hookLog)
		return len(jobsOf) >= n
	})
	time.Sleep(time.Second) // a duplicate run would show up now
	jobsOf, runs = hookRuns(t, c.hookLog)
	for i := range n {
		id := fmt.Sprintf("scale-%d@example.com", i)
		jobs := jobsOf[id]
		if jobs == nil {
			jobs = jobsOf["<"+id+">"]
		}
		if len(jobs) != 1 {
			t.Errorf("message %d: hook jobs %v, want exactly one", i, jobs)
		}
	}
	if len(jobsOf) != n {
		t.Errorf("hook runs for %d message ids, want %d", len(jobsOf), n)
	}
	reruns := 0
	for job, k := range runs {
		switch {
		case k == 2 && kill:
			reruns++
		case k > 1:
			t.Errorf("job %s ran %d times", job, k)
		}
	}
	if reruns > 4 { // [hooks] workers = 4: at most that many were running on the killed node
		t.Errorf("%d jobs ran twice; only the killed node's running jobs (at most 4) may", reruns)
	}
	t.Logf("%d hook jobs re-run after the kill", reruns)

	// Sends from each node reach the relay once.
	subjects := map[string]bool{}
	for k, d := range c.nodes {
		s := d.devConnect(t, viaUnix, protocolVersions[0])
		for j := range 2 {
			sub := fmt.Sprintf("send from %c #%d", 'a'+k, j)
			subjects[sub] = true
			s.call("email_send", map[string]any{"from_mailbox": "hello", "to": "alice@example.org",
				"subject": sub, "body": "one of six"}).ok(t)
		}
	}
	c.sink.waitMessages(t, len(subjects))
	time.Sleep(2 * time.Second) // a second delivery of any of them would arrive now
	got := map[string]int{}
	for _, m := range c.sink.messages() {
		got[headerValue(m.Data, "Subject")]++
	}
	for sub := range subjects {
		if got[sub] != 1 {
			t.Errorf("%q reached the relay %d times, want once", sub, got[sub])
		}
	}
	if len(c.sink.messages()) != len(subjects) {
		t.Errorf("the relay holds %d messages, want %d", len(c.sink.messages()), len(subjects))
	}

	// A mailbox created through node A receives through node B at once.
	fresh := "fresh@agent.localhost"
	if err := smtpDeliver(c.addr(1), "x@example.com", fresh, hookMessage(fresh, "early@example.com", "early")); err == nil {
		t.Fatal("node b accepted mail for fresh@ before it was created")
	}
	if out, errOut, code := c.nodes[0].CLI("mailboxes", "create", "fresh"); code != 0 || !strings.Contains(out, "created mailbox "+fresh) {
		t.Fatalf("mailboxes create through node a: %d %q %q", code, out, errOut)
	}
	created := time.Now()
	for {
		err := smtpDeliver(c.addr(1), "x@example.com", fresh, hookMessage(fresh, "fresh-1@example.com", "fresh one"))
		if err == nil {
			break
		}
		if time.Since(created) > time.Second {
			t.Fatalf("node b still refuses fresh@ %s after node a created it: %v", time.Since(created).Round(time.Millisecond), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("node b took mail for the new mailbox %s after node a created it", time.Since(created).Round(time.Millisecond))
	b := c.nodes[1].devConnect(t, viaUnix, protocolVersions[0])
	if seen, total := listSubjects(t, b, "fresh"); total != 1 || seen["fresh one"] != 1 {
		t.Errorf("fresh@ through node b: total %d, subjects %v", total, seen)
	}
}

// headerValue is the unfolded value of the first header field name in a
// message, "" when there is none.
func headerValue(msg []byte, name string) string {
	for _, l := range strings.Split(string(headerOf(msg)), "\n") {
		k, v, ok := strings.Cut(strings.TrimRight(l, "\r"), ":")
		if ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
