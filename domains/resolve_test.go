package domains

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

func loadFile(t *testing.T, path string) *Config {
	t.Helper()
	c, err := Load(path, LoadOptions{LookupOwner: stubOwners})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMultiDomainConfigResolves(t *testing.T) {
	t.Parallel()
	c := loadFile(t, "testdata/multi.toml")
	if !slices.Equal(c.Domains, []string{"a.com", "b.com"}) || c.DefaultDomain() != "a.com" {
		t.Fatalf("domains = %v", c.Domains)
	}
	if got, want := c.MailboxNames(), []string{"*@a.com", "*@b.com", "billing@a.com", "sales@b.com", "support@a.com"}; !slices.Equal(got, want) {
		t.Fatalf("mailboxes = %v, want %v", got, want)
	}
	if !c.Source.LegacyMailboxKeys || c.Source.LegacyDomain {
		t.Fatalf("source = %+v", c.Source)
	}

	global := []string{"ops@example.com", "*@partners.example.net"}
	for _, tc := range []struct {
		mailbox string
		want    Effective
	}{
		// Mailbox trusted_senders = [] replaces the non-empty global list.
		{"support", Effective{TrustVerified, []string{}, "Sent by the A team", "aimx"}},
		{"billing@a.com", Effective{TrustNone, global, "Sent by the A team", "aimx"}},
		{"*@a.com", Effective{TrustVerified, global, "Sent by the A team", "aimx"}},
		// Domain layer: signature set to "" disables it, list replaced, selector replaced.
		{"sales@b.com", Effective{TrustVerified, []string{"*@b-partners.test"}, "", "b2026"}},
		{"*@b.com", Effective{TrustVerified, []string{"*@b-partners.test"}, "", "b2026"}},
	} {
		got, ok := c.EffectiveFor(tc.mailbox)
		if !ok {
			t.Fatalf("%s: not found", tc.mailbox)
		}
		if got.Trust != tc.want.Trust || !setSliceEqual(got.TrustedSenders, tc.want.TrustedSenders) ||
			got.Signature != tc.want.Signature || got.DKIMSelector != tc.want.DKIMSelector {
			t.Errorf("%s: effective = %#v, want %#v", tc.mailbox, got, tc.want)
		}
	}
	if _, ok := c.EffectiveFor("nobody"); ok {
		t.Error("EffectiveFor found a missing mailbox")
	}
	if e := c.EffectiveForDomain("B.COM"); e.DKIMSelector != "b2026" {
		t.Errorf("domain layer not case-insensitive: %+v", e)
	}

	for _, tc := range []struct {
		rcpt, want string
		err        error
	}{
		{"support@a.com", "support@a.com", nil},
		{"Support@A.com", "support@a.com", nil},
		{"nobody@a.com", "*@a.com", nil},
		{"postmaster@a.com", "*@a.com", nil},
		{"PostMaster@b.com", "*@b.com", nil},
		{"catchall@a.com", "*@a.com", nil},
		{"sales@b.com", "sales@b.com", nil},
		{"support@b.com", "*@b.com", nil},
		{"x@c.com", "", ErrDomainNotConfigured},
		{"x@sub.a.com", "", ErrDomainNotConfigured},
		{"no-at-sign", "", ErrNoMailbox},
		{"@a.com", "", ErrNoMailbox},
	} {
		m, err := c.ResolveRecipient(tc.rcpt)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: err = %v, want %v", tc.rcpt, err, tc.err)
			}
			continue
		}
		if err != nil || m.Name != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.rcpt, m.Name, err, tc.want)
		}
	}

	hooks := c.AllHooks()
	var names []string
	for _, h := range hooks {
		names = append(names, h.Mailbox+"/"+h.EffectiveName())
	}
	if want := []string{"sales@b.com/crm", "support@a.com/9f5503741a28", "support@a.com/audit"}; !slices.Equal(names, want) {
		t.Fatalf("hooks = %v, want %v", names, want)
	}
	if h, ok := c.FindHook("9f5503741a28"); !ok || h.Mailbox != "support@a.com" {
		t.Fatalf("FindHook = %+v, %v", h, ok)
	}
	if _, ok := c.FindHook("nope"); ok {
		t.Fatal("FindHook found a missing hook")
	}
	if c.Hostname() != "mx.a.com" || c.Outbound.RetryBase.String() != "1m30s" {
		t.Fatalf("smtp/outbound = %+v %+v", c.SMTP, c.Outbound)
	}
}

func TestResolveRecipientWithoutCatchall(t *testing.T) {
	t.Parallel()
	c, err := parseT(base + mbox("info@a.com"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ResolveRecipient("postmaster@a.com"); !errors.Is(err, ErrNoMailbox) {
		t.Fatalf("postmaster without catchall: %v", err)
	}
	if _, ok := c.Catchall("a.com"); ok {
		t.Fatal("Catchall found one")
	}
}

func TestEffectiveBuiltIn(t *testing.T) {
	t.Parallel()
	c, err := parseT(base + mbox("info@a.com"))
	if err != nil {
		t.Fatal(err)
	}
	e, _ := c.EffectiveFor("info")
	if e.Trust != TrustNone || len(e.TrustedSenders) != 0 || e.Signature != DefaultSignature || e.DKIMSelector != DefaultDKIMSelector {
		t.Fatalf("built-in = %+v", e)
	}
}

func TestResolveName(t *testing.T) {
	t.Parallel()
	c := Default("a.com", "b.com")
	for _, tc := range []struct{ in, want, err string }{
		{"support", "support@a.com", ""},
		{"*", "*@a.com", ""},
		{"info@B.COM", "info@b.com", ""},
		{"*@b.com", "*@b.com", ""},
		{"Support", "", "lowercase"},
		{"catchall", "", "reserved"},
		{"", "", "1 to 64"},
		{"a..b", "", ".."},
		{"x@nodot", "", "two labels"},
		{"x@", "", "empty domain"},
	} {
		got, err := c.ResolveName(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := (&Config{}).ResolveName("x"); err == nil {
		t.Error("bare name resolved without a default domain")
	}
	if !c.HasDomain("B.com") || c.HasDomain("c.com") {
		t.Error("HasDomain")
	}
}

func TestStorageDirAndNames(t *testing.T) {
	t.Parallel()
	if StorageDir("*@a.com") != "catchall" || StorageDir("info@a.com") != "info" {
		t.Fatal("StorageDir")
	}
	if !IsCatchall("*@a.com") || IsCatchall("info@a.com") {
		t.Fatal("IsCatchall")
	}
}

func TestRustFixturesLoad(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file          string
		domains       []string
		legacy        bool
		mailboxes     int
		unnamedHook   string
		rustWarnings  int
		otherSelector string
	}{
		{"testdata/rust-v1.toml", []string{"agent.example.com"}, true, 3, "7c6d418c1a76", 7, "aimx"},
		{"testdata/rust-v2.toml", []string{"agent.example.com", "other.example.net"}, false, 5, "7c6d418c1a76", 9, "mail2026"},
	} {
		c := loadFile(t, tc.file)
		if !slices.Equal(c.Domains, tc.domains) || c.Source.LegacyDomain != tc.legacy || c.Source.LegacyMailboxKeys != tc.legacy ||
			!c.Source.RustKeys || len(c.Mailboxes) != tc.mailboxes {
			t.Fatalf("%s: domains %v source %+v mailboxes %d", tc.file, c.Domains, c.Source, len(c.Mailboxes))
		}
		rust := 0
		for _, w := range c.Source.Warnings {
			if strings.Contains(w.Message, "Rust aimx") {
				rust++
			}
		}
		if rust != tc.rustWarnings {
			t.Errorf("%s: %d Rust warnings, want %d: %v", tc.file, rust, tc.rustWarnings, c.Source.Warnings)
		}
		if _, ok := c.FindHook(tc.unnamedHook); !ok {
			t.Errorf("%s: no hook named %s", tc.file, tc.unnamedHook)
		}
		for _, n := range []string{"triage-agent", "untrusted-log", "sent-audit"} {
			if _, ok := c.FindHook(n); !ok {
				t.Errorf("%s: no hook %s", tc.file, n)
			}
		}
		// Quirk 6: support's own list replaces the global one; billing has trust none.
		sup, _ := c.EffectiveFor("support@agent.example.com")
		if !slices.Equal(sup.TrustedSenders, []string{"alice@example.com", "*@customer.example.net"}) || sup.Trust != TrustVerified {
			t.Errorf("%s: support = %+v", tc.file, sup)
		}
		if b, _ := c.EffectiveFor("billing@agent.example.com"); b.Trust != TrustNone {
			t.Errorf("%s: billing = %+v", tc.file, b)
		}
		if c.DataDir != "" || c.Outbound.IPv6 { // enable_ipv6 = false in both
			t.Errorf("%s: data_dir %q ipv6 %v", tc.file, c.DataDir, c.Outbound.IPv6)
		}
		if e := c.EffectiveForDomain(tc.domains[len(tc.domains)-1]); e.DKIMSelector != tc.otherSelector {
			t.Errorf("%s: selector %q", tc.file, e.DKIMSelector)
		}
		if rcpt, err := c.ResolveRecipient("unknown@agent.example.com"); err != nil || rcpt.Name != "*@agent.example.com" {
			t.Errorf("%s: catchall routing: %v %v", tc.file, rcpt.Name, err)
		}
	}
	// The fixture configs stay byte-identical: loading never writes.
	for _, f := range []string{"rust-v1.toml", "rust-v2.toml"} {
		a, _ := os.ReadFile("testdata/" + f)
		b, err := os.ReadFile("../testdata/fixtures/rust-install/" + map[string]string{"rust-v1.toml": "v1", "rust-v2.toml": "v2"}[f] + "/etc/config.toml")
		if err == nil && string(a) != string(b) {
			t.Errorf("testdata/%s drifted from the fixture", f)
		}
	}
}
