package inbound

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// Mail received within one second lists in the order it arrived, not by
// subject: received_at keeps the part below the second (book/storage.md,
// "Listing and counting").
func TestArrivalOrderWithinSecond(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, envOpts{})
	var ids []string
	for _, subj := range []string{"zeta", "alpha", "mid", "beta"} {
		out, err := e.del.Deliver(context.Background(), Envelope{RemoteIP: netip.MustParseAddr("192.0.2.7"), Helo: "h.example.org",
			MailFrom: "a@example.org", Recipients: []string{"support@agent.example.com"}, ID: subj}, simpleMessage(subj+"@example.org", subj, "b\r\n"))
		if err != nil || len(out.Mailboxes) != 1 || out.Mailboxes[0].Err != nil {
			t.Fatalf("deliver: %+v %v", out, err)
		}
		ids = append(ids, out.Mailboxes[0].ID)
	}
	var got []string
	for _, m := range e.inbox("support@agent.example.com") {
		got = append(got, m.ID)
		if at := m.Frontmatter.ReceivedAt; at.Nanosecond() == 0 || at.Truncate(time.Second).Format("150405") != m.ID[11:17] {
			t.Errorf("%s: received_at %v is not within the stem's second below it", m.ID, at)
		}
	}
	slices.Reverse(ids)
	if !slices.Equal(got, ids) {
		t.Fatalf("inbox %v, want newest first %v", got, ids)
	}
}
