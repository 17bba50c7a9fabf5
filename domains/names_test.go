package domains

import (
	"strings"
	"testing"
	"time"
)

func TestMatchSender(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		globs []string
		addr  string
		want  bool
	}{
		{[]string{"alice@example.com"}, "alice@example.com", true},
		{[]string{"alice@example.com"}, "Alice@Example.COM", true},
		{[]string{"ALICE@example.com"}, "alice@example.com", true},
		{[]string{"alice@example.com"}, "alice@example.com.evil", false},
		{[]string{"alice@example.com"}, "xalice@example.com", false},
		{[]string{"*@partners.example.net"}, "bob@partners.example.net", true},
		{[]string{"*@partners.example.net"}, "bob@evil-partners.example.net", false},
		{[]string{"*@partners.example.net"}, "bob@partners.example.net.evil.com", false},
		{[]string{"*partners.example.net"}, "bob@evil-partners.example.net", true},
		{[]string{"a?c@x.com"}, "abc@x.com", true},
		{[]string{"a?c@x.com"}, "ac@x.com", false},
		{[]string{"a?c@x.com"}, "abbc@x.com", false},
		{[]string{"?@x.com"}, "é@x.com", true},
		{[]string{"*"}, "anyone@anywhere.org", true},
		{[]string{"*@*"}, "a@b", true},
		{[]string{"a*b*c@x"}, "aXbYc@x", true},
		{[]string{"a*b*c@x"}, "aXbY@x", false},
		{[]string{"[ab]@x.com"}, "a@x.com", false}, // brackets are literal, not a class
		{[]string{"[ab]@x.com"}, "[ab]@x.com", true},
		{[]string{"a.c@x.com"}, "abc@x.com", false}, // '.' is literal
		{[]string{"no@x.com", "*@y.com"}, "me@y.com", true},
		{nil, "me@y.com", false},
		{[]string{}, "me@y.com", false},
	} {
		if got := MatchSender(tc.globs, tc.addr); got != tc.want {
			t.Errorf("MatchSender(%q, %q) = %v, want %v", tc.globs, tc.addr, got, tc.want)
		}
	}
}

func TestMatchSenderIsLinear(t *testing.T) {
	t.Parallel()
	glob := strings.Repeat("*a", 50) + "b"
	addr := strings.Repeat("a", 5000)
	done := make(chan bool)
	go func() { done <- MatchSender([]string{glob}, addr) }()
	select {
	case got := <-done:
		if got {
			t.Fatal("matched")
		}
	case <-time.After(10 * time.Second): // loose backstop: exponential backtracking takes forever
		t.Fatal("glob matching is not linear")
	}
}

func TestDeriveHookName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		event Event
		cmd   []string
		fire  bool
		want  string
	}{
		{EventOnReceive, []string{"/bin/echo", "hi"}, false, "9f5503741a28"},
		// The Rust fixtures (rust-install README, quirk 7).
		{EventOnReceive, []string{"/usr/bin/curl", "-sS", "--data-binary", "@-", "https://hooks.example.com/aimx/support"}, false, "7c6d418c1a76"},
		{EventOnReceive, []string{"/usr/local/bin/claude", "-p", "Read the email on stdin and draft a reply with the aimx MCP tools.", "--dangerously-skip-permissions"}, false, "783081cae759"},
		{EventOnReceive, []string{"/bin/sh", "-c", `echo "$AIMX_ID $AIMX_FROM" >> /home/support/untrusted.log`}, true, "896faf660ec3"},
		{EventAfterSend, []string{"/usr/bin/logger", "-t", "aimx-sent", "--", "sent"}, false, "31f4e8905102"},
	} {
		if got := DeriveHookName(tc.event, tc.cmd, tc.fire); got != tc.want {
			t.Errorf("DeriveHookName(%s, %q, %v) = %s, want %s", tc.event, tc.cmd, tc.fire, got, tc.want)
		}
	}
	// Each input is part of the hash.
	a := DeriveHookName(EventOnReceive, []string{"/bin/echo", "hi"}, false)
	for _, other := range []string{
		DeriveHookName(EventAfterSend, []string{"/bin/echo", "hi"}, false),
		DeriveHookName(EventOnReceive, []string{"/bin/echo", "hi"}, true),
		DeriveHookName(EventOnReceive, []string{"/bin/echo hi"}, false),
	} {
		if other == a {
			t.Errorf("derived name ignores an input: %s", other)
		}
	}
	if (Hook{Name: "x", Event: EventOnReceive, Cmd: []string{"/bin/echo", "hi"}}).EffectiveName() != "x" {
		t.Error("EffectiveName ignores Name")
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, out string }{
		{"10s", "10s"}, {"168h", "168h"}, {"5m", "5m"}, {"90s", "1m30s"}, {"1h30m", "1h30m"},
		{"1h0m5s", "1h0m5s"}, {"1.5s", "1.5s"}, {"0s", "0s"}, {"250ms", "250ms"}, {"-1h", "-1h"},
	} {
		var d Duration
		if err := d.UnmarshalText([]byte(tc.in)); err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		b, _ := d.MarshalText()
		if string(b) != tc.out {
			t.Errorf("%s: written as %s, want %s", tc.in, b, tc.out)
		}
		var back Duration
		if err := back.UnmarshalText(b); err != nil || back != d {
			t.Errorf("%s: %s reads back as %v (%v)", tc.in, b, back, err)
		}
	}
	var d Duration
	if err := d.UnmarshalText([]byte("10")); err == nil {
		t.Error("unitless duration accepted")
	}
}
