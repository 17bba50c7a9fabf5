// Package outbound builds, signs and hands over the mail aimx sends
// (book/sending.md).
//
// It holds three pieces that the outbound queue and the send tools are
// built from:
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
//
// Nothing here touches storage, the config file or the network on its own:
// the clock, randomness, keys and the dialer are handed in.
package outbound
