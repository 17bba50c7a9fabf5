package message

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestStripAuthResults(t *testing.T) {
	t.Parallel()
	body := "\r\nAuthentication-Results: mx.aimx.test; spf=pass\r\n" // in the body: never touched
	cases := []struct {
		name, in, want string
	}{
		{"ours removed",
			"Authentication-Results: mx.aimx.test; dkim=pass\r\nFrom: a@x\r\n" + body,
			"From: a@x\r\n" + body},
		{"ours removed with folded lines",
			"Received: r\r\nAuthentication-Results: mx.aimx.test;\r\n\tdkim=pass header.d=x;\r\n spf=pass\r\nFrom: a@x\r\n" + body,
			"Received: r\r\nFrom: a@x\r\n" + body},
		{"case-insensitive name and id",
			"authentication-results:MX.AIMX.TEST 1; none\r\nFrom: a@x\r\n" + body,
			"From: a@x\r\n" + body},
		{"comment before id, version after",
			"Authentication-Results: (forged) mx.aimx.test (c) 1; none\r\nX: y\r\n" + body,
			"X: y\r\n" + body},
		{"quoted id",
			"Authentication-Results: \"mx.aimx.test\"; none\r\nX: y\r\n" + body,
			"X: y\r\n" + body},
		{"id alone without results",
			"Authentication-Results: mx.aimx.test\r\nX: y\r\n" + body,
			"X: y\r\n" + body},
		{"id on a continuation line",
			"Authentication-Results:\r\n mx.aimx.test; none\r\nX: y\r\n" + body,
			"X: y\r\n" + body},
		{"others kept byte for byte",
			"Authentication-Results: mx.google.com; dkim=pass\r\nAuthentication-Results:  mx.aimx.test.evil.com;\r\n none\r\nX-Authentication-Results: mx.aimx.test; none\r\n" + body,
			"Authentication-Results: mx.google.com; dkim=pass\r\nAuthentication-Results:  mx.aimx.test.evil.com;\r\n none\r\nX-Authentication-Results: mx.aimx.test; none\r\n" + body},
		{"several of ours, mixed",
			"Authentication-Results: mx.aimx.test; a\r\nAuthentication-Results: other; b\r\nAuthentication-Results: mx.aimx.test; c\r\n" + body,
			"Authentication-Results: other; b\r\n" + body},
		{"LF line endings",
			"A: 1\nAuthentication-Results: mx.aimx.test;\n  spf=pass\nB: 2\n\nbody\n",
			"A: 1\nB: 2\n\nbody\n"},
		{"last field of a header-only message",
			"A: 1\r\nAuthentication-Results: mx.aimx.test; none",
			"A: 1\r\n"},
		{"nothing to do", "From: a@x\r\n\r\nbody", "From: a@x\r\n\r\nbody"},
	}
	for _, tc := range cases {
		in := []byte(tc.in)
		orig := bytes.Clone(in)
		got := StripAuthResults(in, "mx.aimx.test")
		if string(got) != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
		if !bytes.Equal(in, orig) {
			t.Errorf("%s: input modified", tc.name)
		}
	}
}

func TestFoldAndPrepend(t *testing.T) {
	t.Parallel()
	long := "Authentication-Results: mx.aimx.test; dkim=pass header.d=mail.example.net header.s=rsa2026; spf=pass smtp.mailfrom=zoe@mail.example.net; dmarc=pass header.from=mail.example.net"
	folded := Fold(long)
	if !strings.HasSuffix(folded, "\r\n") {
		t.Fatalf("no CRLF: %q", folded)
	}
	lines := strings.Split(strings.TrimSuffix(folded, "\r\n"), "\r\n")
	if len(lines) < 3 {
		t.Errorf("want several lines, got %q", lines)
	}
	for i, l := range lines {
		if len(l) > maxLineWidth {
			t.Errorf("line %d is %d long: %q", i, len(l), l)
		}
		if i > 0 && l[0] != ' ' && l[0] != '\t' {
			t.Errorf("continuation %d does not start with WSP: %q", i, l)
		}
	}
	if unfold([]byte(folded)) != long {
		t.Errorf("unfolding does not give the field back: %q", unfold([]byte(folded)))
	}
	cases := []struct{ in, want string }{
		{"X: short", "X: short\r\n"},
		{"X: a\r\n b", "X: a b\r\n"}, // pre-folded input is unfolded first
		{"X: " + strings.Repeat("y", 100), "X: " + strings.Repeat("y", 100) + "\r\n"},
		{"X: " + strings.Repeat("y", 90) + " z", "X: " + strings.Repeat("y", 90) + "\r\n z\r\n"},
	}
	for _, tc := range cases {
		if got := Fold(tc.in); got != tc.want {
			t.Errorf("Fold(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	raw := []byte("From: a@x\r\n\r\nbody")
	got := PrependHeaders(raw, "Received: one", "Authentication-Results: two")
	if want := "Received: one\r\nAuthentication-Results: two\r\nFrom: a@x\r\n\r\nbody"; string(got) != want {
		t.Errorf("PrependHeaders = %q, want %q", got, want)
	}
}

func TestReceived(t *testing.T) {
	t.Parallel()
	date := time.Date(2026, 11, 2, 9, 41, 7, 0, time.UTC)
	cases := []struct {
		name string
		r    Received
		want string
	}{
		{"esmtps with rdns", Received{
			Helo: "submit.mail.example.net", RemoteIP: netip.MustParseAddr("192.0.2.10"), RemoteHost: "submit.mail.example.net",
			Hostname: "mx.aimx.test", ESMTP: true, TLS: true, ID: "7f3a2b", For: "inbox@agent.example.com", Date: date,
		}, "Received: from submit.mail.example.net (submit.mail.example.net [192.0.2.10]) by mx.aimx.test with ESMTPS id 7f3a2b for <inbox@agent.example.com>; Mon, 02 Nov 2026 09:41:07 +0000"},
		{"esmtp no rdns, no for", Received{
			Helo: "client", RemoteIP: netip.MustParseAddr("::ffff:192.0.2.1"), Hostname: "mx.aimx.test", ESMTP: true, ID: "1", Date: date,
		}, "Received: from client ([192.0.2.1]) by mx.aimx.test with ESMTP id 1; Mon, 02 Nov 2026 09:41:07 +0000"},
		{"helo, ipv6", Received{
			Helo: "[IPv6:2001:db8::1]", RemoteIP: netip.MustParseAddr("2001:db8::1"), Hostname: "mx", Date: date,
		}, "Received: from [IPv6:2001:db8::1] ([2001:db8::1]) by mx with SMTP; Mon, 02 Nov 2026 09:41:07 +0000"},
		{"hostile helo sanitised", Received{
			Helo: "evil\r\nX-Injected: 1; (x)", RemoteIP: netip.MustParseAddr("192.0.2.1"), Hostname: "mx", ESMTP: true, Date: date,
		}, "Received: from evil__X-Injected:_1___x_ ([192.0.2.1]) by mx with ESMTP; Mon, 02 Nov 2026 09:41:07 +0000"},
		{"empty helo", Received{RemoteIP: netip.MustParseAddr("192.0.2.1"), Hostname: "mx", Date: date},
			"Received: from unknown ([192.0.2.1]) by mx with SMTP; Mon, 02 Nov 2026 09:41:07 +0000"},
	}
	for _, tc := range cases {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
	// The folded field is a valid single header field.
	f := Fold(cases[0].r.String())
	h, _ := parseHeader([]byte(f + "\r\n"))
	if len(h) != 1 || h[0].name != "Received" || h[0].value != strings.TrimPrefix(cases[0].want, "Received: ") {
		t.Errorf("folded Received does not parse back: %q -> %+v", f, h)
	}
}
