package dsn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// toCRLF turns the LF line endings of a sample into CRLF.
func toCRLF(b []byte) []byte {
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// checkReport compares got with want field by field (times with Equal).
func checkReport(t *testing.T, got, want *Report) {
	t.Helper()
	if !got.ArrivalDate.Equal(want.ArrivalDate) {
		t.Errorf("ArrivalDate = %v, want %v", got.ArrivalDate, want.ArrivalDate)
	}
	g, w := *got, *want
	g.ArrivalDate, w.ArrivalDate = time.Time{}, time.Time{}
	if g.ReportingMTA != w.ReportingMTA {
		t.Errorf("ReportingMTA = %q, want %q", g.ReportingMTA, w.ReportingMTA)
	}
	if g.OriginalEnvelopeID != w.OriginalEnvelopeID {
		t.Errorf("OriginalEnvelopeID = %q, want %q", g.OriginalEnvelopeID, w.OriginalEnvelopeID)
	}
	if g.OriginalMessageID != w.OriginalMessageID {
		t.Errorf("OriginalMessageID = %q, want %q", g.OriginalMessageID, w.OriginalMessageID)
	}
	if len(g.Recipients) != len(w.Recipients) {
		t.Fatalf("got %d recipients, want %d:\n%+v", len(g.Recipients), len(w.Recipients), g.Recipients)
	}
	for i := range w.Recipients {
		if !reflect.DeepEqual(g.Recipients[i], w.Recipients[i]) {
			t.Errorf("recipient %d:\n got %+v\nwant %+v", i, g.Recipients[i], w.Recipients[i])
		}
	}
}

func TestParseSamples(t *testing.T) {
	tests := []struct {
		file       string
		want       *Report
		wantFailed int
	}{
		{"postfix.eml", &Report{
			ReportingMTA:      "relay.example.org",
			ArrivalDate:       utc("2024-06-04T10:00:03Z"),
			OriginalMessageID: "01HZ3Q8K4N7Y0PBAXJ2C3D4E5F@aimx.example",
			Recipients: []Recipient{{
				FinalRecipient:    "bob@example.net",
				OriginalRecipient: "bob@example.net",
				Action:            "failed",
				Status:            "5.1.1",
				DiagnosticCode:    "550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown in virtual mailbox table",
				RemoteMTA:         "mail.example.net",
			}, {
				FinalRecipient:    "carol@example.net",
				OriginalRecipient: "carol@example.net",
				Action:            "failed",
				Status:            "4.2.2",
				DiagnosticCode:    "452 4.2.2 <carol@example.net>: Mailbox full",
				RemoteMTA:         "mail.example.net",
			}},
		}, 2},
		{"exim.eml", &Report{
			ReportingMTA:      "mail.example.com",
			OriginalMessageID: "01HZ3QA1B2C3D4E5F6G7H8J9K0@aimx.example",
			Recipients: []Recipient{{
				FinalRecipient: "dave@example.com",
				Action:         "failed",
				Status:         "5.0.0",
				DiagnosticCode: "550 5.2.1 The email account that you tried to reach is disabled.",
				RemoteMTA:      "mx1.example.com",
			}},
		}, 1},
		{"gmail.eml", &Report{
			ReportingMTA:      "googlemail.com",
			ArrivalDate:       utc("2024-06-04T10:00:04Z"),
			OriginalMessageID: "01HZ3QB5C6D7E8F9G0H1J2K3L4@aimx.example",
			Recipients: []Recipient{{
				FinalRecipient: "erin@example.org",
				Action:         "failed",
				Status:         "5.1.1",
				DiagnosticCode: "550-5.1.1 The email account that you tried to reach does not exist. " +
					"Please try 550-5.1.1 double-checking the recipient's email address for typos or " +
					"550-5.1.1 unnecessary spaces. For more information, go to 550 5.1.1 " +
					"https://support.google.com/mail/?p=NoSuchUser d9443c01a7336-1f6323f4a0fsi1234567ad.55 - gsmtp",
				RemoteMTA: "mx.example.org",
			}},
		}, 1},
		{"m365.eml", &Report{
			ReportingMTA:      "BN8PR12MB1234.namprd12.prod.outlook.com",
			ArrivalDate:       utc("2024-06-04T10:00:02Z"),
			OriginalMessageID: "01HZ3QC9M8N7P6Q5R4S3T2V1W0@aimx.example",
			Recipients: []Recipient{{
				FinalRecipient:    "erin@contoso.com",
				OriginalRecipient: "erin@contoso.com",
				Action:            "failed",
				Status:            "5.1.10",
				DiagnosticCode:    "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient erin@contoso.com not found by SMTP address lookup",
			}, {
				FinalRecipient:    "frank@fabrikam.com",
				OriginalRecipient: "frank@fabrikam.com",
				Action:            "delayed",
				Status:            "4.4.7",
				DiagnosticCode:    `451 4.4.0 Primary target IP address responded with: "421 4.3.2 Service not available." Attempted failover to alternate host, but that did not succeed.`,
				RemoteMTA:         "mail.fabrikam.com",
			}, {
				FinalRecipient:    "Grace@contoso.com",
				OriginalRecipient: "Grace@contoso.com",
				Action:            "failed",
				Status:            "5.7.1",
				DiagnosticCode:    "550 5.7.1 RESOLVER.RST.AuthRequired; authentication required [Stage: CreateMessage]",
			}},
		}, 2},
		{"base64.eml", &Report{
			ReportingMTA:       "smtp.mailhost.example",
			OriginalEnvelopeID: "01HZ3QD-ENVID",
			ArrivalDate:        utc("2024-06-05T06:15:00Z"),
			OriginalMessageID:  "01HZ3QD7X8Y9Z0A1B2C3D4E5F6@aimx.example",
			Recipients: []Recipient{{
				FinalRecipient: "heidi@example.com",
				Action:         "failed",
				Status:         "5.3.4",
				DiagnosticCode: "552 5.3.4 Message size exceeds fixed maximum message size",
				RemoteMTA:      "[198.51.100.20]",
			}},
		}, 1},
		// A report nested in multipart/mixed, quoted-printable status part,
		// lowercase names, no address type, whitespace-only separator, no
		// blank line after the per-message fields, Latin-1 bytes, Action and
		// Status missing from the second recipient, no close delimiter.
		{"quirks.eml", &Report{
			ReportingMTA:      "legacy.example.net",
			ArrivalDate:       utc("2024-06-05T07:00:00Z"),
			OriginalMessageID: "01HZ3QE1QUIRKS00000000000@aimx.example",
			Recipients: []Recipient{{
				FinalRecipient: "ivan@example.net",
				Action:         "failed",
				Status:         "5.1.2",
				DiagnosticCode: "host not found: ex\uFFFDmple.invalid",
			}, {
				FinalRecipient: "judy@example.net",
				Action:         "failed",
				Status:         "5.7.1",
				DiagnosticCode: "554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked",
			}},
		}, 2},
	}
	for _, tt := range tests {
		raw := readSample(t, tt.file)
		for _, variant := range []struct {
			name string
			b    []byte
		}{{"LF", raw}, {"CRLF", toCRLF(raw)}} {
			t.Run(tt.file+"/"+variant.name, func(t *testing.T) {
				got, err := Parse(bytes.NewReader(variant.b), int64(len(variant.b)))
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				checkReport(t, got, tt.want)
				failed := 0
				for _, r := range got.Recipients {
					if r.Failed() {
						failed++
					}
				}
				if failed != tt.wantFailed {
					t.Errorf("%d recipients Failed(), want %d", failed, tt.wantFailed)
				}
			})
		}
	}
}

func TestParseNotDSN(t *testing.T) {
	tests := []struct {
		name string
		msg  []byte
	}{
		{"disposition-notification report", readSample(t, "mdn.eml")},
		{"plain message quoting DSN fields", readSample(t, "plain.eml")},
		{"forwarded bounce inside message/rfc822", readSample(t, "mixed.eml")},
		{"empty input", nil},
		{"header only", []byte("Subject: hi\r\n")},
		{"status part without recipients", []byte("Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n" +
			"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x.example\n\n--b--\n")},
		{"multipart without boundary", []byte("Content-Type: multipart/report; report-type=delivery-status\n\n" +
			"--b\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@b.example\nAction: failed\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Parse(bytes.NewReader(tt.msg), 1<<20)
			if !errors.Is(err, ErrNotDSN) {
				t.Fatalf("Parse = %+v, %v; want ErrNotDSN", rep, err)
			}
		})
	}
}

// countingReader is an endless stream of 'x' that counts what is read.
type countingReader struct{ n int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	c.n += int64(len(p))
	return len(p), nil
}

func TestParseSizeCap(t *testing.T) {
	raw := readSample(t, "postfix.eml")
	size := int64(len(raw))
	if _, err := Parse(bytes.NewReader(raw), size); err != nil {
		t.Errorf("Parse at exactly maxBytes: %v", err)
	}
	if _, err := Parse(bytes.NewReader(raw), size-1); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Parse one byte over maxBytes: err = %v, want ErrTooLarge", err)
	}
	endless := &countingReader{}
	if _, err := Parse(endless, 4096); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Parse of an endless reader: err = %v, want ErrTooLarge", err)
	}
	if endless.n > 2*4096+512 {
		t.Errorf("Parse read %d bytes of an endless reader with maxBytes 4096", endless.n)
	}
	for _, max := range []int64{0, -1} {
		if _, err := Parse(bytes.NewReader(raw), max); err == nil || errors.Is(err, ErrNotDSN) {
			t.Errorf("Parse with maxBytes %d: err = %v, want an argument error", max, err)
		}
	}
	readErr := errors.New("disk on fire")
	if _, err := Parse(io.MultiReader(bytes.NewReader(raw[:100]), iotestErr{readErr}), size); !errors.Is(err, readErr) {
		t.Errorf("Parse with a failing reader: err = %v, want it wrapped", err)
	}
}

type iotestErr struct{ err error }

func (e iotestErr) Read([]byte) (int, error) { return 0, e.err }

// TestParseGroupVariants covers field-group layouts beyond the samples.
func TestParseGroupVariants(t *testing.T) {
	wrap := func(status string) []byte {
		return []byte("Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n" +
			"--b\nContent-Type: message/delivery-status\n\n" + status + "\n--b--\n")
	}
	tests := []struct {
		name   string
		status string
		want   []Recipient
	}{
		{"no blank line between Postfix-style recipients",
			"Reporting-MTA: dns; x.example\n\nFinal-Recipient: rfc822; a@x.example\nOriginal-Recipient: rfc822; a@x.example\nAction: failed\nStatus: 5.1.1\n" +
				"Final-Recipient: rfc822; b@x.example\nOriginal-Recipient: rfc822; B@X.example\nAction: delivered\nStatus: 2.0.0\n",
			[]Recipient{
				{FinalRecipient: "a@x.example", OriginalRecipient: "a@x.example", Action: "failed", Status: "5.1.1"},
				{FinalRecipient: "b@x.example", OriginalRecipient: "B@x.example", Action: "delivered", Status: "2.0.0"},
			}},
		{"no blank line between Exim-style recipients",
			"Action: failed\nFinal-Recipient: rfc822;a@x.example\nStatus: 5.0.0\nAction: failed\nFinal-Recipient: rfc822;b@x.example\nStatus: 5.0.0\n",
			[]Recipient{
				{FinalRecipient: "a@x.example", Action: "failed", Status: "5.0.0"},
				{FinalRecipient: "b@x.example", Action: "failed", Status: "5.0.0"},
			}},
		{"consecutive Final-Recipient fields are two recipients",
			"Final-Recipient: rfc822; a@x.example\nFinal-Recipient: rfc822; b@x.example\nAction: failed\nStatus: 5.0.0\n",
			[]Recipient{
				{FinalRecipient: "a@x.example"},
				{FinalRecipient: "b@x.example", Action: "failed", Status: "5.0.0"},
			}},
		{"several blank lines, whitespace-only lines",
			"\n\nReporting-MTA: dns; x.example\n\n\n \n\nFinal-Recipient: RFC822; <a@x.example>\nACTION: Delayed\nSTATUS: 4.4.1\n\n\n",
			[]Recipient{{FinalRecipient: "a@x.example", Action: "delayed", Status: "4.4.1"}}},
		{"only Original-Recipient",
			"Original-Recipient: rfc822;a@x.example\nAction: failed\nStatus: 5.1.1\n",
			[]Recipient{{FinalRecipient: "a@x.example", OriginalRecipient: "a@x.example", Action: "failed", Status: "5.1.1"}}},
		{"utf-8 address type with escapes (RFC 6533)",
			"Final-Recipient: utf-8; j\\x{F6}rg@x.example\nAction: failed\nStatus: 5.1.1\n",
			[]Recipient{{FinalRecipient: "jörg@x.example", Action: "failed", Status: "5.1.1"}}},
		{"diagnostic without type keeps its semicolons, status from it",
			"Final-Recipient: rfc822; a@x.example\nDiagnostic-Code: 450 4.2.0 Greylisted; try later\n",
			[]Recipient{{FinalRecipient: "a@x.example", Action: "delayed", Status: "4.2.0", DiagnosticCode: "450 4.2.0 Greylisted; try later"}}},
		{"recipient fields without an address are dropped",
			"Action: failed\nStatus: 5.1.1\n\nFinal-Recipient: rfc822; a@x.example\nAction: failed\nStatus: 5.0.0\n",
			[]Recipient{{FinalRecipient: "a@x.example", Action: "failed", Status: "5.0.0"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Parse(bytes.NewReader(wrap(tt.status)), 1<<20)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(rep.Recipients, tt.want) {
				t.Errorf("recipients:\n got %+v\nwant %+v", rep.Recipients, tt.want)
			}
		})
	}
}

func TestParseDiagnosticCleaned(t *testing.T) {
	long := strings.Repeat("é", 700) // 1400 bytes
	msg := "Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n" +
		"--b\nContent-Type: message/delivery-status\n\n" +
		"Arrival-Date: not a date\n\n" +
		"Final-Recipient: rfc822; a@x.example\nAction: failed\nStatus: 5.0.0\n" +
		"Diagnostic-Code: smtp; 550 bad\x00\x1b[31m \t thing\x7f\n   folded  " + long + "\n--b--\n"
	rep, err := Parse(strings.NewReader(msg), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.ArrivalDate.IsZero() {
		t.Errorf("ArrivalDate = %v, want zero for an unparseable date", rep.ArrivalDate)
	}
	d := rep.Recipients[0].DiagnosticCode
	if !strings.HasPrefix(d, "550 bad[31m thing folded éé") {
		t.Errorf("DiagnosticCode not unfolded and cleaned: %q", d[:min(len(d), 60)])
	}
	if len(d) > 1000 || !strings.HasSuffix(d, "é") {
		t.Errorf("DiagnosticCode is %d bytes ending %q, want at most 1000 on a rune boundary", len(d), d[len(d)-3:])
	}
}

func TestIsReport(t *testing.T) {
	tests := []struct {
		ct   string
		want bool
	}{
		{"multipart/report; report-type=delivery-status; boundary=x", true},
		{`Multipart/Report; BOUNDARY="x"; Report-Type="Delivery-Status"`, true},
		{"multipart/report;\r\n\treport-type=delivery-status", true},
		{"multipart/report; boundary=x; boundary=y; report-type=delivery-status", true},
		{"multipart/report; report-type=delivery-status; report-type=disposition-notification", true},
		{"multipart/report; report-type=disposition-notification; report-type=delivery-status", false},
		{"multipart/report; report-type=disposition-notification; boundary=x", false},
		{"multipart/report; boundary=x", false},
		{"multipart/mixed; report-type=delivery-status", false},
		{"message/delivery-status", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsReport(tt.ct); got != tt.want {
			t.Errorf("IsReport(%q) = %v, want %v", tt.ct, got, tt.want)
		}
	}
}

// TestParsePathological feeds inputs shaped to make a careless parser
// quadratic or deeply recursive; each must finish quickly.
func TestParsePathological(t *testing.T) {
	const size = 1 << 20
	report := "Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\n"
	var nested strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&nested, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i)
	}
	tests := []struct {
		name string
		msg  string
	}{
		{"one field folded a million times", "X-Long: a" + strings.Repeat("\n b", size/3) + "\n\nbody"},
		{"status field folded a million times", report + "Final-Recipient: rfc822; a@x.example\nDiagnostic-Code: smtp; 5" + strings.Repeat("\n x", size/3) + "\n"},
		{"unclosed utf-8 escapes", report + "Final-Recipient: utf-8; " + strings.Repeat(`\x{`, size/3) + "\n"},
		{"many boundaries", report + strings.Repeat("\n--b\n", size/5)},
		{"deep nesting", nested.String()},
		{"many recipients", report + strings.Repeat("Final-Recipient: rfc822; a@x.example\nAction: failed\n\n", size/50)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := Parse(strings.NewReader(tt.msg), 4*size)
			if err != nil && !errors.Is(err, ErrNotDSN) {
				t.Errorf("Parse: %v", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("Parse took %v", d)
			}
		})
	}
}
