package mcp

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"

	"github.com/aimx-dev/aimx/storage"
)

// wireMeter serves the tools over streamable HTTP and records the size of
// each tools/call response as it goes over the wire.
type wireMeter struct {
	mu   sync.Mutex
	last int
}

// take waits for the size of the next tools/call response (the handler
// records it after the client may already have read the body) and resets
// the meter for the call after.
func (w *wireMeter) take(t *testing.T) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		w.mu.Lock()
		n := w.last
		w.last = 0
		w.mu.Unlock()
		if n != 0 {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatal("no tools/call response was measured")
		}
		time.Sleep(time.Millisecond)
	}
}

func (w *wireMeter) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		cw := &countingWriter{ResponseWriter: rw}
		next.ServeHTTP(cw, r)
		if bytes.Contains(body, []byte(`"tools/call"`)) {
			w.mu.Lock()
			w.last = cw.n
			w.mu.Unlock()
		}
	})
}

type countingWriter struct {
	http.ResponseWriter
	n int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += len(p)
	return c.ResponseWriter.Write(p)
}

func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// overHTTP returns a client of e's tools over streamable HTTP as alice,
// and the meter of its responses.
func overHTTP(t *testing.T, e *env) (*client.Client, *wireMeter) {
	t.Helper()
	m := &wireMeter{}
	ts := httptest.NewServer(m.handler(e.srv.Handler(func(*http.Request) (Caller, bool) { return alice, true })))
	t.Cleanup(ts.Close)
	tr, err := transport.NewStreamableHTTP(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	cl := client.NewClient(tr, client.WithProtocolVersion(protocolVersions[0]))
	initClient(t, cl, protocolVersions[0])
	return cl, m
}

// realisticRow is an inbox email as mail usually comes: a display name,
// a subject of a few words, one recipient, a thread of its own.
func realisticRow(i int) storage.Frontmatter {
	names := []string{"Alice Example", "Bob Martínez", "Carol Ng", "Dave O'Brien", "Erin Schmidt"}
	subjects := []string{"Pricing for %d seats", "Re: Invoice #%d is overdue", "Your order %d has shipped", "Meeting notes, week %d", "Question about the API (%d)"}
	fm := inbound(fmt.Sprintf(subjects[i%len(subjects)], 4800+i), fmt.Sprintf("%s <%s@example.com>", names[i%len(names)], strings.Fields(strings.ToLower(names[i%len(names)]))[0]), []string{"true", "false"}[i%2])
	fm.ThreadID = fmt.Sprintf("%016x", uint64(i+1)*0x9e3779b97f4a7c15)
	fm.MessageID = fmt.Sprintf("CAJx7mB0q%d@mail.example.com", i)
	return fm
}

// The size targets of book/mcp.md ("Size control"), measured on the wire
// over streamable HTTP: a 200 KB email read with the defaults is under
// 30 KB, a 50-row email_list under 15 KB.
func TestWireSizes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range 60 {
		fm := realisticRow(i)
		fm.ReceivedAt = t0.Add(time.Duration(i) * time.Minute)
		e.put(support, storage.Inbox, fm.ReceivedAt, fm, "Hello,\n\nA short body.\n")
	}
	long := strings.Repeat("All work and no play makes Jack a dull boy. ", 200<<10/44)
	quoted := "Thanks, that works for us.\n\nOn Mon, Oct 5, 2026 at 9:00 AM Bob <bob@example.com> wrote:\n" +
		strings.Repeat("> Earlier mail, quoted line after line after line, as clients do.\n", 200<<10/66)
	big := map[string]string{
		"plain":  e.put(support, storage.Inbox, t0.Add(-time.Hour), inbound("big plain", "Big <big@example.com>", "false"), long),
		"quoted": e.put(support, storage.Inbox, t0.Add(-2*time.Hour), inbound("big quoted", "Big <big@example.com>", "true"), quoted),
	}
	cl, meter := overHTTP(t, e)
	for name, id := range big {
		r := e.callCtx(cl, t.Context(), "email_read", map[string]any{"mailbox": support, "id": id}).ok(t)
		n := meter.take(t)
		if n >= 30_000 {
			t.Errorf("email_read of a 200 KB %s email: %d bytes on the wire, want under 30,000", name, n)
		}
		t.Logf("email_read, 200 KB %s email: %d bytes on the wire (body_chars %v)", name, n, r.structured["body_chars"])
		if r.structured["body_truncated"] != true {
			t.Errorf("%s: not truncated: %v", name, r.structured["body_truncated"])
		}
	}
	e.callCtx(cl, t.Context(), "email_list", map[string]any{"mailbox": support, "limit": 50}).ok(t)
	n := meter.take(t)
	if n >= 15_000 {
		t.Errorf("email_list of 50 rows: %d bytes on the wire, want under 15,000", n)
	}
	t.Logf("email_list, 50 rows: %d bytes on the wire", n)
}
