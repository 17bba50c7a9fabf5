package hooks

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
)

func TestGateDue(t *testing.T) {
	t.Parallel()
	strict := onReceive("strict")
	open := onReceive("open")
	open.FireOnUntrusted = true
	after := domains.Hook{Name: "after", Event: domains.EventAfterSend, Cmd: []string{"/bin/true"}, TimeoutSecs: 5}
	unknownOwner := func(string) (Owner, error) { return Owner{}, errors.New("user: unknown user gone") }
	tests := []struct {
		name    string
		mb      domains.Mailbox
		trusted string
		lookup  func(string) (Owner, error)
		want    []string
		log     string // a substring the log must hold
	}{
		{"trusted fires all", domains.Mailbox{Name: testMailbox, Owner: "u", Hooks: []domains.Hook{strict, open}}, "true", nil, []string{"strict", "open"}, ""},
		{"untrusted fires only fire_on_untrusted", domains.Mailbox{Name: testMailbox, Owner: "u", Hooks: []domains.Hook{strict, open}}, "false", nil, []string{"open"}, `"hook":"strict"`},
		{"trust none is not trusted", domains.Mailbox{Name: testMailbox, Owner: "u", Hooks: []domains.Hook{strict, open}}, "none", nil, []string{"open"}, `"reason":"untrusted"`},
		{"after_send hooks are never due at receipt", domains.Mailbox{Name: testMailbox, Owner: "u", Hooks: []domains.Hook{after}}, "true", nil, nil, ""},
		{"catchall never fires", domains.Mailbox{Name: "*@a.test", Owner: "u", Hooks: []domains.Hook{open}}, "true", nil, nil, `"reason":"catchall"`},
		{"owner gone skips with a warning", domains.Mailbox{Name: testMailbox, Owner: "gone", Hooks: []domains.Hook{open}}, "true", unknownOwner, nil, `"reason":"owner_unresolved"`},
		{"derived name", domains.Mailbox{Name: testMailbox, Owner: "u", Hooks: []domains.Hook{{Event: domains.EventOnReceive, Cmd: []string{"/bin/x"}, TimeoutSecs: 1}}}, "true", nil,
			[]string{domains.DeriveHookName(domains.EventOnReceive, []string{"/bin/x"}, false)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var log syncBuffer
			lookup := tt.lookup
			if lookup == nil {
				lookup = stubOwner
			}
			g := Gate{LookupOwner: lookup, Log: zerolog.New(&log)}
			got := g.Due(tt.mb, tt.trusted)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Due = %v, want %v", got, tt.want)
			}
			if tt.log != "" && !strings.Contains(log.String(), tt.log) {
				t.Errorf("log lacks %s:\n%s", tt.log, log.String())
			}
		})
	}
}

func TestJobIDStable(t *testing.T) {
	t.Parallel()
	a := JobID(EventOnReceive, testMailbox, "2026-01-01-000000-x", "h", 0)
	if len(a) != 16 || a != JobID(EventOnReceive, testMailbox, "2026-01-01-000000-x", "h", 0) {
		t.Fatalf("job id %q not stable 16 hex", a)
	}
	for _, other := range []string{
		JobID(EventAfterSend, testMailbox, "2026-01-01-000000-x", "h", 0),
		JobID(EventOnReceive, "other@a.test", "2026-01-01-000000-x", "h", 0),
		JobID(EventOnReceive, testMailbox, "2026-01-01-000000-y", "h", 0),
		JobID(EventOnReceive, testMailbox, "2026-01-01-000000-x", "h2", 0),
		JobID(EventOnReceive, testMailbox, "2026-01-01-000000-x", "h", 1),
	} {
		if other == a {
			t.Errorf("job id collides across fields: %s", a)
		}
	}
}
