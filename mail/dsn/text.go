package dsn

import (
	"fmt"
	"strings"
	"time"
)

// explanation is what an RFC 3463 status means in plain words and what the
// sender can do about it.
type explanation struct {
	meaning string
	advice  string
}

const (
	adviceAddress = "Check the address for typos or find a current one; sending to it again will fail the same way."
	adviceLater   = "Try again later, or reach the recipient another way."
	adviceSize    = "Send a smaller message, for example link to large files instead of attaching them."
	advicePolicy  = "The recipient's server refused the message by policy: read what it said, and check the sending domain's SPF, DKIM and DMARC records and whether the content looks like spam."
	adviceNetwork = "The recipient's mail server could not be reached; check the domain for typos, or try again later."
	adviceOther   = "Read what the remote server said; if it is unclear, contact the recipient another way."
)

// details explains the common "subject.detail" pairs of RFC 3463 3.2 to 3.9
// and the authentication codes of RFC 7372 3.
var details = map[string]explanation{
	"1.1":  {"the mailbox does not exist (bad destination mailbox address)", adviceAddress},
	"1.2":  {"the recipient's domain does not exist or accepts no mail (bad destination system address)", adviceAddress},
	"1.3":  {"the address is not valid syntax", adviceAddress},
	"1.4":  {"the address is ambiguous at the destination", adviceAddress},
	"1.6":  {"the mailbox has moved and left no forwarding address", adviceAddress},
	"1.10": {"the recipient's domain publishes a null MX: it accepts no mail (RFC 7505)", adviceAddress},
	"2.1":  {"the mailbox is disabled and accepts no messages", adviceLater},
	"2.2":  {"the mailbox is full", adviceLater},
	"2.3":  {"the message is longer than the mailbox accepts", adviceSize},
	"3.4":  {"the message is too big for the recipient's mail system", adviceSize},
	"4.1":  {"the recipient's mail server did not answer", adviceNetwork},
	"4.2":  {"the connection to the recipient's mail server broke", adviceNetwork},
	"4.4":  {"no route to the recipient's mail server (its DNS or MX records may be wrong)", adviceNetwork},
	"4.7":  {"the message was not delivered in the time allowed", adviceLater},
	"7.1":  {"the recipient's server refused delivery by policy", advicePolicy},
	"7.20": {"the message has no valid DKIM signature the recipient requires", advicePolicy},
	"7.23": {"the SPF check of the sending domain failed", advicePolicy},
	"7.25": {"the reverse DNS of the sending server did not check out", advicePolicy},
	"7.26": {"several authentication checks (SPF, DKIM, DMARC) failed", advicePolicy},
}

// subjects explains a status by its subject alone (RFC 3463 3.1).
var subjects = map[string]explanation{
	"1": {"an addressing problem", adviceAddress},
	"2": {"a problem with the recipient's mailbox", adviceLater},
	"3": {"a problem with the recipient's mail system", adviceLater},
	"4": {"a network or routing problem", adviceNetwork},
	"5": {"a mail protocol problem", adviceOther},
	"6": {"the recipient's system refused the message content", adviceOther},
	"7": {"a security or policy refusal", advicePolicy},
}

// explain returns what a status "class.subject.detail" means.
func explain(status string) explanation {
	class, rest, _ := strings.Cut(status, ".")
	subject, _, _ := strings.Cut(rest, ".")
	e, ok := details[rest]
	if !ok {
		e, ok = subjects[subject]
	}
	if !ok {
		e = explanation{"an unspecified problem", adviceOther}
	}
	if class == "4" {
		e.meaning = "a temporary problem that did not clear before delivery was given up: " + e.meaning
	} else {
		e.meaning = "a permanent failure: " + e.meaning
	}
	return e
}

// humanText returns the text/plain part (RFC 6522 3, first part): which
// recipients failed, why, and what the remote server said, in plain words.
func humanText(req BuildRequest) string {
	var b strings.Builder
	line := func(format string, args ...any) {
		fmt.Fprintf(&b, format, args...)
		b.WriteString("\r\n")
	}
	line("This is the mail system at %s.", req.ReportingMTA)
	line("")
	n := "1 recipient"
	if len(req.Failures) != 1 {
		n = fmt.Sprintf("%d recipients", len(req.Failures))
	}
	line("Your message could not be delivered to %s. Delivery has stopped and", n)
	line("will not be retried; the recipients not listed here are not affected.")
	line("")
	if req.OriginalSubject != "" {
		line("Subject:      %s", req.OriginalSubject)
	}
	if req.OriginalMessageID != "" {
		line("Message-ID:   <%s>", req.OriginalMessageID)
	}
	if !req.ArrivalDate.IsZero() {
		line("Accepted:     %s", req.ArrivalDate.Format(time.RFC1123Z))
	}
	for _, f := range req.Failures {
		status := f.status()
		e := explain(status)
		line("")
		line("Recipient:    %s", f.Recipient)
		line("Status:       %s, %s", status, e.meaning)
		if f.RemoteMTA != "" {
			line("Remote host:  %s", f.RemoteMTA)
		} else {
			line("Remote host:  none answered")
		}
		switch {
		case f.Code != 0:
			line("Remote said:  %d %s", f.Code, strings.TrimSpace(f.Diagnostic))
		case f.Diagnostic != "":
			line("Reason:       %s", strings.TrimSpace(f.Diagnostic))
		}
		if !f.LastAttempt.IsZero() {
			line("Last attempt: %s", f.LastAttempt.Format(time.RFC1123Z))
		}
		line("What to do:   %s", e.advice)
	}
	line("")
	line("The machine-readable report (message/delivery-status) and the header of")
	line("your message follow as attachments.")
	return b.String()
}
