// Package outbound builds, signs, queues and delivers the mail aimx sends
// (book/sending.md).
//
// The pieces:
//
//   - Compose turns a send request (sender, recipients, subject, a Markdown,
//     plain-text or HTML body, attachments, threading ids) into one RFC 5322
//     message with go-message, and Reply derives the threading and the
//     recipients of an answer from the original's headers.
//   - Sign adds the DKIM signatures of the sending domain (RFC 6376, and
//     RFC 8463 for the optional Ed25519 one) with go-msgauth.
//   - Dial and Conn.Send speak SMTP to a remote MX or a relay through
//     go-smtp's client, with our own STARTTLS step so the EHLO name is ours
//     and the certificate check is recorded, and report one result per
//     recipient as a mail/outcome error.
//   - Queue (FileQueue) holds signed messages and each recipient's state
//     durably; every delivery round is recorded, then acknowledged once
//     its outcome was handed on.
//   - Deliverer runs one round for one queued message: our own domains
//     through Local, the others through the Relay or their MX hosts, on
//     reused connections with a cap per destination.
//   - Worker is the daemon's delivery loop around them.
//
// Nothing here reads the config file or opens sockets on its own: the
// clock, randomness, keys, the queue directory and the dialer are handed
// in.
package outbound
