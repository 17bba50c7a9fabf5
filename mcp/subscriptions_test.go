package mcp

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"
)

// notes collects the resources/updated URIs a client hears.
type notes struct {
	mu   sync.Mutex
	uris []string
}

func (n *notes) add(nt mcpgo.JSONRPCNotification) {
	if nt.Method != mcpgo.MethodNotificationResourceUpdated {
		return
	}
	uri, _ := nt.Params.AdditionalFields["uri"].(string)
	n.mu.Lock()
	n.uris = append(n.uris, uri)
	n.mu.Unlock()
}

func (n *notes) get() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.uris...)
}

// subClient connects to ts as the bearer token's caller over streamable
// HTTP (with its GET stream, on 2025-11-25) or SSE.
func subClient(t *testing.T, ts *httptest.Server, via, version string, n *notes) *client.Client {
	t.Helper()
	var tr transport.Interface
	var err error
	hdr := map[string]string{"Authorization": "Bearer alice"}
	if via == "sse" {
		tr, err = transport.NewSSE(ts.URL+SSEPath, transport.WithHeaders(hdr))
	} else {
		opts := []transport.StreamableHTTPCOption{transport.WithHTTPHeaders(hdr)}
		if version != mcpgo.ProtocolVersion20260728 {
			//lint:ignore SA1019 2025-11-25 sessions get notifications on the GET stream, which this option opens
			opts = append(opts, transport.WithContinuousListening())
		}
		tr, err = transport.NewStreamableHTTP(ts.URL+EndpointPath, opts...)
	}
	if err != nil {
		t.Fatal(err)
	}
	cl := client.NewClient(tr, client.WithProtocolVersion(version))
	cl.OnNotification(n.add)
	initClient(t, cl, version)
	return cl
}

// Subscribed sessions hear of new mail in the mailboxes they may see, on
// every transport that can carry a notification; a mailbox they may not
// see (or that does not exist) never notifies.
func TestMailboxSubscriptions(t *testing.T) {
	t.Parallel()
	e, bus := newWaitEnv(t)
	h := e.srv.HTTPServer(TokenVerifierFunc(func(secret string) (Caller, bool) { return alice, secret == "alice" }), zerolog.Nop())
	ts := httptest.NewServer(h.Handler())
	t.Cleanup(ts.Close)
	for _, tc := range []struct{ via, version string }{
		{"http", mcpgo.ProtocolVersion20251125}, {"sse", mcpgo.ProtocolVersion20251125}, {"http", mcpgo.ProtocolVersion20260728}, {"sse", mcpgo.ProtocolVersion20260728},
	} {
		t.Run(tc.via+"/"+tc.version, func(t *testing.T) {
			n := &notes{}
			cl := subClient(t, ts, tc.via, tc.version, n)
			ctx := context.Background()
			before := e.srv.subs.subscriptions()
			mine := MailboxURIPrefix + "SUPPORT" // any spelling visibleMailbox takes
			for _, uri := range []string{mine, MailboxURIPrefix + billing, MailboxURIPrefix + "nobody@" + dom} {
				req := mcpgo.SubscribeRequest{}
				req.Params.URI = uri
				//lint:ignore SA1019 resources/subscribe is the 2025-11-25 way; on 2026-07-28 it feeds Listen's filter
				if err := cl.Subscribe(ctx, req); err != nil {
					t.Fatalf("subscribe %s: %v", uri, err)
				}
			}
			if tc.version == mcpgo.ProtocolVersion20260728 {
				stop, err := cl.ListenAsync(ctx, cl.PendingSubscriptionFilter(), nil)
				if err != nil {
					t.Fatal(err)
				}
				defer func() {
					stop()
					if tc.via == "http" { // on SSE it lasts as long as the SSE stream
						waitFor(t, "the listen stream's subscription to go", func() bool { return e.srv.subs.subscriptions() == before })
					}
				}()
			}
			waitFor(t, "the subscription", func() bool { return e.srv.subs.subscriptions() == before+1 })
			e.deliver(bus, billing, "bob's", "x@example.org", "")
			e.deliver(bus, support, "alice's", "x@example.org", "")
			waitFor(t, "the notification", func() bool { return len(n.get()) > 0 })
			time.Sleep(50 * time.Millisecond) // nothing else may follow
			if got := n.get(); len(got) != 1 || got[0] != mine {
				t.Fatalf("notified %v, want only %s", got, mine)
			}
		})
	}
}

// A mailbox resource reads as its counts and newest emails, for a caller
// that may see it; for any other it answers like a missing mailbox.
func TestMailboxResourceRead(t *testing.T) {
	t.Parallel()
	e, bus := newWaitEnv(t)
	id := e.deliver(bus, support, "hello", "Carol <carol@example.org>", "")
	cl := e.client(protocolVersions[0])
	ctx := WithCaller(context.Background(), alice)
	tpl, err := cl.ListResourceTemplates(ctx, mcpgo.ListResourceTemplatesRequest{})
	if err != nil || len(tpl.ResourceTemplates) != 1 || tpl.ResourceTemplates[0].URITemplate.Raw() != MailboxURIPrefix+"{+address}" {
		t.Fatalf("templates %+v, %v", tpl, err)
	}
	req := mcpgo.ReadResourceRequest{}
	req.Params.URI = MailboxURIPrefix + support
	res, err := cl.ReadResource(ctx, req)
	if err != nil || len(res.Contents) != 1 {
		t.Fatalf("read: %+v, %v", res, err)
	}
	var got MailboxResource
	if err := json.Unmarshal([]byte(res.Contents[0].(mcpgo.TextResourceContents).Text), &got); err != nil {
		t.Fatal(err)
	}
	if got.Name != support || got.Owner != "alice" || got.Total != 1 || got.Unread != 1 || len(got.Newest) != 1 || got.Newest[0].ID != id {
		t.Fatalf("resource %+v", got)
	}
	for _, uri := range []string{MailboxURIPrefix + billing, MailboxURIPrefix + "nobody@" + dom, "aimx://other/x"} {
		req.Params.URI = uri
		_, err := cl.ReadResource(ctx, req)
		if err == nil || !strings.Contains(err.Error(), "not found") && !strings.Contains(err.Error(), "not a mailbox") {
			t.Fatalf("read %s: %v", uri, err)
		}
		if strings.Contains(err.Error(), "bob") {
			t.Fatalf("read %s names the owner: %v", uri, err)
		}
	}
}

// A wait ends when its caller disconnects, on HTTP (the request's
// context) and on SSE (whose calls outlive the request: the session's
// end cancels them), and leaves no goroutine behind.
func TestEmailWaitEndsWithItsClient(t *testing.T) {
	e, bus := newWaitEnv(t)
	h := e.srv.HTTPServer(TokenVerifierFunc(func(secret string) (Caller, bool) { return alice, secret == "alice" }), zerolog.Nop())
	ts := httptest.NewServer(h.Handler())
	t.Cleanup(ts.Close)
	for _, via := range []string{"http", "sse"} {
		t.Run(via, func(t *testing.T) {
			runtime.GC()
			base := runtime.NumGoroutine()
			var clients []*client.Client
			var wg sync.WaitGroup
			for i := range 20 {
				cl := subClient(t, ts, via, protocolVersions[i%2], &notes{})
				clients = append(clients, cl)
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, _ = rawCall(context.Background(), cl, alice, "email_wait", map[string]any{"timeout_secs": 300})
				}()
			}
			waitFor(t, "20 waits", func() bool { return bus.Subscribers() == 20 })
			for _, cl := range clients {
				_ = cl.Close()
			}
			wg.Wait()
			waitFor(t, "the waits to end", func() bool { return bus.Subscribers() == 0 })
			ts.CloseClientConnections()
			waitFor(t, "the goroutines to end", func() bool { return runtime.NumGoroutine() <= base+5 })
		})
	}
}
