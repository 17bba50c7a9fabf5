package domains

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// stubOwners resolves every owner except "ghost".
func stubOwners(name string) (Owner, error) {
	if name == "ghost" {
		return Owner{}, fmt.Errorf("unknown user %s", name)
	}
	return Owner{Name: name, UID: 1000, GID: 1000, Home: "/home/" + name}, nil
}

func parseT(text string) (*Config, error) {
	return Parse([]byte(text), "config.toml", LoadOptions{LookupOwner: stubOwners})
}

const base = "domains = [\"a.com\", \"b.com\"]\n"

// mbox is a minimal valid mailbox table for the base domains.
func mbox(name string, extra ...string) string {
	return fmt.Sprintf("\n[mailboxes.%q]\nowner = \"u\"\n%s", name, strings.Join(extra, "\n")+"\n")
}

func hook(mailbox string, lines ...string) string {
	return fmt.Sprintf("\n[[mailboxes.%q.hooks]]\n%s\n", mailbox, strings.Join(lines, "\n"))
}

const echoHook = "event = \"on_receive\"\ncmd = [\"/bin/echo\", \"hi\"]"

type loadCase struct {
	name string
	toml string
	// err is a substring of the error; "" means the config must load.
	err string
	// line, when set, is the line the first ConfigError must name.
	line int
	// warn is a substring one of the warnings must hold.
	warn  string
	check func(t *testing.T, c *Config)
}

func runLoadCases(t *testing.T, cases []loadCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := parseT(tc.toml)
			if tc.err != "" {
				if err == nil {
					t.Fatalf("loaded, want error containing %q", tc.err)
				}
				if !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %q does not contain %q", err, tc.err)
				}
				var ce *ConfigError
				if !errors.As(err, &ce) {
					t.Fatalf("error %v wraps no *ConfigError", err)
				}
				if tc.line != 0 && ce.Line != tc.line {
					t.Fatalf("error names line %d, want %d: %v", ce.Line, tc.line, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if tc.warn != "" && !slices.ContainsFunc(c.Source.Warnings, func(w Warning) bool {
				return strings.Contains(w.String(), tc.warn)
			}) {
				t.Fatalf("no warning contains %q: %v", tc.warn, c.Source.Warnings)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

func TestLoadDomains(t *testing.T) {
	t.Parallel()
	runLoadCases(t, []loadCase{
		{name: "lowercased and deduplicated, order kept", toml: `domains = ["B.com", "a.COM", "b.com"]`,
			check: func(t *testing.T, c *Config) {
				if !slices.Equal(c.Domains, []string{"b.com", "a.com"}) || c.DefaultDomain() != "b.com" {
					t.Fatalf("domains = %v", c.Domains)
				}
			}},
		{name: "missing", toml: `trust = "none"`, err: "'domains' is required"},
		{name: "empty list", toml: `domains = []`, err: "at least one domain"},
		{name: "not a list", toml: `domains = "a.com"`, err: "'domains' must be a list", line: 1},
		{name: "list of non-strings", toml: `domains = [1]`, err: "'domains' must be a list"},
		{name: "single label", toml: `domains = ["localhost"]`, err: "at least two labels"},
		{name: "bad character", toml: `domains = ["a_b.com"]`, err: "may only hold"},
		{name: "leading dash", toml: `domains = ["-a.com"]`, err: "starts or ends with '-'"},
		{name: "trailing dash", toml: `domains = ["a-.com"]`, err: "starts or ends with '-'"},
		{name: "empty label", toml: `domains = ["a..com"]`, err: "empty or longer than 63"},
		{name: "trailing dot", toml: `domains = ["a.com."]`, err: "empty or longer than 63"},
		{name: "label of 63", toml: `domains = ["` + strings.Repeat("a", 63) + `.com"]`},
		{name: "label of 64", toml: `domains = ["` + strings.Repeat("a", 64) + `.com"]`, err: "longer than 63"},
		{name: "253 characters", toml: `domains = ["` + strings.Repeat("a.", 125) + `com"]`},
		{name: "254 characters", toml: `domains = ["` + strings.Repeat("a.", 126) + `co"]`, err: "longer than 253"},
		{name: "error names the line of the bad domain", toml: "domains = [\n  \"a.com\",\n  \"b_c.com\",\n]", err: `domains[1]`, line: 3},
		{name: "legacy single domain", toml: `domain = "A.com"`, warn: "legacy single-domain",
			check: func(t *testing.T, c *Config) {
				if !slices.Equal(c.Domains, []string{"a.com"}) || !c.Source.LegacyDomain {
					t.Fatalf("domains = %v, legacy = %v", c.Domains, c.Source.LegacyDomain)
				}
			}},
		{name: "legacy single domain invalid", toml: `domain = "nodot"`, err: "domain: domain \"nodot\" needs at least two labels", line: 1},
		{name: "legacy domain and domains", toml: "domain = \"a.com\"\ndomains = [\"a.com\"]",
			err: "specify either 'domain' (singular, legacy) or 'domains' (plural), not both"},
		{name: "domain of another type", toml: base + "domain = 5", err: "'domain' must be a string"},
		{name: "override table", toml: base + "[domain.\"B.com\"]\ntrust = \"verified\"",
			check: func(t *testing.T, c *Config) {
				if o, ok := c.Overrides["b.com"]; !ok || *o.Trust != TrustVerified {
					t.Fatalf("overrides = %+v", c.Overrides)
				}
			}},
		{name: "empty override table kept", toml: base + "[domain.\"b.com\"]",
			check: func(t *testing.T, c *Config) {
				if _, ok := c.Overrides["b.com"]; !ok {
					t.Fatal("override dropped")
				}
			}},
		{name: "override for an unknown domain", toml: base + "\n[domain.\"c.com\"]\ntrust = \"none\"", err: "not in domains", line: 3},
		{name: "override twice by case", toml: base + "[domain.\"a.com\"]\n[domain.\"A.com\"]", err: "already has an override table"},
		{name: "override unknown key", toml: base + "[domain.\"a.com\"]\nowner = \"x\"", err: "unknown key", line: 3},
		{name: "override bad selector", toml: base + "[domain.\"a.com\"]\ndkim_selector = \"Bad\"", err: "dkim_selector"},
		{name: "override bad trust", toml: base + "[domain.\"a.com\"]\ntrust = \"all\"", err: "trust must be"},
		{name: "override bad glob", toml: base + "[domain.\"a.com\"]\ntrusted_senders = [\"[a]@x\"]", err: "only '*' and '?'"},
		{name: "override empty senders set", toml: base + "[domain.\"a.com\"]\ntrusted_senders = []",
			check: func(t *testing.T, c *Config) {
				if ts := c.Overrides["a.com"].TrustedSenders; ts == nil || len(ts) != 0 {
					t.Fatalf("trusted_senders = %#v, want set and empty", ts)
				}
			}},
	})
}

func TestLoadMailboxes(t *testing.T) {
	t.Parallel()
	has := func(names ...string) func(t *testing.T, c *Config) {
		return func(t *testing.T, c *Config) {
			if got := c.MailboxNames(); !slices.Equal(got, names) {
				t.Fatalf("mailboxes = %v, want %v", got, names)
			}
		}
	}
	runLoadCases(t, []loadCase{
		{name: "fqdn key", toml: base + mbox("info@a.com"), check: has("info@a.com")},
		{name: "fqdn key with address", toml: base + mbox("info@a.com", `address = "info@a.com"`), check: has("info@a.com")},
		{name: "domain of key lowercased", toml: base + mbox("info@A.com", `address = "info@a.COM"`), check: has("info@a.com")},
		{name: "address differs", toml: base + mbox("info@a.com", `address = "sales@a.com"`), err: "does not match the key", line: 5},
		{name: "address on another domain", toml: base + mbox("info@a.com", `address = "info@b.com"`), err: "does not match the key"},
		{name: "uppercase local part", toml: base + mbox("Info@a.com"), err: "must be lowercase"},
		{name: "reserved local part", toml: base + mbox("catchall@a.com"), err: "reserved"},
		{name: "leading dot", toml: base + mbox(".x@a.com"), err: "must not start or end with '.'"},
		{name: "trailing dot", toml: base + mbox("x.@a.com"), err: "must not start or end with '.'"},
		{name: "double dot", toml: base + mbox("a..b@a.com"), err: "contain '..'"},
		{name: "space", toml: base + mbox("a b@a.com"), err: "may only hold"},
		{name: "64 chars", toml: base + mbox(strings.Repeat("x", 64)+"@a.com")},
		{name: "65 chars", toml: base + mbox(strings.Repeat("x", 65)+"@a.com"), err: "1 to 64"},
		{name: "every allowed character", toml: base + mbox("a+b_c-d.e9@a.com"), check: has("a+b_c-d.e9@a.com")},
		{name: "plus address is its own mailbox", toml: base + mbox("a@a.com") + mbox("a+b@a.com"), check: has("a+b@a.com", "a@a.com")},
		{name: "domain not configured", toml: base + mbox("x@c.com"), err: "not in domains", line: 3},
		{name: "legacy key", toml: base + "[mailboxes.info]\naddress = \"info@b.com\"\nowner = \"u\"", check: func(t *testing.T, c *Config) {
			has("info@b.com")(t, c)
			if !c.Source.LegacyMailboxKeys {
				t.Fatal("LegacyMailboxKeys not set")
			}
		}, warn: "legacy local-part key"},
		{name: "legacy key without address uses the default domain", toml: base + "[mailboxes.info]\nowner = \"u\"", check: has("info@a.com")},
		{name: "legacy key mismatch", toml: base + "[mailboxes.info]\naddress = \"sales@a.com\"\nowner = \"u\"", err: "does not match the legacy key", line: 3},
		{name: "legacy catchall key", toml: base + "[mailboxes.catchall]\naddress = \"*@b.com\"\nowner = \"u\"", check: has("*@b.com")},
		{name: "legacy catchall key without address", toml: base + "[mailboxes.catchall]\nowner = \"u\"", check: has("*@a.com")},
		{name: "legacy catchall key with a named address", toml: base + "[mailboxes.catchall]\naddress = \"x@a.com\"\nowner = \"u\"", err: "does not match the legacy key"},
		{name: "legacy key with an invalid local part", toml: base + "[mailboxes.Info]\nowner = \"u\"", err: "must be lowercase"},
		{name: "star key is not a legacy key", toml: base + "[mailboxes.\"*\"]\nowner = \"u\"", err: "may only hold"},
		{name: "legacy and fqdn key for one mailbox", toml: base + "[mailboxes.info]\nowner = \"u\"" + mbox("info@a.com"), err: "already defined"},
		{name: "two catchalls for one domain", toml: base + "[mailboxes.catchall]\nowner = \"u\"" + mbox("*@a.com"), err: "catchall of a.com (one per domain)"},
		{name: "catchalls on two domains", toml: base + mbox("*@a.com") + mbox("*@b.com"), check: has("*@a.com", "*@b.com")},
		{name: "catchall with hooks", toml: base + mbox("*@a.com") + hook("*@a.com", echoHook), err: "a catchall cannot have hooks"},
		{name: "owner missing", toml: base + "[mailboxes.\"x@a.com\"]\ntrust = \"none\"", err: "owner is required"},
		{name: "owner invalid", toml: base + "[mailboxes.\"x@a.com\"]\nowner = \"a b\"", err: "not a valid user name"},
		{name: "owner that does not resolve is a warning", toml: base + "[mailboxes.\"x@a.com\"]\nowner = \"ghost\"",
			warn: `config.toml:3: mailboxes."x@a.com".owner: owner "ghost" does not resolve`},
		{name: "root owner", toml: base + "[mailboxes.\"x@a.com\"]\nowner = \"root\""},
		{name: "bad trust", toml: base + mbox("x@a.com", `trust = "maybe"`), err: "trust must be"},
		{name: "bad glob", toml: base + mbox("x@a.com", `trusted_senders = ["a b@c.com"]`), err: "trusted_senders[0]"},
		{name: "mailbox signature", toml: base + mbox("x@a.com", `signature = "Ada, support"`),
			check: func(t *testing.T, c *Config) {
				e, _ := c.EffectiveFor("x@a.com")
				if m := c.Mailboxes["x@a.com"]; m.Signature == nil || *m.Signature != "Ada, support" || e.Signature != "Ada, support" {
					t.Errorf("signature %v, effective %q", m.Signature, e.Signature)
				}
				if !strings.Contains(string(c.Encode()), `signature = "Ada, support"`) {
					t.Error("the mailbox signature is not written back")
				}
			}},
		{name: "mailbox unknown key", toml: base + mbox("x@a.com", `signatures = "x"`), err: "unknown key", line: 5},
		{name: "mailboxes not a table", toml: base + "mailboxes = 5", err: "'mailboxes' must be a table"},
		{name: "mailbox not a table", toml: base + "[mailboxes]\ninfo = 5", err: "a mailbox must be a table"},
		{name: "mailbox trust and senders", toml: base + mbox("x@a.com", `trust = "verified"`, `trusted_senders = []`),
			check: func(t *testing.T, c *Config) {
				m := c.Mailboxes["x@a.com"]
				if *m.Trust != TrustVerified || m.TrustedSenders == nil {
					t.Fatalf("mailbox = %+v", m)
				}
			}},
	})
}

func TestLoadHooks(t *testing.T) {
	t.Parallel()
	mb := base + mbox("x@a.com")
	hookOf := func(t *testing.T, c *Config) Hook {
		t.Helper()
		hs := c.Mailboxes["x@a.com"].Hooks
		if len(hs) != 1 {
			t.Fatalf("hooks = %+v", hs)
		}
		return hs[0]
	}
	runLoadCases(t, []loadCase{
		{name: "unnamed hook gets the derived name and defaults", toml: mb + hook("x@a.com", echoHook),
			check: func(t *testing.T, c *Config) {
				h := hookOf(t, c)
				if h.Name != "" || h.EffectiveName() != "9f5503741a28" || h.TimeoutSecs != 60 || h.FireOnUntrusted {
					t.Fatalf("hook = %+v (%s)", h, h.EffectiveName())
				}
			}},
		{name: "named", toml: mb + hook("x@a.com", `name = "_a.b-C9"`, echoHook)},
		{name: "name of 128", toml: mb + hook("x@a.com", `name = "`+strings.Repeat("n", 128)+`"`, echoHook)},
		{name: "name of 129", toml: mb + hook("x@a.com", `name = "`+strings.Repeat("n", 129)+`"`, echoHook), err: "1 to 128"},
		{name: "name starting with dash", toml: mb + hook("x@a.com", `name = "-x"`, echoHook), err: "must match"},
		{name: "name starting with dot", toml: mb + hook("x@a.com", `name = ".x"`, echoHook), err: "must match"},
		{name: "name with space", toml: mb + hook("x@a.com", `name = "a b"`, echoHook), err: "must match", line: 8},
		{name: "empty name", toml: mb + hook("x@a.com", `name = ""`, echoHook), err: "must not be empty"},
		{name: "name unique across mailboxes", toml: mb + mbox("y@b.com") + hook("x@a.com", `name = "n"`, echoHook) + hook("y@b.com", `name = "n"`, echoHook),
			err: `hook name "n" is already used`},
		{name: "derived names collide across mailboxes", toml: mb + mbox("y@b.com") + hook("x@a.com", echoHook) + hook("y@b.com", echoHook),
			err: `"9f5503741a28" is already used`},
		{name: "explicit name equal to a derived one", toml: mb + mbox("y@b.com") + hook("x@a.com", echoHook) + hook("y@b.com", `name = "9f5503741a28"`, echoHook),
			err: "already used"},
		{name: "bad event", toml: mb + hook("x@a.com", `event = "on_send"`, `cmd = ["/bin/true"]`), err: "event must be"},
		{name: "missing event", toml: mb + hook("x@a.com", `cmd = ["/bin/true"]`), err: "event must be"},
		{name: "missing cmd", toml: mb + hook("x@a.com", `event = "on_receive"`), err: "at least the program path"},
		{name: "empty cmd", toml: mb + hook("x@a.com", `event = "on_receive"`, `cmd = []`), err: "at least the program path"},
		{name: "relative cmd", toml: mb + hook("x@a.com", `event = "on_receive"`, `cmd = ["echo", "hi"]`), err: "must be an absolute path"},
		{name: "NUL in cmd", toml: mb + hook("x@a.com", `event = "on_receive"`, `cmd = ["/bin/echo", "a\u0000b"]`), err: "NUL"},
		{name: "timeout 0", toml: mb + hook("x@a.com", echoHook, `timeout_secs = 0`), err: "from 1 to 600"},
		{name: "timeout 601", toml: mb + hook("x@a.com", echoHook, `timeout_secs = 601`), err: "from 1 to 600"},
		{name: "timeout 1 and 600", toml: mb + mbox("y@a.com") + hook("x@a.com", echoHook, `timeout_secs = 1`) + hook("y@a.com", `name = "y"`, echoHook, `timeout_secs = 600`)},
		{name: "fire_on_untrusted on after_send", toml: mb + hook("x@a.com", `event = "after_send"`, `cmd = ["/bin/true"]`, `fire_on_untrusted = true`), err: "only on_receive"},
		{name: "fire_on_untrusted false on after_send", toml: mb + hook("x@a.com", `event = "after_send"`, `cmd = ["/bin/true"]`, `fire_on_untrusted = false`)},
		{name: "fire_on_untrusted on on_receive", toml: mb + hook("x@a.com", echoHook, `fire_on_untrusted = true`),
			check: func(t *testing.T, c *Config) {
				if h := hookOf(t, c); !h.FireOnUntrusted || h.EffectiveName() == "9f5503741a28" {
					t.Fatalf("hook = %+v", h)
				}
			}},
		{name: "rust type cmd", toml: mb + hook("x@a.com", echoHook, `type = "cmd"`), warn: "hooks[0].type: Rust aimx key"},
		{name: "other type", toml: mb + hook("x@a.com", echoHook, `type = "webhook"`), err: "not supported"},
		{name: "unknown hook key", toml: mb + hook("x@a.com", echoHook, `shell = true`), err: "unknown key", line: 10},
		{name: "hooks not tables", toml: base + mbox("x@a.com", `hooks = "x"`), err: "hooks must be"},
	})
}

func TestLoadGlobalAndSections(t *testing.T) {
	t.Parallel()
	runLoadCases(t, []loadCase{
		{name: "defaults", toml: base, check: func(t *testing.T, c *Config) {
			want := Default("a.com", "b.com")
			if !Equal(c, want) {
				t.Fatalf("got %+v\nwant %+v", c, want)
			}
		}},
		{name: "selector ok", toml: base + `dkim_selector = "s-1_2"`},
		{name: "selector uppercase", toml: base + `dkim_selector = "S"`, err: "dkim_selector"},
		{name: "selector empty", toml: base + `dkim_selector = ""`, err: "1 to 63"},
		{name: "selector of 63", toml: base + `dkim_selector = "` + strings.Repeat("s", 63) + `"`},
		{name: "selector of 64", toml: base + `dkim_selector = "` + strings.Repeat("s", 64) + `"`, err: "1 to 63"},
		{name: "selector with dot", toml: base + `dkim_selector = "a.b"`, err: "may only hold"},
		{name: "trust verified", toml: base + `trust = "verified"`},
		{name: "trust bad", toml: base + `trust = "Verified"`, err: "trust must be", line: 2},
		{name: "globs ok", toml: base + `trusted_senders = ["*@x.com", "a?c@y.org"]`},
		{name: "glob empty", toml: base + `trusted_senders = [""]`, err: "empty"},
		{name: "glob class", toml: base + `trusted_senders = ["[ab]@x.com"]`, err: "only '*' and '?'"},
		{name: "glob display name", toml: base + `trusted_senders = ["Bob <b@x.com>"]`, err: "only '*' and '?'"},
		{name: "signature disabled", toml: base + `signature = ""`, check: func(t *testing.T, c *Config) {
			if c.Signature != "" {
				t.Fatalf("signature = %q", c.Signature)
			}
		}},
		{name: "dedup window", toml: base + `dedup_window = "24h"`, check: func(t *testing.T, c *Config) {
			if c.DedupWindow.D().Hours() != 24 {
				t.Fatalf("dedup_window = %v", c.DedupWindow)
			}
		}},
		{name: "dedup window not a duration", toml: base + `dedup_window = "a week"`, err: "invalid duration", line: 2},
		{name: "dedup window zero", toml: base + `dedup_window = "0s"`, err: "positive duration"},
		{name: "dedup window negative", toml: base + `dedup_window = "-1h"`, err: "positive duration"},
		{name: "dedup window integer", toml: base + `dedup_window = 60`, err: "must be a duration string", line: 2},
		{name: "verify timeout integer", toml: base + "[smtp]\nverify_timeout = 10", err: "smtp.verify_timeout: must be a duration string"},
		{name: "retry base integer", toml: base + "[outbound]\nretry_base = 10", err: "must be a duration string"},
		{name: "send wait integer", toml: base + "[outbound]\nsend_wait = 10", err: "must be a duration string"},
		{name: "data dir relative", toml: base + `data_dir = "var/aimx"`, err: "absolute path"},
		{name: "data dir default is unset", toml: base + `data_dir = "/var/lib/aimx"`, check: func(t *testing.T, c *Config) {
			if c.DataDir != "" {
				t.Fatalf("data_dir = %q", c.DataDir)
			}
		}},
		{name: "runtime dir", toml: base + `runtime_dir = "/tmp/ax/run"`},
		{name: "smtp", toml: base + "[smtp]\nlisten = \"127.0.0.1:0\"\nhostname = \"MX.a.com\"\ntls_cert = \"/c.pem\"\ntls_key = \"/k.pem\"\nverify_timeout = \"1m\"",
			check: func(t *testing.T, c *Config) {
				if c.SMTP.Hostname != "mx.a.com" || c.Hostname() != "mx.a.com" || c.SMTP.VerifyTimeout.D().Minutes() != 1 {
					t.Fatalf("smtp = %+v", c.SMTP)
				}
			}},
		{name: "hostname defaults to the default domain", toml: base, check: func(t *testing.T, c *Config) {
			if c.Hostname() != "a.com" {
				t.Fatalf("hostname = %q", c.Hostname())
			}
		}},
		{name: "smtp listen without port", toml: base + "[smtp]\nlisten = \"25\"", err: "host:port"},
		{name: "smtp listen empty", toml: base + "[smtp]\nlisten = \"\"", err: "must not be empty"},
		{name: "smtp hostname invalid", toml: base + "[smtp]\nhostname = \"mx\"", err: "at least two labels"},
		{name: "tls cert without key", toml: base + "[smtp]\ntls_cert = \"/c.pem\"", err: "set together"},
		{name: "max message bytes 0", toml: base + "[smtp]\nmax_message_bytes = 0", err: "at least 1"},
		{name: "max recipients 0", toml: base + "[smtp]\nmax_recipients = 0", err: "at least 1"},
		{name: "max connections 0", toml: base + "[smtp]\nmax_connections = 0", err: "at least 1"},
		{name: "max connections per ip 0", toml: base + "[smtp]\nmax_connections_per_ip = 0", err: "at least 1"},
		{name: "max recipients wrong type", toml: base + "[smtp]\nmax_recipients = \"many\"", err: "wrong type: a TOML string where an integer was expected", line: 3},
		{name: "hook workers 0", toml: base + "[hooks]\nworkers = 0", err: "at least 1"},
		{name: "relay", toml: base + "[outbound]\nrelay = \"smtps://u:p@relay.example.com:465\"\nport = 2525\nipv6 = true\nretry_base = \"1s\"\nretry_attempts = 2\nsend_wait = \"0s\"",
			check: func(t *testing.T, c *Config) {
				if !c.Outbound.IPv6 || c.Outbound.Port != 2525 || c.Outbound.SendWait != 0 {
					t.Fatalf("outbound = %+v", c.Outbound)
				}
			}},
		{name: "relay scheme", toml: base + "[outbound]\nrelay = \"http://u:secret@h:25\"", err: "scheme must be smtp or smtps"},
		{name: "relay without port", toml: base + "[outbound]\nrelay = \"smtp://h\"", err: "needs a port"},
		{name: "relay without host", toml: base + "[outbound]\nrelay = \"smtp://:25\"", err: "needs a host"},
		{name: "port 0", toml: base + "[outbound]\nport = 0", err: "1 to 65535"},
		{name: "port 65536", toml: base + "[outbound]\nport = 65536", err: "1 to 65535"},
		{name: "retry attempts 0", toml: base + "[outbound]\nretry_attempts = 0", err: "at least 1"},
		{name: "retry base 0", toml: base + "[outbound]\nretry_base = \"0s\"", err: "positive"},
		{name: "send wait negative", toml: base + "[outbound]\nsend_wait = \"-1s\"", err: "negative"},
		{name: "dns servers", toml: base + "[dns]\nservers = [\"127.0.0.1:5353\", \"[::1]:53\"]"},
		{name: "dns server without port", toml: base + "[dns]\nservers = [\"1.1.1.1\"]", err: "servers[0]"},
		{name: "mcp", toml: base + "[mcp]\nhttp_listen = \"127.0.0.1:3025\"\nallowed_hosts = [\"mail.a.com\"]"},
		{name: "mcp listen bad", toml: base + "[mcp]\nhttp_listen = \"localhost\"", err: "host:port"},
		{name: "mcp allowed host blank", toml: base + "[mcp]\nallowed_hosts = [\"a b\"]", err: "not a host name"},
		{name: "metrics", toml: base + "[metrics]\nlisten = \":9100\""},
		{name: "metrics listen bad", toml: base + "[metrics]\nlisten = \":http:\"", err: "host:port"},
		{name: "unknown top-level key", toml: base + "\nbogus = 1", err: `config.toml:3:1: bogus: unknown key`},
		{name: "unknown section", toml: base + "[smpt]\nlisten = \":25\"", err: "unknown key", line: 2},
		{name: "unknown key in a section", toml: base + "[smtp]\nport = 25", err: "smtp.port: unknown key", line: 3},
		{name: "syntax error", toml: base + "trust = \n", err: "config.toml:2:", line: 2},
		{name: "duplicate key", toml: base + "trust = \"none\"\ntrust = \"none\"", err: "already defined", line: 3},
	})
}

func TestLoadRelayErrorHidesPassword(t *testing.T) {
	t.Parallel()
	_, err := parseT(base + "[outbound]\nrelay = \"http://user:s3cret@h:25\"")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error %v must exist and must not show the password", err)
	}
}

func TestLoadRustKeys(t *testing.T) {
	t.Parallel()
	runLoadCases(t, []loadCase{
		{name: "enable_ipv6 becomes outbound ipv6", toml: base + "enable_ipv6 = true", warn: "enable_ipv6: Rust aimx key",
			check: func(t *testing.T, c *Config) {
				if !c.Outbound.IPv6 || !c.Source.RustKeys {
					t.Fatal("ipv6 not carried over")
				}
			}},
		{name: "outbound ipv6 wins over enable_ipv6", toml: base + "enable_ipv6 = true\n[outbound]\nipv6 = false",
			check: func(t *testing.T, c *Config) {
				if c.Outbound.IPv6 {
					t.Fatal("enable_ipv6 overrode [outbound] ipv6")
				}
			}},
		{name: "verify_host", toml: base + `verify_host = "https://v.example.com"`, warn: "verify_host: Rust aimx key"},
		{name: "upgrade table", toml: base + "[upgrade]\nrelease_manifest_url = \"https://r/x.json\"\nanything = 1", warn: "upgrade: Rust aimx table"},
		{name: "allow_root_catchall", toml: base + mbox("*@a.com", "allow_root_catchall = true"), warn: "allow_root_catchall: Rust aimx key"},
		{name: "plain config has no Rust keys", toml: base, check: func(t *testing.T, c *Config) {
			if c.Source.RustKeys || len(c.Source.Warnings) != 0 {
				t.Fatalf("source = %+v", c.Source)
			}
		}},
	})
}

func TestBothDomainKeysIsSentinel(t *testing.T) {
	t.Parallel()
	_, err := parseT("domain = \"a.com\"\ndomains = [\"a.com\"]")
	if !errors.Is(err, ErrBothDomainKeys) || err.Error() != "config.toml:1:1: domain: "+ErrBothDomainKeys.Error() {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadMultipleErrors(t *testing.T) {
	t.Parallel()
	_, err := parseT(base + "trust = \"x\"\ndkim_selector = \"Y\"")
	var ce *ConfigError
	if err == nil || !errors.As(err, &ce) || strings.Count(err.Error(), "\n") != 1 {
		t.Fatalf("want two errors, one per line: %v", err)
	}
}

func TestLoadTypeErrorsInWords(t *testing.T) {
	t.Parallel()
	runLoadCases(t, []loadCase{
		{name: "bool for a string", toml: base + "trust = true", err: "a TOML boolean where a string was expected"},
		{name: "string for a bool", toml: base + "[outbound]\nipv6 = \"yes\"", err: "where true or false was expected"},
		{name: "string for a list", toml: base + "trusted_senders = \"a@b.c\"", err: "where a list was expected"},
		{name: "string for a table", toml: base + "smtp = \"x\"", err: "where a table was expected"},
	})
}

func TestLoadFileErrors(t *testing.T) {
	t.Parallel()
	if _, err := Load("testdata/does-not-exist.toml", LoadOptions{}); err == nil || !strings.Contains(err.Error(), "load config testdata/does-not-exist.toml") {
		t.Fatalf("err = %v", err)
	}
	_, err := Load("testdata/multi.golden", LoadOptions{LookupOwner: func(string) (Owner, error) { return Owner{}, errors.New("nobody home") }})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLookupOwner(t *testing.T) {
	t.Parallel()
	o, err := LookupOwner("root")
	if err != nil || o.UID != 0 || o.GID != 0 || o.Name != "root" || o.Home == "" {
		t.Fatalf("root = %+v, %v", o, err)
	}
	if _, err := LookupOwner("no-such-user-aimx-test"); err == nil {
		t.Fatal("unknown user resolved")
	}
}
