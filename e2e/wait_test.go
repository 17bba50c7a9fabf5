package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
)

// email_wait and the mailbox resource subscriptions through the real
// binary (book/mcp.md, "Waiting for mail").

// waitMsg is a message to local@devDomain with a subject of its own.
func waitMsg(local, subject string) []byte {
	return crlf([]byte(fmt.Sprintf("From: Carol <carol@example.org>\nTo: %s@%s\nSubject: %s\nMessage-ID: <%d.%s@example.org>\n"+
		"Date: Mon, 23 Nov 2026 10:00:00 +0000\n\nBody of %s.\n", local, devDomain, subject, time.Now().UnixNano(), local, subject)))
}

// waitCall calls email_wait off the test goroutine; the answer is decoded
// on it (waitAnswer).
func waitCall(cl *client.Client, args map[string]any) <-chan any {
	out := make(chan any, 1)
	go func() {
		req := mcpgo.CallToolRequest{}
		req.Params.Name = "email_wait"
		req.Params.Arguments = args
		res, err := cl.CallTool(context.Background(), req)
		if err != nil {
			out <- err
			return
		}
		out <- res
	}()
	return out
}

// waitAnswer is the structuredContent of a successful email_wait.
func waitAnswer(t *testing.T, ch <-chan any) map[string]any {
	t.Helper()
	select {
	case v := <-ch:
		res, ok := v.(*mcpgo.CallToolResult)
		if !ok {
			t.Fatalf("email_wait: %v", v)
		}
		if res.IsError {
			t.Fatalf("email_wait failed: %+v", res.Content)
		}
		raw, err := json.Marshal(res.StructuredContent)
		if err != nil {
			t.Fatal(err)
		}
		var s map[string]any
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		return s
	case <-time.After(60 * time.Second):
		t.Fatal("email_wait did not return")
	}
	return nil
}

// subjects lists the subjects of a wait's emails.
func subjects(s map[string]any) []string {
	var out []string
	for _, e := range s["emails"].([]any) {
		out = append(out, e.(map[string]any)["subject"].(string))
	}
	return out
}

// A wait on every transport and protocol version returns the message
// delivered over SMTP while it waits, with a cursor that carries on.
func TestEmailWaitEveryTransport(t *testing.T) {
	t.Parallel()
	d := StartDev(t, DaemonOptions{})
	for _, via := range transports {
		for _, v := range protocolVersions {
			t.Run(via+"/"+v, func(t *testing.T) {
				t.Parallel()
				s := d.devConnect(t, via, v)
				local := fmt.Sprintf("w-%s-%s", via, strings.ReplaceAll(v, "-", ""))
				s.call("mailbox_create", map[string]any{"name": local}).ok(t)
				// A cursor first, so the wait below misses nothing even
				// if it registers after the delivery.
				cursor := s.call("email_wait", map[string]any{"mailbox": local, "timeout_secs": 0}).ok(t).s["cursor"]
				ch := waitCall(s.cl, map[string]any{"mailbox": local, "since_cursor": cursor, "timeout_secs": 30})
				time.Sleep(100 * time.Millisecond)
				if err := d.Deliver("carol@example.org", []string{local + "@" + devDomain}, waitMsg(local, "wake "+local)); err != nil {
					t.Fatal(err)
				}
				got := waitAnswer(t, ch)
				if subj := subjects(got); len(subj) != 1 || subj[0] != "wake "+local || got["timed_out"] != false {
					t.Fatalf("email_wait = %v", got)
				}
				row := got["emails"].([]any)[0].(map[string]any)
				if row["mailbox"] != local+"@"+devDomain || row["from"] != "Carol <carol@example.org>" {
					t.Fatalf("row %v", row)
				}
				// The row reads back, and the next wait has nothing new.
				s.call("email_read", map[string]any{"mailbox": local, "id": row["id"]}).ok(t)
				r := s.call("email_wait", map[string]any{"since_cursor": got["cursor"], "mailbox": local, "timeout_secs": 0}).ok(t)
				if len(r.s["emails"].([]any)) != 0 {
					t.Fatalf("the cursor repeated %v", r.s)
				}
			})
		}
	}
}

// 100 callers on aimx.sock wait at once for one message each: every one
// sees exactly its own.
func TestEmailWaitHundredCallers(t *testing.T) {
	t.Parallel()
	d := StartDev(t, DaemonOptions{})
	first := d.devConnect(t, viaUnix, protocolVersions[0])
	first.call("mailbox_create", map[string]any{"name": "many"}).ok(t)
	cursor := first.call("email_wait", map[string]any{"mailbox": "many", "timeout_secs": 0}).ok(t).s["cursor"]
	const n = 100
	waits := make([]<-chan any, n)
	for i := range n {
		s := d.devConnect(t, viaUnix, protocolVersions[i%2])
		waits[i] = waitCall(s.cl, map[string]any{"mailbox": "many", "subject": fmt.Sprintf("<w%03d>", i),
			"since_cursor": cursor, "timeout_secs": 50})
	}
	time.Sleep(200 * time.Millisecond)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 10)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs <- d.Deliver("carol@example.org", []string{"many@" + devDomain}, waitMsg("many", fmt.Sprintf("order <w%03d>", i)))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if subj := subjects(waitAnswer(t, waits[i])); len(subj) != 1 || subj[0] != fmt.Sprintf("order <w%03d>", i) {
			t.Fatalf("caller %d got %v", i, subj)
		}
	}
}

// A session subscribed to its mailbox (resources/subscribe on
// 2025-11-25, subscriptions/listen on 2026-07-28) hears of mail delivered
// over SMTP; one subscribed to a mailbox it may not see hears nothing.
func TestMailboxSubscriptionOverHTTP(t *testing.T) {
	t.Parallel()
	d := StartDev(t, DaemonOptions{})
	owner := d.devConnect(t, viaUnix, protocolVersions[0])
	owner.call("mailbox_create", map[string]any{"name": "subs"}).ok(t)
	uri := "aimx://mailbox/subs@" + devDomain
	for _, v := range protocolVersions {
		t.Run(v, func(t *testing.T) {
			opts := []transport.StreamableHTTPCOption{transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + d.MCPToken()})}
			if v == mcpgo.ProtocolVersion20251125 {
				//lint:ignore SA1019 2025-11-25 sessions get notifications on the GET stream, which this option opens
				opts = append(opts, transport.WithContinuousListening())
			}
			tr, err := transport.NewStreamableHTTP("http://"+d.Listen["mcp_http"]+"/mcp", opts...)
			if err != nil {
				t.Fatal(err)
			}
			cl := client.NewClient(tr, client.WithProtocolVersion(v))
			heard := make(chan string, 10)
			cl.OnNotification(func(n mcpgo.JSONRPCNotification) {
				if n.Method == mcpgo.MethodNotificationResourceUpdated {
					heard <- fmt.Sprint(n.Params.AdditionalFields["uri"])
				}
			})
			ctx := context.Background()
			if err := cl.Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cl.Close() })
			init := mcpgo.InitializeRequest{}
			init.Params.ProtocolVersion = v
			init.Params.ClientInfo = mcpgo.Implementation{Name: "aimx-e2e", Version: "1"}
			if _, err := cl.Initialize(ctx, init); err != nil {
				t.Fatal(err)
			}
			req := mcpgo.SubscribeRequest{}
			req.Params.URI = uri
			//lint:ignore SA1019 resources/subscribe is the 2025-11-25 way; on 2026-07-28 it feeds Listen's filter
			if err := cl.Subscribe(ctx, req); err != nil {
				t.Fatal(err)
			}
			if v == mcpgo.ProtocolVersion20260728 {
				stop, err := cl.ListenAsync(ctx, cl.PendingSubscriptionFilter(), nil)
				if err != nil {
					t.Fatal(err)
				}
				defer stop()
			}
			// The subscription is recorded when the request is served;
			// deliver until the first notification (the listen stream
			// opens asynchronously).
			deadline := time.Now().Add(20 * time.Second)
			for {
				if err := d.Deliver("carol@example.org", []string{"subs@" + devDomain}, waitMsg("subs", "note "+v)); err != nil {
					t.Fatal(err)
				}
				select {
				case got := <-heard:
					if got != uri {
						t.Fatalf("notified %q, want %q", got, uri)
					}
					rr := mcpgo.ReadResourceRequest{}
					rr.Params.URI = uri
					res, err := cl.ReadResource(ctx, rr)
					if err != nil || !strings.Contains(res.Contents[0].(mcpgo.TextResourceContents).Text, "note "+v) {
						t.Fatalf("read %s: %+v, %v", uri, res, err)
					}
					return
				case <-time.After(300 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					t.Fatal("no notifications/resources/updated")
				}
			}
		})
	}
}

// A shutdown does not wait for waits in flight: they are answered and
// the daemon stops cleanly, well within the shutdown deadline.
func TestEmailWaitDoesNotHoldShutdown(t *testing.T) {
	t.Parallel()
	d := StartDev(t, DaemonOptions{})
	s := d.devConnect(t, viaUnix, protocolVersions[0])
	s.call("mailbox_create", map[string]any{"name": "stop"}).ok(t)
	cursor := s.call("email_wait", map[string]any{"mailbox": "stop", "timeout_secs": 0}).ok(t).s["cursor"]
	ch := waitCall(s.cl, map[string]any{"mailbox": "stop", "since_cursor": cursor, "timeout_secs": 300})
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	d.Signal(syscall.SIGTERM)
	if code := d.Wait(20 * time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, d.Stderr())
	}
	if took := time.Since(start); took > 10*time.Second || strings.Contains(d.Stderr(), "still busy") {
		t.Fatalf("shutdown took %v\n%s", took, d.Stderr())
	}
	select {
	case <-ch: // answered (timed_out) or cut by the closing connection
	case <-time.After(5 * time.Second):
		t.Fatal("the wait was not answered at shutdown")
	}
}
