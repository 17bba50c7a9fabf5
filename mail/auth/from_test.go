package auth

import (
	"strings"
	"testing"
)

func TestExtractFrom(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, raw       string
		addr, verdict   string
		wantReasonMatch string
	}{
		{"plain", "From: a@example.org\r\n\r\n", "a@example.org", "", ""},
		{"display name, domain lowercased", "From: Alice <Alice@Example.ORG>\r\n\r\n", "Alice@example.org", "", ""},
		{"encoded word", "From: =?UTF-8?Q?Zo=C3=AB_Sender?= <zoe@mail.example.net>\r\n\r\n", "zoe@mail.example.net", "", ""},
		{"unknown charset tolerated", "From: =?x-unknown?Q?abc?= <a@example.org>\r\n\r\n", "a@example.org", "", ""},
		{"folded", "Subject: x\r\nFrom: \"Long, Name\"\r\n\t<a@example.org>\r\nTo: b@example.net\r\n\r\n", "a@example.org", "", ""},
		{"LF endings", "From: a@example.org\nTo: b@example.net\n\nFrom: body@evil.example\n", "a@example.org", "", ""},
		{"lowercase field name, space before colon", "from : a@example.org\r\n\r\n", "a@example.org", "", ""},
		{"trailing dot is not an address", "From: a@example.org.\r\n\r\n", "", PermError, ""},
		{"IDN domain", "From: a@bücher.example\r\n\r\n", "a@xn--bcher-kva.example", "", ""},
		{"no blank line", "From: a@example.org", "a@example.org", "", ""},
		{"From only in the body", "To: a@example.org\r\n\r\nFrom: x@example.org\r\n", "", None, "no From"},
		{"no header at all", "\r\nFrom: x@example.org\r\n", "", None, "no From"},
		{"two fields", "From: a@example.org\r\nFROM: b@example.org\r\n\r\n", "", PermError, "more than one"},
		{"two addresses", "From: a@example.org, b@example.org\r\n\r\n", "", PermError, "exactly one"},
		{"group", "From: undisclosed:;\r\n\r\n", "", PermError, ""},
		{"garbage", "From: <<<\r\n\r\n", "", PermError, "unparseable"},
		{"empty", "From:\r\n\r\n", "", PermError, ""},
		{"no domain", "From: <postmaster>\r\n\r\n", "", PermError, ""},
		{"literal domain", "From: a@[192.0.2.1]\r\n\r\n", "", PermError, ""},
		{"single label", "From: a@localhost\r\n\r\n", "", PermError, "not a valid domain"},
		{"continuation before any field", " x\r\nFrom: a@example.org\r\n\r\n", "a@example.org", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := extractFrom([]byte(tc.raw))
			if got.addr != tc.addr || got.verdict != tc.verdict {
				t.Fatalf("got addr %q verdict %q (%s); want %q %q", got.addr, got.verdict, got.reason, tc.addr, tc.verdict)
			}
			if tc.wantReasonMatch != "" && !strings.Contains(got.reason, tc.wantReasonMatch) {
				t.Fatalf("reason %q lacks %q", got.reason, tc.wantReasonMatch)
			}
			if got.verdict == "" && !strings.HasSuffix(got.addr, "@"+got.domain) {
				t.Fatalf("domain %q does not match address %q", got.domain, got.addr)
			}
		})
	}
}

func FuzzExtractFrom(f *testing.F) {
	seeds := []string{
		"From: a@example.org\r\n\r\n",
		"From: =?UTF-8?Q?Zo=C3=AB?= <zoe@mail.example.net>\r\nTo: x\r\n\r\nbody",
		"From: a@example.org, b@example.org\r\n\r\n",
		"from:\r\n \"x\" <a@b.c>\n\n",
		"From: a@bücher.example\r\n\r\n",
		"From: undisclosed:;\r\n",
		"\r\n",
		"",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got := extractFrom(raw)
		switch got.verdict {
		case "":
			if !isDomainName(got.domain) || !strings.HasSuffix(got.addr, "@"+got.domain) {
				t.Fatalf("usable From with bad parts: %q / %q", got.addr, got.domain)
			}
			if strings.ContainsAny(got.domain, "\r\n \t") {
				t.Fatalf("domain %q holds whitespace", got.domain)
			}
		case None, PermError:
			if got.addr != "" || got.domain != "" || got.reason == "" {
				t.Fatalf("unusable From leaked parts: %+v", got)
			}
		default:
			t.Fatalf("verdict %q", got.verdict)
		}
	})
}
