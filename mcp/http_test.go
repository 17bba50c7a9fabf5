package mcp

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"

	"github.com/aimx-dev/aimx/storage"
)

// The streamable HTTP handler carries the caller that identify returns
// into every tool, on both protocol versions; a request it cannot
// identify reaches no mailbox.
func TestHandlerStreamableHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.put(support, storage.Inbox, t0, inbound("over http", "x@y.example", "false"), "hello\n")
	identify := func(r *http.Request) (Caller, bool) {
		switch r.Header.Get("X-Test-User") {
		case "alice":
			return alice, true
		case "bob":
			return bob, true
		}
		return Caller{}, false
	}
	ts := httptest.NewServer(e.srv.Handler(identify))
	t.Cleanup(ts.Close)
	for _, v := range protocolVersions {
		t.Run(v, func(t *testing.T) {
			as := func(user string) *client.Client {
				tr, err := transport.NewStreamableHTTP(ts.URL, transport.WithHTTPHeaders(map[string]string{"X-Test-User": user}))
				if err != nil {
					t.Fatal(err)
				}
				cl := client.NewClient(tr, client.WithProtocolVersion(v))
				initClient(t, cl, v)
				return cl
			}
			// The caller comes from the HTTP request, not the context
			// the client passes (callAs would add one in process only).
			r := e.callCtx(as("alice"), t.Context(), "email_read", map[string]any{"mailbox": "support", "id": id}).ok(t)
			checkFenced(t, r.structured["body"].(string), "hello\n", "false")
			e.callCtx(as("bob"), t.Context(), "email_read", map[string]any{"mailbox": "support", "id": id}).
				fails(t, `mailbox "support@agent.example.com" not found`)
			e.callCtx(as("nobody"), t.Context(), "mailbox_list", nil).fails(t, "no caller identity")
		})
	}
}
