package outbound

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aimx-dev/aimx/mail/outcome"
	"github.com/emersion/go-smtp"
)

// Result is what the server said about one recipient of a transaction.
type Result struct {
	// Recipient is the address as given to Send.
	Recipient string
	// Code, Enhanced and Text are the server's reply (RFC 5321 4.2,
	// RFC 3463): the RCPT reply for a refused recipient, else the reply to
	// MAIL, DATA or the final dot that decided it. Code is 0 when the
	// connection failed before a reply.
	Code     int
	Enhanced [3]int
	Text     string
	// Err is nil when the message was accepted for the recipient (250
	// after the final dot), else the classified outcome: Temporary() for
	// 4xx and network failures (retry later), Permanent() for 5xx.
	Err *outcome.Error
}

// Delivered reports that the server took the message for this recipient.
func (r Result) Delivered() bool { return r.Err == nil }

// Send runs one transaction: MAIL FROM, RCPT TO for each recipient, and
// DATA when at least one was accepted, with msg as it is (CRLF lines; the
// dot-stuffing is go-smtp's). It returns one Result per recipient, in
// order. The error is non-nil only when the connection failed (the results
// then hold a temporary outcome for every recipient not yet decided) and
// the Conn must not be reused.
func (c *Conn) Send(ctx context.Context, from string, rcpts []string, msg []byte) ([]Result, error) {
	results := make([]Result, len(rcpts))
	for i, r := range rcpts {
		results[i].Recipient = r
	}
	c.mailOK = false
	if c.broken {
		err := errors.New("smtp send: connection is no longer usable")
		fillPending(results, Classify(err))
		return results, err
	}
	if err := ctx.Err(); err != nil {
		fillPending(results, Classify(fmt.Errorf("smtp send: %w", err)))
		return results, fmt.Errorf("smtp send: %w", err)
	}
	for i, r := range results {
		if !validEnvelopeAddr(r.Recipient) {
			// RFC 5321 4.1.2: refused here rather than sent broken.
			setOutcome(&results[i], outcome.New(553, [3]int{5, 1, 3}, outcome.FaultUser, "bad recipient address syntax",
				fmt.Errorf("recipient %q", r.Recipient)))
		}
	}
	if !validEnvelopeAddr(from) && from != "" {
		fillPending(results, outcome.New(553, [3]int{5, 1, 7}, outcome.FaultUser, "bad sender address syntax", fmt.Errorf("sender %q", from)))
		return results, nil
	}
	// A cancelled context closes the connection: a deadline would be
	// replaced by go-smtp's own at the next command.
	stop := context.AfterFunc(ctx, func() { _ = c.raw.Close() })
	defer stop()
	fail := func(stage string, err error) ([]Result, error) {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		err = fmt.Errorf("smtp %s: %w", stage, err)
		c.broken = true
		fillPending(results, Classify(err))
		return results, err
	}

	opts := &smtp.MailOptions{}
	if ok, _ := c.client.Extension("SIZE"); ok {
		opts.Size = int64(len(msg)) // RFC 1870
	}
	if err := c.client.Mail(from, opts); err != nil {
		if isNetErr(err) {
			return fail("MAIL FROM", err)
		}
		// The whole transaction is refused; the session is still fine
		// unless the server is closing it.
		fillPending(results, Classify(fmt.Errorf("MAIL FROM:<%s>: %w", from, err)))
		c.closing(err)
		return results, nil
	}
	c.mailOK = true
	accepted := 0
	for i := range results {
		if results[i].Err != nil {
			continue
		}
		err := c.client.Rcpt(results[i].Recipient, nil)
		if err == nil {
			results[i].Code = -1 // accepted at RCPT, decided at DATA
			accepted++
			continue
		}
		if isNetErr(err) {
			return fail("RCPT TO", err)
		}
		setOutcome(&results[i], Classify(fmt.Errorf("RCPT TO:<%s>: %w", results[i].Recipient, err)))
	}
	if accepted == 0 {
		// RFC 5321 3.3: no recipient, no DATA; RSET ends the transaction.
		c.reset(lastReply(results))
		return results, nil
	}
	w, err := c.client.Data()
	if err != nil {
		if isNetErr(err) {
			return fail("DATA", err)
		}
		fillAccepted(results, Classify(fmt.Errorf("DATA: %w", err)), "")
		c.reset(err)
		return results, nil
	}
	if _, err := w.Write(msg); err != nil {
		_ = w.Close()
		return fail("DATA", err)
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		if isNetErr(err) {
			return fail("end of DATA", err)
		}
		fillAccepted(results, Classify(fmt.Errorf("end of DATA: %w", err)), "")
		c.closing(err)
		return results, nil
	}
	fillAccepted(results, nil, resp.StatusText)
	return results, nil
}

// validEnvelopeAddr accepts an address that fits in MAIL or RCPT as
// <addr>: non-empty printable ASCII without spaces or angle brackets.
func validEnvelopeAddr(a string) bool {
	if a == "" {
		return false
	}
	for i := 0; i < len(a); i++ {
		if c := a[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' {
			return false
		}
	}
	return true
}

// closing marks the connection unusable after a 421 reply: the server is
// closing the channel (RFC 5321 3.8).
func (c *Conn) closing(err error) {
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code == 421 {
		c.broken = true
	}
}

// reset ends a transaction with RSET, unless the reply that ended it said
// the server is closing.
func (c *Conn) reset(err error) {
	if c.closing(err); c.broken {
		return
	}
	if rerr := c.client.Reset(); rerr != nil {
		c.broken = true
	}
}

// lastReply is the SMTP error of the last refused recipient, for reset.
func lastReply(results []Result) error {
	for i := len(results) - 1; i >= 0; i-- {
		if results[i].Err != nil {
			return results[i].Err
		}
	}
	return nil
}

// setOutcome records a refusal on r.
func setOutcome(r *Result, o *outcome.Error) {
	r.Err = o
	r.Code, r.Enhanced, r.Text = o.Code, o.Enhanced, o.Text
}

// fillPending gives every recipient not yet refused the outcome o.
func fillPending(results []Result, o *outcome.Error) {
	for i := range results {
		if results[i].Err == nil {
			setOutcome(&results[i], o)
		}
	}
}

// fillAccepted decides the recipients accepted at RCPT: refused with o, or
// delivered with the 250 reply text when o is nil.
func fillAccepted(results []Result, o *outcome.Error, text string) {
	for i := range results {
		if results[i].Code != -1 {
			continue
		}
		if o != nil {
			setOutcome(&results[i], o)
			continue
		}
		results[i].Code, results[i].Text = 250, text
		results[i].Enhanced = [3]int{2, 0, 0}
		if code, rest, ok := strings.Cut(text, " "); ok {
			if enh, ok := parseEnhanced(code); ok {
				results[i].Enhanced, results[i].Text = enh, rest
			}
		}
	}
}

// Classify turns a delivery error into a mail outcome, with the remote
// server at fault: an SMTP reply keeps its code and enhanced code (4xx
// temporary, 5xx permanent; RFC 5321 4.2.1), a reply with an unexpected
// code is a temporary protocol error, and anything else (a network
// failure, a timeout, a failed handshake) is temporary. An *outcome.Error
// already in the chain is returned as it is.
func Classify(err error) *outcome.Error {
	if err == nil {
		return nil
	}
	if o, ok := outcome.As(err); ok {
		return o
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		enh := [3]int(se.EnhancedCode)
		class := se.Code / 100
		switch {
		case class != 4 && class != 5:
			// A 2xx or 3xx where another reply was due.
			return outcome.New(451, [3]int{4, 5, 0}, outcome.FaultRemote, "unexpected reply: "+se.Error(), err)
		case enh[0] != class:
			// No enhanced code, or one that contradicts the reply code
			// (RFC 3463 2: the classes must agree).
			enh = [3]int{class, 0, 0}
		}
		return outcome.New(se.Code, enh, outcome.FaultRemote, se.Message, err)
	}
	switch {
	case errors.Is(err, ErrTLSRequired):
		return outcome.New(451, [3]int{4, 7, 10}, outcome.FaultRemote, "TLS required but not offered", err)
	case errors.Is(err, ErrTLSHandshake):
		return outcome.New(451, [3]int{4, 7, 5}, outcome.FaultRemote, "TLS handshake failed", err)
	}
	return netOutcome([3]int{4, 4, 2}, "connection failed", err)
}

// netOutcome is a temporary network failure (RFC 3463 X.4.1 no answer,
// X.4.2 bad connection).
func netOutcome(enh [3]int, text string, err error) *outcome.Error {
	return outcome.New(451, enh, outcome.FaultRemote, text, err)
}
