package domains

import (
	"bytes"
	"encoding/base64"
	"net/netip"
	"strings"
	"testing"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // 24 bytes

func TestWebhookSecret(t *testing.T) {
	t.Parallel()
	s, err := NewWebhookSecret(bytes.NewReader(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	if want := "whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)); s != want {
		t.Fatalf("secret %q, want %q", s, want)
	}
	key, err := WebhookKey(s)
	if err != nil || !bytes.Equal(key, bytes.Repeat([]byte{7}, 32)) {
		t.Fatalf("key %x, %v", key, err)
	}
	if a, _ := NewWebhookSecret(nil); a == s || !strings.HasPrefix(a, WebhookSecretPrefix) {
		t.Fatalf("random secret %q", a)
	}
	for _, bad := range []string{"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_c2hvcnQ=", "whsec_!!!notbase64!!!!!!!!!!!!!!!!!",
		"whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 65))} {
		if _, err := WebhookKey(bad); err == nil {
			t.Errorf("WebhookKey(%q) accepted", bad)
		} else if len(bad) > 6 && strings.Contains(err.Error(), bad[6:]) {
			t.Errorf("the error echoes the secret: %v", err)
		}
	}
}

func TestWebhookProblems(t *testing.T) {
	t.Parallel()
	ok := Webhook{URL: "https://hooks.example.com/in", Events: []Event{EventOnReceive}, Secret: testSecret}
	if p := ok.Problems(HookSettings{}); p != nil {
		t.Fatalf("valid webhook: %v", p)
	}
	with := func(f func(*Webhook)) Webhook { w := ok; f(&w); return w }
	http := HookSettings{WebhookHTTPHosts: []string{"hooks.internal", "[::1]"}}
	private := HookSettings{WebhookAllowPrivate: true}
	for _, tc := range []struct {
		w    Webhook
		s    HookSettings
		rule HookRule // 0: valid
	}{
		{with(func(w *Webhook) { w.URL = "" }), HookSettings{}, RuleWebhookURL},
		{with(func(w *Webhook) { w.URL = "ftp://x.example/" }), HookSettings{}, RuleWebhookURL},
		{with(func(w *Webhook) { w.URL = "http://hooks.example.com/" }), HookSettings{}, RuleWebhookURL},
		{with(func(w *Webhook) { w.URL = "http://HOOKS.internal:8080/x" }), http, 0},
		{with(func(w *Webhook) { w.URL = "https://user:pw@hooks.example.com/" }), HookSettings{}, RuleWebhookURL},
		{with(func(w *Webhook) { w.URL = "https://hooks.example.com/#frag" }), HookSettings{}, RuleWebhookURL},
		{with(func(w *Webhook) { w.URL = "https:///path" }), HookSettings{}, RuleWebhookURL},
		{with(func(w *Webhook) { w.URL = "https://a b/" }), HookSettings{}, RuleWebhookURL},
		{with(func(w *Webhook) { w.URL = "https://127.0.0.1/" }), HookSettings{}, RuleWebhookAddress},
		{with(func(w *Webhook) { w.URL = "https://[::1]:8443/" }), HookSettings{}, RuleWebhookAddress},
		{with(func(w *Webhook) { w.URL = "http://[::1]:8443/" }), http, RuleWebhookAddress},
		{with(func(w *Webhook) { w.URL = "https://10.1.2.3/" }), HookSettings{}, RuleWebhookAddress},
		{with(func(w *Webhook) { w.URL = "https://169.254.169.254/latest" }), HookSettings{}, RuleWebhookAddress},
		{with(func(w *Webhook) { w.URL = "https://localhost:9/" }), HookSettings{}, RuleWebhookAddress},
		{with(func(w *Webhook) { w.URL = "https://app.localhost/" }), HookSettings{}, RuleWebhookAddress},
		{with(func(w *Webhook) { w.URL = "https://127.0.0.1/" }), private, 0},
		{with(func(w *Webhook) { w.Events = nil }), HookSettings{}, RuleWebhookEvents},
		{with(func(w *Webhook) { w.Events = []Event{"on_send"} }), HookSettings{}, RuleWebhookEvents},
		{with(func(w *Webhook) { w.Events = []Event{EventAfterSend, EventAfterSend} }), HookSettings{}, RuleWebhookEvents},
		{with(func(w *Webhook) { w.Secret = "" }), HookSettings{}, RuleWebhookSecret},
		{with(func(w *Webhook) { w.Name = "-x" }), HookSettings{}, RuleName},
		{with(func(w *Webhook) { w.Events, w.FireOnUntrusted = []Event{EventAfterSend}, true }), HookSettings{}, RuleFireOnUntrusted},
		{with(func(w *Webhook) { w.FireOnUntrusted, w.IncludeBody = true, true }), HookSettings{}, 0},
	} {
		probs := tc.w.Problems(tc.s)
		if tc.rule == 0 {
			if probs != nil {
				t.Errorf("%+v: %v", tc.w, probs)
			}
			continue
		}
		if !tc.w.Broken(tc.rule, tc.s) {
			t.Errorf("%s: want rule %d broken, got %v", tc.w.URL, tc.rule, probs)
		}
		for _, p := range probs {
			if tc.w.URL != "" && strings.Contains(p.Msg, tc.w.URL) {
				t.Errorf("%q echoes the URL", p.Msg)
			}
		}
	}
}

func TestWebhookAddrAllowed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"93.184.216.34", true}, {"2606:2800:220:1::1", true}, {"8.8.8.8", true},
		{"127.0.0.1", false}, {"127.9.9.9", false}, {"::1", false}, {"0.0.0.0", false}, {"::", false},
		{"10.0.0.1", false}, {"172.16.5.4", false}, {"192.168.1.1", false}, {"fd00::1", false},
		{"169.254.169.254", false}, {"fe80::1", false}, {"100.64.0.1", false}, {"255.255.255.255", false},
		{"224.0.0.1", false}, {"ff02::1", false}, {"::ffff:127.0.0.1", false}, {"::ffff:8.8.8.8", true},
		{"2002:7f00:1::", false}, {"2002:808:808::", true}, {"64:ff9b::a00:1", false}, {"64:ff9b::808:808", true},
		{"2001::1", false}, {"198.18.0.1", false},
	} {
		a := netip.MustParseAddr(tc.addr)
		if got := WebhookAddrAllowed(a, false); got != tc.ok {
			t.Errorf("WebhookAddrAllowed(%s) = %v, want %v", tc.addr, got, tc.ok)
		}
		if !WebhookAddrAllowed(a, true) {
			t.Errorf("%s refused with webhook_allow_private", tc.addr)
		}
	}
}

// A webhook table loads, is validated with its line, round-trips and
// keeps its secret; the [hooks] keys load too.
func TestWebhookConfigLoads(t *testing.T) {
	t.Parallel()
	base := "domains = [\"a.com\"]\n[hooks]\nwebhook_http_hosts = [\"hooks.internal\"]\n\n" +
		"[mailboxes.\"x@a.com\"]\nowner = \"u\"\n\n"
	c, err := parseT(base + "[[mailboxes.\"x@a.com\".webhooks]]\nurl = \"http://hooks.internal/in\"\nevents = [\"on_receive\", \"after_send\"]\n" +
		"secret = \"" + testSecret + "\"\nfire_on_untrusted = true\ninclude_body = true\n")
	if err != nil {
		t.Fatal(err)
	}
	ws := c.Mailboxes["x@a.com"].Webhooks
	if len(ws) != 1 || ws[0].Secret != testSecret || !ws[0].IncludeBody || !ws[0].Fires(EventAfterSend) {
		t.Fatalf("webhooks %+v", ws)
	}
	ref, ok := c.FindWebhook(DeriveWebhookName("x@a.com", "http://hooks.internal/in", ws[0].Events))
	if !ok || ref.Mailbox != "x@a.com" {
		t.Fatalf("derived name not found: %+v", c.AllWebhooks())
	}
	back, err := parseT(string(c.Encode()))
	if err != nil || !Equal(back, c) {
		t.Fatalf("round trip: %v\n%s", err, c.Encode())
	}
	if !Equal(c, c.Clone()) {
		t.Fatal("clone differs")
	}
	cl := c.Clone()
	cl.Mailboxes["x@a.com"].Webhooks[0].Events[0] = EventAfterSend
	if c.Mailboxes["x@a.com"].Webhooks[0].Events[0] != EventOnReceive {
		t.Fatal("clone shares the events")
	}

	_, err = parseT(base + "[[mailboxes.\"x@a.com\".webhooks]]\nurl = \"https://127.0.0.1/in\"\nevents = [\"on_receive\"]\nsecret = \"whsec_short\"\n")
	for _, want := range []string{`:9:1: mailboxes."x@a.com".webhooks[0].url:`, "webhook_allow_private", `webhooks[0].secret: secret must be`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "whsec_short") {
		t.Errorf("the error echoes the secret: %v", err)
	}
	two := "[[mailboxes.\"x@a.com\".webhooks]]\nname = \"w\"\nurl = \"https://h.example/\"\nevents = [\"on_receive\"]\nsecret = \"" + testSecret + "\"\n"
	if _, err := parseT(base + two + two); err == nil || !strings.Contains(err.Error(), `webhook name "w" is already used`) {
		t.Errorf("duplicate name: %v", err)
	}
	catchall := "[mailboxes.\"*@a.com\"]\nowner = \"u\"\n[[mailboxes.\"*@a.com\".webhooks]]\nurl = \"https://h.example/\"\nevents = [\"on_receive\"]\nsecret = \"" + testSecret + "\"\n"
	if _, err := parseT(base + catchall); err == nil || !strings.Contains(err.Error(), "a catchall cannot have webhooks") {
		t.Errorf("catchall: %v", err)
	}
	if _, err := parseT(base + "[mailboxes.\"y@a.com\"]\nowner = \"u\"\nwebhooks = 3\n"); err == nil || !strings.Contains(err.Error(), "webhooks must be") {
		t.Errorf("webhooks not a table list: %v", err)
	}
	if _, err := parseT("domains = [\"a.com\"]\n[hooks]\nwebhook_http_hosts = [\"a/b\"]\n"); err == nil || !strings.Contains(err.Error(), "webhook_http_hosts[0]") {
		t.Errorf("bad http host: %v", err)
	}
}
