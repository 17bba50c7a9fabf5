package mcp

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	mcpgo "github.com/mark3labs/mcp-go/mcp"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/mailbus"
	"github.com/aimx-dev/aimx/storage"
)

// newWaitEnv is newEnv with a new-mail broadcast.
func newWaitEnv(t *testing.T) (*env, *mailbus.Bus) {
	t.Helper()
	e := newEnv(t)
	bus := mailbus.New(mailbus.Options{Epoch: "epoch-1"})
	e.srv = NewServer(Deps{Registry: e.reg, Store: e.store, Mailboxes: e.ops, NewMail: bus})
	return e, bus
}

// deliver stores one inbox message in mailbox and publishes it, as intake
// does before the 250; it returns the message's id.
func (e *env) deliver(bus *mailbus.Bus, mailbox, subject, from, thread string) string {
	e.t.Helper()
	fm := inbound(subject, from, "true")
	fm.ReceivedAt = time.Now().UTC().Truncate(time.Second)
	fm.To, fm.DeliveredTo = []string{mailbox}, mailbox
	if thread != "" {
		fm.ThreadID = thread
	}
	id := e.put(mailbox, storage.Inbox, fm.ReceivedAt, fm, "body of "+subject)
	bus.Publish(mailbox, id, fm.ReceivedAt)
	return id
}

// waitFor polls cond until it holds (a loose backstop of 10 s).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// rawCall is a tools/call that may run off the test goroutine: the
// result is checked by the caller on the test goroutine (e.check).
func rawCall(ctx context.Context, cl *client.Client, who Caller, tool string, args map[string]any) (*mcpgo.CallToolResult, error) {
	req := mcpgo.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = args
	return cl.CallTool(WithCaller(ctx, who), req)
}

// asyncWait starts email_wait as who and returns where its result lands
// once the wait is registered with the bus.
func (e *env) asyncWait(bus *mailbus.Bus, cl *client.Client, who Caller, args map[string]any) <-chan result {
	e.t.Helper()
	before := bus.Subscribers()
	raw := make(chan *mcpgo.CallToolResult, 1)
	errc := make(chan error, 1)
	go func() {
		res, err := rawCall(context.Background(), cl, who, "email_wait", args)
		raw <- res
		errc <- err
	}()
	waitFor(e.t, "the wait to register", func() bool { return bus.Subscribers() > before || len(raw) > 0 })
	out := make(chan result, 1)
	go func() {
		res := <-raw
		if err := <-errc; err != nil {
			out <- result{isError: true, text: "protocol error: " + err.Error()}
			return
		}
		out <- result{structured: map[string]any{"raw": res}}
	}()
	return out
}

// got checks an asyncWait result on the test goroutine.
func (e *env) got(ch <-chan result) result {
	e.t.Helper()
	select {
	case r := <-ch:
		if r.isError {
			e.t.Fatal(r.text)
		}
		return e.check("email_wait", r.structured["raw"].(*mcpgo.CallToolResult))
	case <-time.After(20 * time.Second):
		e.t.Fatal("email_wait did not return")
	}
	return result{}
}

// ids lists the "mailbox/id" of a wait's emails.
func ids(r result) []string {
	var out []string
	for _, m := range r.structured["emails"].([]any) {
		row := m.(map[string]any)
		out = append(out, row["mailbox"].(string)+"/"+row["id"].(string))
	}
	return out
}

func TestEmailWaitWakesOnNewMail(t *testing.T) {
	t.Parallel()
	e, bus := newWaitEnv(t)
	for _, v := range protocolVersions {
		t.Run(v, func(t *testing.T) {
			cl := e.client(v)
			ch := e.asyncWait(bus, cl, alice, map[string]any{"mailbox": "support", "timeout_secs": 30})
			id := e.deliver(bus, support, "hello "+v, "Carol <carol@example.org>", "")
			r := e.got(ch)
			if got := ids(r); len(got) != 1 || got[0] != support+"/"+id {
				t.Fatalf("emails %v, want %s/%s", got, support, id)
			}
			row := r.structured["emails"].([]any)[0].(map[string]any)
			if row["subject"] != "hello "+v || row["from"] != "Carol <carol@example.org>" || row["read"] != false || row["trusted"] != "true" {
				t.Fatalf("row %v", row)
			}
			if r.structured["timed_out"] != false || r.structured["cursor"] == "" || !strings.Contains(r.text, id) {
				t.Fatalf("result %v / %q", r.structured, r.text)
			}
			if n := bus.Subscribers(); n != 0 {
				t.Fatalf("%d subscribers left after the wait", n)
			}
		})
	}
}

func TestEmailWaitVisibilityAndFilters(t *testing.T) {
	t.Parallel()
	e, bus := newWaitEnv(t)
	cl := e.client(protocolVersions[0])
	// A mailbox alice may not see answers like a missing one.
	want := e.callAs(cl, alice, "email_list", map[string]any{"mailbox": "billing"}).fails(t, "not found").text
	if got := e.callAs(cl, alice, "email_wait", map[string]any{"mailbox": "billing", "timeout_secs": 0}).fails(t, "not found").text; got != want {
		t.Fatalf("email_wait on billing: %q, want %q", got, want)
	}
	for _, bad := range []map[string]any{
		{"timeout_secs": 301}, {"timeout_secs": -1}, {"limit": 0}, {"limit": 201},
		{"since": "yesterday"}, {"since_cursor": "not-a-cursor"}, {"thread": "x"},
	} {
		e.callAs(cl, alice, "email_wait", bad).fails(t, "")
	}
	e.callAs(cl, Caller{Owner: "carol"}, "email_wait", map[string]any{"timeout_secs": 0}).fails(t, "no mailbox")

	// Bob waits on every mailbox he can see: mail to alice's support
	// never reaches him; his own billing does.
	bobWait := e.asyncWait(bus, cl, bob, map[string]any{"timeout_secs": 30})
	e.deliver(bus, support, "for alice", "x@example.org", "")
	billingID := e.deliver(bus, billing, "for bob", "y@example.org", "")
	if got := ids(e.got(bobWait)); len(got) != 1 || got[0] != billing+"/"+billingID {
		t.Fatalf("bob got %v", got)
	}

	// Filters: from, subject and thread_id; the non-matching mail is
	// passed over, the wait goes on.
	for _, tc := range []struct {
		args  map[string]any
		match [3]string // subject, from, thread
	}{
		{map[string]any{"from": "DAVE@"}, [3]string{"s1", "dave@example.org", ""}},
		{map[string]any{"subject": "invoice"}, [3]string{"Your INVOICE 7", "z@example.org", ""}},
		{map[string]any{"thread_id": "thread-42"}, [3]string{"re: x", "z@example.org", "thread-42"}},
	} {
		tc.args["mailbox"], tc.args["timeout_secs"] = support, 30
		ch := e.asyncWait(bus, cl, alice, tc.args)
		e.deliver(bus, support, "other", "other@example.org", "thread-0")
		id := e.deliver(bus, support, tc.match[0], tc.match[1], tc.match[2])
		if got := ids(e.got(ch)); len(got) != 1 || got[0] != support+"/"+id {
			t.Fatalf("%v: got %v, want %s", tc.args, got, id)
		}
	}
}

// Mail stored before the call, after since, is returned at once; with a
// cursor, consecutive waits miss nothing and repeat nothing.
func TestEmailWaitSinceAndCursor(t *testing.T) {
	t.Parallel()
	e, bus := newWaitEnv(t)
	cl := e.client(protocolVersions[1])
	before := time.Now().UTC().Add(-time.Second).Format(time.RFC3339)
	id1 := e.deliver(bus, support, "already here", "a@example.org", "")
	start := time.Now()
	r := e.callAs(cl, alice, "email_wait", map[string]any{"mailbox": support, "since": before}).ok(t)
	if got := ids(r); len(got) != 1 || got[0] != support+"/"+id1 || time.Since(start) > 5*time.Second {
		t.Fatalf("since: got %v after %v", got, time.Since(start))
	}
	cursor := r.structured["cursor"].(string)

	// Two arrive while nobody waits; the next waits return them, in
	// order, limit 1 at a time, then nothing.
	id2 := e.deliver(bus, support, "second", "a@example.org", "")
	id3 := e.deliver(bus, support, "third", "a@example.org", "")
	var got []string
	for range 2 {
		r = e.callAs(cl, alice, "email_wait", map[string]any{"since_cursor": cursor, "limit": 1, "timeout_secs": 0}).ok(t)
		got = append(got, ids(r)...)
		cursor = r.structured["cursor"].(string)
	}
	if want := []string{support + "/" + id2, support + "/" + id3}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("cursor waits got %v, want %v", got, want)
	}
	r = e.callAs(cl, alice, "email_wait", map[string]any{"since_cursor": cursor, "timeout_secs": 0}).ok(t)
	if len(ids(r)) != 0 || r.structured["timed_out"] != true {
		t.Fatalf("nothing new: %v", r.structured)
	}

	// since and a cursor together: the listed row is not returned again
	// when its broadcast comes after the answer.
	id4 := e.deliver(bus, support, "fourth", "a@example.org", "")
	cursor = r.structured["cursor"].(string)

	// After a restart (a new bus, another epoch) the cursor falls back
	// to the store from a minute before it: nothing is lost.
	e2 := *e
	bus2 := mailbus.New(mailbus.Options{Epoch: "epoch-2"})
	e2.srv = NewServer(Deps{Registry: e.reg, Store: e.store, Mailboxes: e.ops, NewMail: bus2})
	cl2 := e2.client(protocolVersions[0])
	r = e2.callAs(cl2, alice, "email_wait", map[string]any{"since_cursor": cursor, "timeout_secs": 0}).ok(t)
	if got := ids(r); !slices.Contains(got, support+"/"+id4) {
		t.Fatalf("after a restart got %v, want %s among them", got, id4)
	}
}

// A cursor's skipped rows: taken from the store before their broadcast
// came, they are not returned again when it comes.
func TestEmailWaitListedRowNotRepeated(t *testing.T) {
	t.Parallel()
	e, bus := newWaitEnv(t)
	cl := e.client(protocolVersions[0])
	fm := inbound("stored, not yet published", "a@example.org", "true")
	fm.ReceivedAt = time.Now().UTC().Truncate(time.Second)
	id := e.put(support, storage.Inbox, fm.ReceivedAt, fm, "x")
	r := e.callAs(cl, alice, "email_wait", map[string]any{"mailbox": support, "since": fm.ReceivedAt.Format(time.RFC3339)}).ok(t)
	if got := ids(r); len(got) != 1 {
		t.Fatalf("since: %v", got)
	}
	bus.Publish(support, id, fm.ReceivedAt) // the broadcast comes after the answer
	r = e.callAs(cl, alice, "email_wait", map[string]any{"since_cursor": r.structured["cursor"], "timeout_secs": 0}).ok(t)
	if got := ids(r); len(got) != 0 {
		t.Fatalf("the listed row came back: %v", got)
	}
}

// 100 callers wait at once, each for its own message: every caller sees
// exactly its message (run with -race).
func TestEmailWaitHundredCallers(t *testing.T) {
	t.Parallel()
	e, bus := newWaitEnv(t)
	const n = 100
	type answer struct {
		res *mcpgo.CallToolResult
		err error
	}
	answers := make([]chan answer, n)
	for i := range n {
		answers[i] = make(chan answer, 1)
		cl := e.client(protocolVersions[i%2])
		go func() {
			res, err := rawCall(context.Background(), cl, alice, "email_wait",
				map[string]any{"mailbox": "support", "subject": fmt.Sprintf("<tok-%03d>", i), "timeout_secs": 60})
			answers[i] <- answer{res, err}
		}()
	}
	waitFor(t, "100 waits", func() bool { return bus.Subscribers() == n })
	want := make([]string, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := e.deliverQuiet(bus, support, fmt.Sprintf("order <tok-%03d>", i))
			mu.Lock()
			want[i] = id
			mu.Unlock()
		}()
	}
	wg.Wait()
	for i := range n {
		a := <-answers[i]
		if a.err != nil {
			t.Fatalf("caller %d: %v", i, a.err)
		}
		got := ids(e.check("email_wait", a.res))
		if len(got) != 1 || got[0] != support+"/"+want[i] {
			t.Fatalf("caller %d got %v, want %s", i, got, want[i])
		}
	}
	waitFor(t, "every wait to let go", func() bool { return bus.Subscribers() == 0 })
}

// deliverQuiet is deliver for other goroutines: errors panic (the test
// fails all the same).
func (e *env) deliverQuiet(bus *mailbus.Bus, mailbox, subject string) string {
	fm := inbound(subject, "a@example.org", "true")
	fm.ReceivedAt = time.Now().UTC().Truncate(time.Second)
	st, err := e.store.Put(context.Background(), storage.PutRequest{Mailbox: domains.MailboxRef(mailbox), Folder: storage.Inbox, At: fm.ReceivedAt, Frontmatter: fm, Body: "x"})
	if err != nil {
		panic(err)
	}
	bus.Publish(mailbox, st.ID, fm.ReceivedAt)
	return st.ID
}

// A caller that goes away ends its wait: the subscription is released and
// no goroutine is left behind; a shutdown ends every wait at once.
func TestEmailWaitCancelAndShutdown(t *testing.T) {
	e, bus := newWaitEnv(t)
	cl := e.client(protocolVersions[0])
	e.callAs(cl, alice, "email_wait", map[string]any{"timeout_secs": 0}).ok(t) // warm up mcp-go's lazy goroutines
	runtime.GC()
	base := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = rawCall(ctx, cl, alice, "email_wait", map[string]any{"timeout_secs": 300})
		}()
	}
	waitFor(t, "50 waits", func() bool { return bus.Subscribers() == 50 })
	cancel()
	wg.Wait()
	waitFor(t, "the waits to end", func() bool { return bus.Subscribers() == 0 })
	waitFor(t, "the goroutines to end", func() bool { return runtime.NumGoroutine() <= base+5 })

	ch := e.asyncWait(bus, cl, alice, map[string]any{"timeout_secs": 300})
	start := time.Now()
	bus.Close()
	r := e.got(ch)
	if r.structured["timed_out"] != true || time.Since(start) > 5*time.Second {
		t.Fatalf("after Close: %v in %v", r.structured, time.Since(start))
	}
}

func TestEmailWaitWithoutBroadcast(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.callAs(e.client(protocolVersions[0]), alice, "email_wait", nil).fails(t, "not available")
}
