package outbound

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aimx-dev/aimx/mail/outcome"
	"github.com/miekg/dns"
)

// fakeLocal stands in for SMTP intake: it owns the domains listed, and
// answers by local part like byLocalPart.
type fakeLocal struct {
	domains map[string]bool
	short   bool // return one result too few

	mu    sync.Mutex
	calls [][]string
	data  []string
}

func (l *fakeLocal) Handles(domain string) bool { return l.domains[domain] }

func (l *fakeLocal) Deliver(_ context.Context, from string, rcpts []string, data []byte) []Result {
	l.mu.Lock()
	l.calls = append(l.calls, rcpts)
	l.data = append(l.data, from+"|"+string(data))
	l.mu.Unlock()
	out := make([]Result, len(rcpts))
	for i, r := range rcpts {
		out[i].Recipient = r
		switch strings.SplitN(r, "@", 2)[0] {
		case "later":
			setOutcome(&out[i], outcome.LocalError(fmt.Errorf("store busy")))
		case "nobody":
			setOutcome(&out[i], outcome.UserUnknown(fmt.Errorf("no mailbox %s", r)))
		case "nocode":
			// A refusal given only as a code: classified here.
			out[i].Code, out[i].Text = 554, "rejected by a hook"
		default:
			out[i].Code, out[i].Enhanced, out[i].Text = 250, [3]int{2, 0, 0}, "stored"
		}
	}
	if l.short {
		out = out[:len(out)-1]
	}
	return out
}

// Recipients on our own domains go through Local: no DNS lookup, no
// connection, one call for all of them, results recorded with no TLS
// state. The other domains still go to their MX.
func TestLocalRecipients(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, sinkOpts{})
	local := &fakeLocal{domains: map[string]bool{"a.test": true, "c.test": true}}
	e.d.Local = local
	it := e.enqueue(t, "ok@a.test", "far@b.test", "later@c.test", "nobody@a.test", "nocode@c.test")
	data, _ := e.q.Data(context.Background(), it.ID)
	got := e.round(t, it.ID)

	want := map[string]struct {
		status Status
		code   int
		tls    TLSState
	}{
		"ok@a.test":     {StatusDelivered, 250, ""},
		"far@b.test":    {StatusDelivered, 250, TLSVerified},
		"later@c.test":  {StatusDeferred, 451, ""},
		"nobody@a.test": {StatusFailed, 550, ""},
		"nocode@c.test": {StatusFailed, 554, ""},
	}
	for _, r := range got.Recipients {
		if w := want[r.Address]; r.Status != w.status || r.Code != w.code || r.TLS != w.tls || r.Attempts != 1 {
			t.Errorf("%s: %+v, want %+v", r.Address, r, w)
		}
	}
	if len(local.calls) != 1 || fmt.Sprint(local.calls[0]) != "[ok@a.test later@c.test nobody@a.test nocode@c.test]" {
		t.Errorf("local calls %v", local.calls)
	}
	if local.data[0] != "zoe@a.test|"+string(data) {
		t.Errorf("local data %q", local.data[0])
	}
	for _, name := range []string{"a.test", "c.test"} {
		for _, qt := range []uint16{dns.TypeMX, dns.TypeA, dns.TypeAAAA} {
			if n := e.dns.Queries(name, qt); n != 0 {
				t.Errorf("%d DNS %s queries for the local domain %s", n, dns.TypeToString[qt], name)
			}
		}
	}
	if n := rcptCount(e.sink); len(n) != 1 || n["far@b.test"] != 1 {
		t.Errorf("the MX got %v", n)
	}

	// A relay does not change that: local domains never leave.
	e.d.Relay = &Relay{Host: "127.0.0.1", Port: 1}
	it = e.enqueue(t, "ok@a.test")
	if r := e.round(t, it.ID).Recipients[0]; r.Status != StatusDelivered {
		t.Errorf("local recipient with a relay set: %+v", r)
	}
}

// A Local that answers the wrong number of results defers everyone.
func TestLocalWrongResultCount(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, sinkOpts{})
	e.d.Local = &fakeLocal{domains: map[string]bool{"a.test": true}, short: true}
	it := e.enqueue(t, "x@a.test", "y@a.test")
	for _, r := range e.round(t, it.ID).Recipients {
		if r.Status != StatusDeferred || r.Code != 451 {
			t.Errorf("%+v", r)
		}
	}
}
