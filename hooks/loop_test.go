package hooks

import (
	"reflect"
	"testing"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
)

func TestGateHoldsBackAutomaticMail(t *testing.T) {
	t.Parallel()
	g := Gate{LookupOwner: func(n string) (Owner, error) { return domains.Owner{Name: n}, nil }, Log: zerolog.Nop()}
	mb := domains.Mailbox{Name: "a@a.test", Owner: "u", Hooks: []domains.Hook{
		{Name: "answer", Event: domains.EventOnReceive, Cmd: []string{"/bin/true"}, TimeoutSecs: 5},
		{Name: "archive", Event: domains.EventOnReceive, Cmd: []string{"/bin/true"}, TimeoutSecs: 5, FireOnAutoSubmitted: true},
	}}
	for _, tc := range []struct {
		name string
		a    Arrival
		want []string
	}{
		{"person", Arrival{Trusted: "true"}, []string{"answer", "archive"}},
		{"auto-submitted no", Arrival{Trusted: "true", AutoSubmitted: "no"}, []string{"answer", "archive"}},
		{"auto-replied", Arrival{Trusted: "true", AutoSubmitted: "Auto-Replied"}, []string{"archive"}},
		{"auto-generated with a parameter", Arrival{Trusted: "true", AutoSubmitted: "auto-generated; owner-email=x@y"}, []string{"archive"}},
		{"three hops", Arrival{Trusted: "true", OwnHops: MaxOwnHops}, []string{"answer", "archive"}},
		{"looping", Arrival{Trusted: "true", OwnHops: MaxOwnHops + 1}, []string{"archive"}},
	} {
		if got := g.DueFor(mb, tc.a); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	// fire_on_auto_submitted is for on_receive hooks only.
	h := domains.Hook{Event: domains.EventAfterSend, Cmd: []string{"/bin/true"}, TimeoutSecs: 5, FireOnAutoSubmitted: true}
	if len(h.Problems()) != 1 {
		t.Fatalf("after_send with fire_on_auto_submitted: %v", h.Problems())
	}
}
