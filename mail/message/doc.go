// Package message turns raw mail into the values aimx stores and shows
// (book/storage.md frontmatter, body, attachments), computes the thread and dedup
// keys (book/storage.md, book/smtp.md), and holds the byte-level edits and checks the SMTP
// edge needs: removing forged Authentication-Results, prepending trace
// fields, building Received, and rejecting bare CR/LF, NUL and smuggling
// shapes in DATA (book/smtp.md).
//
// Parsing uses go-message for what it does well (transfer decoding,
// charsets, address lists) and splits the header and the multipart tree
// itself, in memory, so one malformed line or part header does not lose the
// rest of the message. Importing go-message/charset here makes every
// charset it knows decodable.
package message
