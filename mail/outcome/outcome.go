// Package outcome is the one typed result of a mail operation (book/architecture.md,
// "Habits"): an SMTP reply code, an RFC 3463 enhanced status code, whether
// the failure is temporary or permanent, and whether the sender (user) or
// this server is at fault. The wire gets the generic text, the log gets the
// detail (the wrapped error), the outbound queue retries on temporary, and
// an agent sees the same status.
//
// It is a leaf package (standard library only) so that inbound intake,
// outbound delivery and the MCP surface can all speak it.
package outcome

import (
	"errors"
	"fmt"
)

// Fault says who has to act for the operation to succeed.
type Fault int

const (
	// FaultUser is the sender's (or caller's) doing: a bad address, an
	// oversized or malformed message. Retrying the same request fails
	// the same way unless the error is temporary (a recipient limit).
	FaultUser Fault = iota + 1
	// FaultServer is this server's doing: storage, configuration or an
	// internal error. The sender is not to blame and may retry.
	FaultServer
	// FaultRemote is the other server's doing, for outbound delivery: a
	// refusal or an unreachable MX.
	FaultRemote
)

// String names the fault for logs.
func (f Fault) String() string {
	switch f {
	case FaultUser:
		return "user"
	case FaultServer:
		return "server"
	case FaultRemote:
		return "remote"
	default:
		return "unknown"
	}
}

// Error is a mail outcome that is not success. Code and Enhanced are the
// reply (RFC 5321 4.2, RFC 3463), Text the generic words the wire gets,
// Err the detail for the log (never sent to the peer).
type Error struct {
	Code     int
	Enhanced [3]int
	Text     string
	Fault    Fault
	Err      error
}

// New returns an Error. err may be nil when the text says everything.
func New(code int, enhanced [3]int, fault Fault, text string, err error) *Error {
	return &Error{Code: code, Enhanced: enhanced, Text: text, Fault: fault, Err: err}
}

// Error renders the reply and the detail, for logs and wrapping.
func (e *Error) Error() string {
	s := e.Reply()
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the detail, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports a 4xx outcome: the same request may succeed later
// (RFC 5321 4.2.1), so a queue retries it.
func (e *Error) Temporary() bool { return e.Code/100 == 4 }

// Permanent reports a 5xx outcome: retrying the same request is pointless.
func (e *Error) Permanent() bool { return e.Code/100 == 5 }

// Reply is the reply line as sent on the wire, without CRLF:
// `451 4.3.0 text`.
func (e *Error) Reply() string {
	return fmt.Sprintf("%d %d.%d.%d %s", e.Code, e.Enhanced[0], e.Enhanced[1], e.Enhanced[2], e.Text)
}

// As finds the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// The outcomes of book/smtp.md and the generic server failure. Each call returns
// a fresh *Error, so callers may attach their detail.

// RelayDenied is RCPT for a domain this server does not serve: 550 5.7.1.
func RelayDenied(err error) *Error {
	return New(550, [3]int{5, 7, 1}, FaultUser, "relay not permitted", err)
}

// UserUnknown is RCPT for an address with no mailbox and no catchall:
// 550 5.1.1.
func UserUnknown(err error) *Error {
	return New(550, [3]int{5, 1, 1}, FaultUser, "user unknown", err)
}

// TooManyRecipients is RCPT beyond max_recipients: 452 4.5.3 (RFC 5321
// 4.5.3.1.10 asks for 452 so the client sends the rest in another
// transaction).
func TooManyRecipients(err error) *Error {
	return New(452, [3]int{4, 5, 3}, FaultUser, "too many recipients", err)
}

// MessageTooBig is a message over max_message_bytes, declared with SIZE= or
// seen in DATA: 552 5.3.4 (RFC 1870 6.1).
func MessageTooBig(err error) *Error {
	return New(552, [3]int{5, 3, 4}, FaultUser, "message size exceeds fixed maximum message size", err)
}

// LocalError is a temporary failure of this server (storage, an internal
// error): 451 4.3.0. The sender retries; nothing about the cause is sent.
func LocalError(err error) *Error {
	return New(451, [3]int{4, 3, 0}, FaultServer, "temporary local problem, try again later", err)
}

// ShuttingDown refuses new work while the server stops: 421 4.3.2
// (RFC 3463 4.3.2 "system not accepting network messages").
func ShuttingDown() *Error {
	return New(421, [3]int{4, 3, 2}, FaultServer, "service shutting down, try again later", nil)
}
