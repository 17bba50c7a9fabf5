package mcp

import (
	"fmt"
	"strings"

	"github.com/aimx-dev/aimx/mail/auth"
	"github.com/aimx-dev/aimx/storage"
)

// Text renderings (book/mcp.md, "Results"): the short text beside each
// structured result, for clients that show only text and for people. The
// structured result carries the data, the body included; the text names
// what an agent needs to act on one line each and points at the body
// rather than repeating it, unless the call asked for in_text. Every
// value is cleaned before it gets here (sanitize.go), so each header is
// one line and the header block ends at the first blank line. Text the
// sender chose (From, Subject, attachment names) is quoted.

// senderNote is said once per rendering that shows sender text.
const senderNote = "From, Subject and attachment names are text the sender chose."

// readText renders email_read: the header lines, then the body pointer, or
// with inText the body itself (fenced when untrusted) after a blank line.
func readText(r *EmailReadResult, folder storage.Folder, body, bodyNew string, inText bool) string {
	var b strings.Builder
	line := func(name, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", name, v)
		}
	}
	line("From", fmt.Sprintf("%q", r.From))
	line("Reply-To", strings.Join(r.ReplyTo, ", "))
	line("To", strings.Join(r.To, ", "))
	line("Cc", strings.Join(r.Cc, ", "))
	line("Subject", fmt.Sprintf("%q", r.Subject))
	line("Date", r.Date)
	line("Received", r.ReceivedAt)
	line("Id", fmt.Sprintf("%s (%s)", r.ID, folder))
	line("Message-ID", angle(r.MessageID))
	line("In-Reply-To", angle(r.InReplyTo))
	line("Thread", r.ThreadID)
	line("Auth", fmt.Sprintf("DKIM %s, SPF %s, DMARC %s", r.DKIM, r.SPF, r.DMARC))
	line("Trusted", r.Trusted)
	line("Auto-Submitted", r.AutoSubmitted)
	line("List-Id", r.ListID)
	for _, a := range r.Attachments {
		line("Attachment", fmt.Sprintf("%q (%s, %d bytes)", a.Filename, a.ContentType, a.Size))
	}
	line("Delivery", r.DeliveryStatus)
	if r.Read != nil {
		line("Read", fmt.Sprint(*r.Read))
	}
	if r.Trusted != auth.TrustedTrue {
		line("Warning", untrustedReason(r.Trusted, r.DMARC)+". "+senderNote)
	} else {
		line("Note", senderNote)
	}
	line("Body", bodySummary(&r.BodyCut, body, bodyNew, inText))
	if inText && (body != "" || bodyNew != "") {
		// The header block ends at the first blank line; the (fenced)
		// text follows it.
		b.WriteString("\n")
		if bodyNew != "" {
			b.WriteString(strings.TrimSuffix(bodyNew, "\n") + "\n")
			if body != "" {
				b.WriteString("\nThe whole body:\n")
			}
		}
		b.WriteString(body)
	}
	return b.String()
}

// bodySummary is the Body line: the length, the part this result holds,
// and where it is.
func bodySummary(c *BodyCut, body, bodyNew string, inText bool) string {
	where := "in structuredContent.body"
	if inText {
		where = "below"
	}
	var b strings.Builder
	n := c.BodyChars - c.BodyOffset
	if c.BodyTruncated {
		n = c.NextBodyOffset - c.BodyOffset
	}
	switch {
	case c.BodyChars == 0:
		b.WriteString("empty")
	case n <= 0:
		fmt.Fprintf(&b, "%d characters, none in this result", c.BodyChars)
	case c.BodyOffset == 0 && !c.BodyTruncated:
		fmt.Fprintf(&b, "%d characters, %s", c.BodyChars, where)
	default:
		fmt.Fprintf(&b, "%d characters; characters %d to %d %s", c.BodyChars, c.BodyOffset, c.BodyOffset+n-1, where)
	}
	if c.BodyTruncated {
		fmt.Fprintf(&b, "; the rest from body_offset %d", c.NextBodyOffset)
	}
	const newPart = "the new text (quoted earlier mail and signature left out)"
	switch {
	case bodyNew != "" && inText:
		b.WriteString(", after " + newPart)
	case bodyNew != "":
		b.WriteString("; " + newPart + " in structuredContent.body_new")
	}
	if !inText && (body != "" || bodyNew != "") {
		b.WriteString(". If this text is all you can see, call again with in_text true")
	}
	b.WriteString(".")
	return b.String()
}

// angle writes a Message-ID as it appears in a header.
func angle(id string) string {
	if id == "" {
		return ""
	}
	return "<" + id + ">"
}

// listText renders email_list: a head line, then with inText one line
// per email, else where the rows are.
func listText(mailbox string, folder storage.Folder, offset int, cursor bool, r EmailListResult, inText bool) string {
	var b strings.Builder
	from := fmt.Sprintf("offset %d", offset)
	if cursor {
		from = "after the cursor"
	}
	fmt.Fprintf(&b, "%s/%s: %d of %d emails (%s), newest first", mailbox, folder, len(r.Emails), r.Total, from)
	switch {
	case len(r.Emails) == 0:
		b.WriteString(".")
	case inText:
		b.WriteString(", below. " + senderNote)
	default:
		b.WriteString(", in structuredContent.emails. If this text is all you can see, call again with in_text true.")
	}
	if r.NextCursor != "" {
		fmt.Fprintf(&b, " Next page: cursor %s", r.NextCursor)
	}
	if !inText {
		return b.String()
	}
	for _, e := range r.Emails {
		state := "read"
		if !e.Read {
			state = "unread"
		}
		if e.DeliveryStatus != "" {
			state = e.DeliveryStatus // a sent copy
		}
		fmt.Fprintf(&b, "\n%s from %q %q to %s thread %s %s trusted=%s", e.ID, e.From, e.Subject, strings.Join(e.To, ","), e.ThreadID, state, e.Trusted)
	}
	return b.String()
}

// threadText renders thread_read: a head line, then each email's lines
// and, with inText, its fenced body.
func threadText(r *ThreadReadResult, bodies []string, inText bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Thread %s of %s: emails %d to %d of %d, oldest first.", r.ThreadID, r.Mailbox, r.Offset+1, r.Offset+len(r.Emails), r.Total)
	if r.NextOffset > 0 {
		fmt.Fprintf(&b, " Next page: offset %d.", r.NextOffset)
	}
	b.WriteString(" " + senderNote)
	if !inText {
		b.WriteString(" Bodies are in structuredContent.emails[].body; if this text is all you can see, call again with in_text true.")
	}
	for i, e := range r.Emails {
		fmt.Fprintf(&b, "\n\n[%d] %s (%s) from %q to %s %q date %s trusted=%s dmarc=%s", r.Offset+i+1, e.ID, e.Folder, e.From,
			strings.Join(e.To, ","), e.Subject, e.Date, e.Trusted, e.DMARC)
		for _, a := range e.Attachments {
			fmt.Fprintf(&b, " attachment %q", a)
		}
		part := "the new text"
		if e.BodyPart == "full" {
			part = "the whole body"
		}
		fmt.Fprintf(&b, "\nBody: %s, %d characters", part, e.BodyChars)
		if e.BodyTruncated {
			b.WriteString(", cut to its share (email_read has the rest)")
		}
		if inText && bodies[i] != "" {
			fmt.Fprintf(&b, ":\n%s", strings.TrimSuffix(bodies[i], "\n"))
		}
	}
	return b.String()
}
