package dsn

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	gomessage "github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
)

func baseRequest() BuildRequest {
	return BuildRequest{
		ReportingMTA:      "mx.aimx.example",
		From:              "Mail Delivery System <MAILER-DAEMON@mx.aimx.example>",
		To:                "alice@aimx.example",
		MessageID:         "dsn.01HZ3QF0@mx.aimx.example",
		Date:              time.Date(2024, 6, 9, 10, 0, 0, 0, time.UTC),
		OriginalMessageID: "01HZ3Q8K4N7Y0PBAXJ2C3D4E5F@aimx.example",
		OriginalSubject:   "Quarterly report",
		OriginalHeaders: []byte("From: Alice <alice@aimx.example>\nTo: bob@example.net, carol@example.org\n" +
			"Subject: Quarterly report\nMessage-ID: <01HZ3Q8K4N7Y0PBAXJ2C3D4E5F@aimx.example>\n\nbody that must not be returned\n"),
		ArrivalDate: time.Date(2024, 6, 4, 10, 0, 2, 0, time.UTC),
		Failures: []Failure{{
			Recipient:   "bob@example.net",
			Code:        550,
			Status:      [3]int{5, 1, 1},
			Diagnostic:  "5.1.1 <bob@example.net>: Recipient address rejected: User unknown",
			RemoteMTA:   "mail.example.net",
			LastAttempt: time.Date(2024, 6, 4, 10, 0, 5, 0, time.UTC),
		}, {
			Recipient:   "carol@example.org",
			Status:      [3]int{5, 4, 4},
			Diagnostic:  "no MX or A record for example.org",
			LastAttempt: time.Date(2024, 6, 9, 9, 59, 0, 0, time.FixedZone("", 2*3600)),
		}},
	}
}

// readBuilt parses a built DSN with go-message and returns its header and
// its parts' content types and bodies.
func readBuilt(t *testing.T, b []byte) (gomail.Header, []string, []string) {
	t.Helper()
	ent, err := gomessage.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("go-message cannot read the DSN: %v", err)
	}
	mr := ent.MultipartReader()
	if mr == nil {
		t.Fatal("DSN is not multipart")
	}
	var types, bodies []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading parts: %v", err)
		}
		mt, _, _ := p.Header.ContentType()
		body, err := io.ReadAll(p.Body)
		if err != nil {
			t.Fatalf("reading %s: %v", mt, err)
		}
		types = append(types, mt)
		bodies = append(bodies, string(body))
	}
	return gomail.Header{Header: ent.Header}, types, bodies
}

func TestBuildRoundTrip(t *testing.T) {
	req := baseRequest()
	out, err := Build(req)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if bytes.Contains(bytes.ReplaceAll(out, []byte("\r\n"), nil), []byte("\n")) {
		t.Error("DSN has a bare LF; want CRLF line endings only")
	}
	rep, err := Parse(bytes.NewReader(out), int64(len(out)))
	if err != nil {
		t.Fatalf("Parse(Build()): %v\n%s", err, out)
	}
	checkReport(t, rep, &Report{
		ReportingMTA:      "mx.aimx.example",
		ArrivalDate:       req.ArrivalDate,
		OriginalMessageID: req.OriginalMessageID,
		Recipients: []Recipient{{
			FinalRecipient: "bob@example.net",
			Action:         "failed",
			Status:         "5.1.1",
			DiagnosticCode: "550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown",
			RemoteMTA:      "mail.example.net",
		}, {
			FinalRecipient: "carol@example.org",
			Action:         "failed",
			Status:         "5.4.4",
			DiagnosticCode: "no MX or A record for example.org",
		}},
	})
	if !rep.Recipients[0].Failed() || !rep.Recipients[1].Failed() {
		t.Error("built recipients do not report Failed()")
	}

	h, types, bodies := readBuilt(t, out)
	if !IsReport(h.Get("Content-Type")) {
		t.Errorf("Content-Type %q is not a delivery-status report", h.Get("Content-Type"))
	}
	wantTypes := []string{"text/plain", "message/delivery-status", "text/rfc822-headers"}
	if strings.Join(types, ",") != strings.Join(wantTypes, ",") {
		t.Fatalf("parts = %v, want %v", types, wantTypes)
	}
	headerChecks := map[string]string{
		"From":           `"Mail Delivery System" <MAILER-DAEMON@mx.aimx.example>`,
		"To":             "<alice@aimx.example>",
		"Subject":        "Undelivered mail: Quarterly report",
		"Message-Id":     "<dsn.01HZ3QF0@mx.aimx.example>",
		"In-Reply-To":    "<01HZ3Q8K4N7Y0PBAXJ2C3D4E5F@aimx.example>",
		"References":     "<01HZ3Q8K4N7Y0PBAXJ2C3D4E5F@aimx.example>",
		"Auto-Submitted": "auto-replied",
		"Mime-Version":   "1.0",
		"Date":           "Sun, 09 Jun 2024 10:00:00 +0000",
	}
	for k, want := range headerChecks {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if first, _, _ := strings.Cut(string(out), ":"); first != "From" {
		t.Errorf("first header field is %q, want From", first)
	}

	text := bodies[0]
	for _, want := range []string{
		"bob@example.net", "550 5.1.1 <bob@example.net>: Recipient address rejected", "mail.example.net",
		"the mailbox does not exist", "Check the address for typos",
		"carol@example.org", "no MX or A record for example.org", "Remote host:  none answered",
		"Quarterly report", "could not be delivered to 2 recipients",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text part lacks %q:\n%s", want, text)
		}
	}
	for _, want := range []string{
		"Reporting-MTA: dns; mx.aimx.example\r\n", "Arrival-Date: Tue, 04 Jun 2024 10:00:02 +0000\r\n",
		"Final-Recipient: rfc822; bob@example.net\r\n", "Remote-MTA: dns; mail.example.net\r\n",
		"Last-Attempt-Date: Tue, 04 Jun 2024 10:00:05 +0000\r\n", "Diagnostic-Code: X-aimx; no MX",
	} {
		if !strings.Contains(bodies[1], want) {
			t.Errorf("delivery-status part lacks %q:\n%s", want, bodies[1])
		}
	}
	if strings.Contains(bodies[2], "body that must not be returned") || !strings.Contains(bodies[2], "Subject: Quarterly report\r\n") {
		t.Errorf("returned headers not cut at the blank line or not CRLF:\n%q", bodies[2])
	}
}

func TestBuildNonASCII(t *testing.T) {
	req := baseRequest()
	req.OriginalSubject = "Grüße aus Köln – 東京"
	req.OriginalHeaders = []byte("Subject: " + req.OriginalSubject + "\r\nMessage-ID: <" + req.OriginalMessageID + ">\r\n")
	req.Failures = []Failure{{Recipient: "jörg@bücher.example", Code: 550, Status: [3]int{5, 1, 1}, Diagnostic: "Unbekannter Empfänger"}}
	out, err := Build(req)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	head, _ := splitHead(out)
	if !isASCII(string(head)) {
		t.Errorf("top-level header is not ASCII:\n%s", head)
	}
	if !bytes.Contains(head, []byte("=?utf-8?")) {
		t.Errorf("Subject is not RFC 2047 encoded:\n%s", head)
	}
	h, types, bodies := readBuilt(t, out)
	if !bytes.Contains(out, []byte("Content-Transfer-Encoding: quoted-printable\r\n")) || !strings.Contains(bodies[0], "Subject:      "+req.OriginalSubject) {
		t.Errorf("non-ASCII text part is not quoted-printable or lacks the subject:\n%s", out)
	}
	if subj, err := h.Subject(); err != nil || subj != "Undelivered mail: "+req.OriginalSubject {
		t.Errorf("decoded Subject = %q, %v", subj, err)
	}
	if types[1] != "message/global-delivery-status" || types[2] != "message/global-headers" {
		t.Errorf("parts = %v, want the RFC 6533 global types", types)
	}
	rep, err := Parse(bytes.NewReader(out), int64(len(out)))
	if err != nil {
		t.Fatalf("Parse(Build()): %v", err)
	}
	if r := rep.Recipients[0]; r.FinalRecipient != "jörg@bücher.example" || r.DiagnosticCode != "550 Unbekannter Empfänger" {
		t.Errorf("recipient = %+v", r)
	}
	if rep.OriginalMessageID != req.OriginalMessageID {
		t.Errorf("OriginalMessageID from message/global-headers = %q", rep.OriginalMessageID)
	}
}

func TestBuildRefuses(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*BuildRequest)
		want   string // in the error
	}{
		{"CRLF in subject", func(r *BuildRequest) { r.OriginalSubject = "hi\r\nBcc: victim@example.com" }, "OriginalSubject contains a line break"},
		{"LF in To", func(r *BuildRequest) { r.To = "alice@aimx.example\nBcc: x@y.example" }, "To contains a line break"},
		{"CR in From", func(r *BuildRequest) { r.From = "MAILER-DAEMON@mx.aimx.example\rX: y" }, "From contains a line break"},
		{"LF in MessageID", func(r *BuildRequest) { r.MessageID = "a@b\nX: y" }, "MessageID contains a line break"},
		{"LF in OriginalMessageID", func(r *BuildRequest) { r.OriginalMessageID = "a@b\n" }, "OriginalMessageID contains a line break"},
		{"LF in ReportingMTA", func(r *BuildRequest) { r.ReportingMTA = "mx\n" }, "ReportingMTA contains a line break"},
		{"forged recipient group in Diagnostic", func(r *BuildRequest) {
			r.Failures[0].Diagnostic = "ok\r\n\r\nFinal-Recipient: rfc822; forged@example.com"
		}, "Failures[0].Diagnostic contains a line break"},
		{"LF in Recipient", func(r *BuildRequest) { r.Failures[1].Recipient = "c@x\nAction: delivered" }, "Failures[1].Recipient contains a line break"},
		{"NUL in RemoteMTA", func(r *BuildRequest) { r.Failures[0].RemoteMTA = "mx\x00" }, "Failures[0].RemoteMTA contains control character"},
		{"ESC in subject", func(r *BuildRequest) { r.OriginalSubject = "\x1b[2J" }, "OriginalSubject contains control character"},
		{"invalid UTF-8", func(r *BuildRequest) { r.OriginalSubject = "\xff" }, "not valid UTF-8"},
		{"space in recipient", func(r *BuildRequest) { r.Failures[0].Recipient = "a b@x" }, "single word"},
		{"brackets in message id", func(r *BuildRequest) { r.MessageID = "<a@b>" }, "single word"},
		{"unparseable From", func(r *BuildRequest) { r.From = "not an address" }, "From"},
		{"missing To", func(r *BuildRequest) { r.To = "" }, "To is required"},
		{"no failures", func(r *BuildRequest) { r.Failures = nil }, "no failures"},
		{"zero date", func(r *BuildRequest) { r.Date = time.Time{} }, "Date is required"},
		{"success status", func(r *BuildRequest) { r.Failures[0].Status = [3]int{2, 0, 0} }, "Status 2.0.0"},
		{"bad reply code", func(r *BuildRequest) { r.Failures[0].Code = 99 }, "Code 99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := baseRequest()
			tt.mutate(&req)
			out, err := Build(req)
			if err == nil {
				t.Fatalf("Build succeeded:\n%s", out)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestBuildDefaultsAndFolding(t *testing.T) {
	req := baseRequest()
	req.OriginalSubject = ""
	req.OriginalHeaders = nil
	req.ArrivalDate = time.Time{}
	long := strings.Repeat("word ", 400) // 2000 bytes, capped at 900
	req.Failures = []Failure{
		{Recipient: "a@x.example", Code: 452, Diagnostic: "4.2.2 mailbox full"},
		{Recipient: "b@x.example", Code: 554, Diagnostic: long},
		{Recipient: "c@x.example"},
	}
	out, err := Build(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if len(sc.Text()) > 998 {
			t.Errorf("line of %d bytes exceeds RFC 5322 2.1.1", len(sc.Text()))
		}
	}
	h, _, bodies := readBuilt(t, out)
	for _, line := range strings.Split(bodies[1], "\r\n") {
		if len(line) > 78 {
			t.Errorf("delivery-status line of %d bytes, want fields folded at 78 (RFC 5322 2.2.3): %q", len(line), line)
		}
	}
	if s, _ := h.Subject(); s != "Undelivered mail: (no subject)" {
		t.Errorf("Subject = %q", s)
	}
	rep, err := Parse(bytes.NewReader(out), int64(len(out)))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.ArrivalDate.IsZero() {
		t.Errorf("ArrivalDate = %v, want zero when not given", rep.ArrivalDate)
	}
	if rep.OriginalMessageID != req.OriginalMessageID {
		t.Errorf("OriginalMessageID from the synthesized header block = %q", rep.OriginalMessageID)
	}
	rs := rep.Recipients
	if rs[0].Status != "4.0.0" || rs[1].Status != "5.0.0" || rs[2].Status != "5.0.0" {
		t.Errorf("default statuses = %q %q %q, want 4.0.0 5.0.0 5.0.0", rs[0].Status, rs[1].Status, rs[2].Status)
	}
	if d := rs[1].DiagnosticCode; len(d) > maxDiagnostic || !strings.HasPrefix(d, "554 word word") {
		t.Errorf("long diagnostic not folded and capped: %d bytes %q...", len(d), d[:min(20, len(d))])
	}
	if rs[2].DiagnosticCode != "" || rs[2].RemoteMTA != "" {
		t.Errorf("recipient without code or reason got %+v", rs[2])
	}
}

func TestBuildIsDeterministic(t *testing.T) {
	t.Parallel()
	a, err := Build(baseRequest())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(baseRequest())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("the same request built different bytes")
	}
	other := baseRequest()
	other.MessageID = "another@mx.example.org"
	c, err := Build(other)
	if err != nil {
		t.Fatal(err)
	}
	boundaryOf := func(m []byte) string {
		i := bytes.Index(m, []byte("boundary="))
		return string(m[i : i+40])
	}
	if boundaryOf(a) == boundaryOf(c) {
		t.Fatal("two DSNs share a boundary")
	}
}
