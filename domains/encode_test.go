package domains

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestRewriteGolden(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"multi", "rust-v1", "rust-v2"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := loadFile(t, "testdata/"+name+".toml")
			out := c.Encode()
			golden := "testdata/" + name + ".golden"
			if *update {
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, want) {
				t.Fatalf("rewrite differs from %s (run with -update if intended):\n%s", golden, out)
			}
			// The rewrite loads back to the same config, with no legacy or
			// Rust leftovers, and rewriting it again is byte-identical.
			back, err := parseT(string(out))
			if err != nil {
				t.Fatalf("rewrite does not load: %v", err)
			}
			if !Equal(back, c) {
				t.Fatalf("rewrite loads as a different config")
			}
			if s := back.Source; s.LegacyDomain || s.LegacyMailboxKeys || s.RustKeys || len(s.Warnings) != 0 {
				t.Fatalf("rewrite still has legacy forms: %+v", s)
			}
			if again := back.Encode(); !bytes.Equal(again, out) {
				t.Fatalf("rewrite of the rewrite differs:\n%s", again)
			}
			// Saved through the Store, the file holds exactly these bytes.
			path := filepath.Join(t.TempDir(), "config.toml")
			if err := Save(path, c); err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
				t.Fatalf("saved file differs from the golden file")
			}
		})
	}
}

func TestRewriteStyle(t *testing.T) {
	t.Parallel()
	out := string(loadFile(t, "testdata/multi.toml").Encode())
	for _, bad := range []string{"'", "= []\n[[", "hooks = ", "[mailboxes]\n", "= {", "enable_ipv6", "type = "} {
		if strings.Contains(out, bad) {
			t.Errorf("rewrite contains %q:\n%s", bad, out)
		}
	}
	// A mailbox's explicit empty list is kept: it means "no trusted senders".
	if !strings.Contains(out, "[mailboxes.\"support@a.com\"]\naddress = \"support@a.com\"\nowner = \"support\"\ntrusted_senders = []\n") {
		t.Errorf("mailbox trusted_senders = [] lost:\n%s", out)
	}
	if got := string(Default("a.com").Encode()); got != "domains = [\"a.com\"]\n" {
		t.Errorf("defaults are written: %q", got)
	}
}

// everything is a config where every setting differs from its default.
func everything() *Config {
	c := Default("a.com", "b.com")
	c.DataDir, c.RuntimeDir = "/srv/aimx", "/tmp/ax"
	c.DKIMSelector, c.Trust, c.TrustedSenders, c.Signature = "sel", TrustVerified, []string{"*@x.com"}, ""
	c.DedupWindow = Duration(DefaultDedupWindow * 2)
	c.Storage.TrashRetention = Duration(DefaultTrashRetention / 2)
	c.Storage.Backend, c.Storage.DSN, c.Storage.Node = BackendPostgres, "postgres://aimx@db/aimx", "node-a"
	c.Send = SendPolicy{Allow: []string{"*@partner.com"}, QuotaHour: Ptr(10), QuotaDay: Ptr(0), Approval: Ptr(ApprovalRequired)}
	c.SMTP = SMTP{Listen: ":2525", Hostname: "mx.a.com", TLSCert: "/c.pem", TLSKey: "/k.pem", MaxMessageBytes: 1,
		MaxRecipients: 2, MaxConnections: 3, MaxConnectionsPerIP: 4, VerifyTimeout: Duration(1)}
	c.Hooks = HookSettings{Workers: 9, WebhookAllowPrivate: true, WebhookHTTPHosts: []string{"127.0.0.1", "hooks.internal"}}
	c.Outbound = Outbound{Relay: "smtp://u:p@h:587", Port: 2526, IPv6: true, RetryBase: Duration(2), RetryAttempts: 1, SendWait: Duration(3)}
	c.DNS.Servers = []string{"127.0.0.1:53"}
	c.MCP = MCP{HTTPListen: ":3025", AllowedHosts: []string{"h"}}
	c.Metrics.Listen = ":9100"
	c.Overrides["b.com"] = DomainOverride{Signature: Ptr(""), DKIMSelector: Ptr("b"), Trust: Ptr(TrustNone), TrustedSenders: []string{},
		Send: SendPolicy{Allow: []string{}, QuotaDay: Ptr(50)}}
	c.Overrides["a.com"] = DomainOverride{}
	c.Mailboxes["x@a.com"] = Mailbox{Name: "x@a.com", Owner: "u", Trust: Ptr(TrustNone), TrustedSenders: []string{"a@b.c"},
		Hooks: []Hook{{Name: "h", Event: EventOnReceive, Cmd: []string{"/bin/x", "tab\there \"q\" \\ é \x7f"}, TimeoutSecs: 5, FireOnUntrusted: true}},
		Webhooks: []Webhook{{Name: "w", URL: "http://127.0.0.1:8080/in?k=\"v\"", Events: []Event{EventAfterSend, EventOnReceive},
			Secret: "whsec_" + strings.Repeat("QUFB", 8), FireOnUntrusted: true, IncludeBody: true}, {URL: "https://h.example/x", Events: []Event{EventOnReceive}, Secret: "whsec_" + strings.Repeat("QkJC", 8)}}}
	c.Mailboxes["*@b.com"] = Mailbox{Name: "*@b.com", Owner: "root"}
	return c
}

func TestEncodeWritesEverySetting(t *testing.T) {
	t.Parallel()
	c := everything()
	// Guard for the future: every setting of everything() differs from
	// Default, so a field the encoder forgets fails the round trip below.
	d := Default("a.com", "b.com")
	cv, dv := reflect.ValueOf(c).Elem(), reflect.ValueOf(d).Elem()
	for i := 0; i < cv.NumField(); i++ {
		name := cv.Type().Field(i).Name
		if name == "Domains" || name == "Source" || name == "Overrides" || name == "Mailboxes" {
			continue
		}
		f, g := cv.Field(i), dv.Field(i)
		if f.Kind() == reflect.Struct {
			for j := 0; j < f.NumField(); j++ {
				if reflect.DeepEqual(f.Field(j).Interface(), g.Field(j).Interface()) {
					t.Errorf("everything() leaves %s.%s at its default", name, f.Type().Field(j).Name)
				}
			}
		} else if reflect.DeepEqual(f.Interface(), g.Interface()) {
			t.Errorf("everything() leaves %s at its default", name)
		}
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	out := c.Encode()
	back, err := parseT(string(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !Equal(back, c) {
		t.Fatalf("round trip lost a setting:\n%s", out)
	}
	// The output is plain TOML any reader accepts.
	var generic map[string]any
	if err := toml.Unmarshal(out, &generic); err != nil {
		t.Fatal(err)
	}
}

func TestEqual(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		mutate func(c *Config)
	}{
		{"domain order", func(c *Config) { c.Domains[0], c.Domains[1] = c.Domains[1], c.Domains[0] }},
		{"global senders", func(c *Config) { c.TrustedSenders = nil }},
		{"section", func(c *Config) { c.SMTP.MaxRecipients++ }},
		{"override senders unset vs empty", func(c *Config) {
			o := c.Overrides["b.com"]
			o.TrustedSenders = nil
			c.Overrides["b.com"] = o
		}},
		{"override removed", func(c *Config) { delete(c.Overrides, "a.com") }},
		{"mailbox senders", func(c *Config) {
			m := c.Mailboxes["x@a.com"]
			m.TrustedSenders = nil
			c.Mailboxes["x@a.com"] = m
		}},
		{"hook timeout", func(c *Config) { c.Mailboxes["x@a.com"].Hooks[0].TimeoutSecs++ }},
		{"hook cmd", func(c *Config) { c.Mailboxes["x@a.com"].Hooks[0].Cmd[1] = "y" }},
	} {
		a, b := everything(), everything()
		if !Equal(a, b) {
			t.Fatal("equal configs differ")
		}
		tc.mutate(b)
		if Equal(a, b) {
			t.Errorf("%s: change not seen by Equal", tc.name)
		}
	}
	a := everything()
	b := a.Clone()
	b.Mailboxes["x@a.com"].Hooks[0].Cmd[0] = "/changed"
	b.Mailboxes["x@a.com"].TrustedSenders[0] = "z"
	b.TrustedSenders[0] = "z"
	b.DNS.Servers[0] = "z"
	*b.Overrides["b.com"].DKIMSelector = "z"
	if !Equal(a, everything()) {
		t.Fatal("Clone shares memory with the original")
	}
}

func TestHandAppendedHookLoads(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := Save(path, loadFile(t, "testdata/multi.toml")); err != nil {
		t.Fatal(err)
	}
	// billing@a.com's table sits in the middle of the file; the operator
	// appends its first hook at the end, and a second one for support.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString("\n[[mailboxes.\"billing@a.com\".hooks]]\nevent = \"on_receive\"\ncmd = [\"/bin/true\"]\n" +
		"\n[[mailboxes.\"support@a.com\".hooks]]\nname = \"extra\"\nevent = \"after_send\"\ncmd = [\"/bin/true\"]\n")
	if err2 := f.Close(); err == nil {
		err = err2
	}
	if err != nil {
		t.Fatal(err)
	}
	c := loadFile(t, path)
	if n := len(c.Mailboxes["billing@a.com"].Hooks); n != 1 {
		t.Fatalf("billing has %d hooks", n)
	}
	if hs := c.Mailboxes["support@a.com"].Hooks; len(hs) != 3 || hs[2].Name != "extra" {
		t.Fatalf("support hooks = %+v", hs)
	}
}

func TestQuote(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", `a"b`, `back\slash`, "line\nbreak\r\n", "tab\t", "\x00\x01\x1f\x7f", "ünïcödé ✓", "\b\f", "'single'", "\uFFFD"} {
		var v struct{ S string }
		doc := "S = " + quote(s)
		if err := toml.Unmarshal([]byte(doc), &v); err != nil {
			t.Errorf("%q: %s does not parse: %v", s, doc, err)
			continue
		}
		if v.S != s {
			t.Errorf("%q: reads back as %q", s, v.S)
		}
		if strings.ContainsAny(quote(s)[1:len(quote(s))-1], "\n\r\x00\x7f") {
			t.Errorf("%q: raw control character in %s", s, quote(s))
		}
	}
}
