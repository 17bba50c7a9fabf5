// Package dsn reads and writes delivery status notifications: the
// multipart/report; report-type=delivery-status messages of RFC 6522 (which
// obsoletes RFC 3462) whose message/delivery-status part is defined by
// RFC 3464, with the enhanced status codes of RFC 3463.
//
// Parse serves inbound mail: when a message is a bounce for mail we sent,
// it tells which message (the returned Message-ID) and which recipients
// failed, with the remote diagnostic. It works on a bounded copy of the
// message and tolerates the variations real mail systems produce.
//
// Build serves the outbound queue: when it gives up on recipients, Build
// writes the one report that is stored in the sending mailbox's inbox, with
// a plain-English explanation an agent can act on. Parse reads it back.
package dsn
