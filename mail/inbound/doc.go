// Package inbound is aimx's SMTP intake (book/smtp.md, book/verification.md): a thin go-smtp
// server that accepts mail for the configured domains, and the SMTP-free
// Deliverer behind it that checks the data, verifies DKIM/SPF/DMARC once
// per transaction, decides trust per mailbox, recognises re-deliveries
// (Dedup) and stores one copy per distinct resolved mailbox durably before
// the sender gets its 250.
//
// Failures are *outcome.Error values (package mail/outcome): the wire gets
// the generic text, the one log line per transaction gets the detail.
package inbound
