package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// crashMessage is message i of the crash test: unique id and body.
func crashMessage(i int) []byte {
	return crlf([]byte(fmt.Sprintf("From: load@example.com\nTo: hello@agent.localhost\nSubject: crash %d\n"+
		"Message-ID: <crash-%d@example.com>\n\nbody of message %d\n%s\n", i, i, i, strings.Repeat("x", 64*(i%7)))))
}

// TestCrashDuringDeliveries SIGKILLs the daemon while clients deliver.
// After a restart, every message that got 250 is stored exactly once with
// its exact bytes, no half-written message is visible, and a sender's retry
// of everything stores nothing twice.
func TestCrashDuringDeliveries(t *testing.T) {
	t.Parallel()
	n, workers := 40, 4
	if !testing.Short() {
		n = 120
	}
	n *= crashScale
	d := StartDev(t, DaemonOptions{})

	var acked sync.Map // message index -> true
	var ackCount atomic.Int64
	var next atomic.Int64
	killAt := int64(n / 2)
	var killOnce sync.Once
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := d.Deliver("load@example.com", []string{"hello@agent.localhost"}, crashMessage(i)); err != nil {
					continue // the daemon is gone: this one was never acknowledged
				}
				acked.Store(i, true)
				if ackCount.Add(1) == killAt {
					killOnce.Do(d.Kill)
				}
			}
		}()
	}
	wg.Wait()
	killOnce.Do(d.Kill)

	d.Restart()
	check := func(stage string, want func(i int) bool) {
		msgs := readMessages(t, d.DataDir(), "agent.localhost", "hello")
		seen := map[string]int{}
		for _, m := range msgs {
			id, _ := m.FM["message_id"].(string)
			seen[id]++
			var i int
			if _, err := fmt.Sscanf(id, "crash-%d@example.com", &i); err != nil {
				t.Fatalf("%s: unexpected message %q", stage, id)
			}
			eml, err := os.ReadFile(m.EMLPath)
			if err != nil {
				t.Fatalf("%s: %s has no .eml: %v", stage, m.MDPath, err)
			}
			if !bytes.HasSuffix(eml, crashMessage(i)) {
				t.Errorf("%s: %s does not end with the bytes sent", stage, m.EMLPath)
			}
		}
		for i := 0; i < n; i++ {
			id := fmt.Sprintf("crash-%d@example.com", i)
			if seen[id] > 1 {
				t.Errorf("%s: %s stored %d times", stage, id, seen[id])
			}
			if want(i) && seen[id] != 1 {
				t.Errorf("%s: %s acknowledged with 250 but stored %d times", stage, id, seen[id])
			}
		}
		// Nothing half-written under a final name: every visible file is
		// a committed .md (parsed above) or its .eml.
		entries, _ := os.ReadDir(filepath.Join(d.DataDir(), "agent.localhost", "inbox", "hello"))
		for _, e := range entries {
			name := e.Name()
			if !strings.HasPrefix(name, ".") && !strings.HasSuffix(name, ".md") && !strings.HasSuffix(name, ".eml") {
				t.Errorf("%s: unexpected visible file %s", stage, name)
			}
		}
	}
	check("after restart", func(i int) bool { _, ok := acked.Load(i); return ok })
	t.Logf("%d of %d messages acknowledged before the kill", ackCount.Load(), n)

	// The sender retries everything it did not see acknowledged (and, to be
	// thorough, the rest too): dedup stores nothing twice.
	for i := 0; i < n; i++ {
		if err := d.Deliver("load@example.com", []string{"hello@agent.localhost"}, crashMessage(i)); err != nil {
			t.Fatalf("retry %d: %v", i, err)
		}
	}
	check("after retries", func(int) bool { return true })
}
