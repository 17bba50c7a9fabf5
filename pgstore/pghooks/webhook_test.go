package pghooks_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/hooks"
	"github.com/aimx-dev/aimx/pgstore/pghooks"
)

// TestWebhookAnyNodeOnce: a webhook runs on nodes where its mailbox owner
// is no user at all, and across two nodes each delivery is made by one:
// a failed try is retried by the node that holds the job, never by both.
func TestWebhookAnyNodeOnce(t *testing.T) {
	var mu sync.Mutex
	posts := map[string]int{} // webhook-id (the job id) → POSTs
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("webhook-id")
		mu.Lock()
		posts[id]++
		first := posts[id] == 1
		mu.Unlock()
		if first {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)

	c := newCluster(t, "alice")
	cfg := c.reg.Current().Clone()
	cfg.Hooks.WebhookAllowPrivate = true
	cfg.Hooks.WebhookHTTPHosts = []string{"127.0.0.1"}
	mb := cfg.Mailboxes[mailbox]
	mb.Webhooks = []domains.Webhook{{Name: "crm", URL: srv.URL + "/in", Events: []domains.Event{domains.EventOnReceive},
		Secret: "whsec_dGhpcy1pcy1hLXRlc3Qtc2VjcmV0LW9mLTMyLWJ5dGU="}}
	cfg.Mailboxes[mailbox] = mb
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c.reg = domains.NewRegistry(cfg)

	now := time.Now()
	var ids []string
	for i := range 10 {
		m := c.put("w"+string(rune('a'+i)), now.Add(-5*time.Minute+time.Duration(i)*time.Second), "webhook:crm")
		ids = append(ids, hooks.JobID(hooks.EventOnReceive, mailbox, m.ID, "webhook:crm", 0))
	}
	setCheckpoint(t, pghooks.New(openDB(t, c.dsn, "setup"), pghooks.Options{}), now.Add(-time.Hour))
	var wg sync.WaitGroup
	states := make([]*pghooks.State, 2)
	for i, name := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, states[i] = c.node(name, owners("tester"), 0)
		}()
	}
	wg.Wait()
	waitDone(t, states[0], ids...)
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if posts[id] != 2 {
			t.Errorf("webhook job %s: %d POSTs, want 2 (a 503, then the 200)", id, posts[id])
		}
	}
	if len(posts) != len(ids) {
		t.Errorf("POSTs for %d job ids, want %d", len(posts), len(ids))
	}
}
