package message

import (
	"crypto/sha256"
	"encoding/hex"
)

// DedupKey is the key that recognises a re-delivery of the same message
// (SPEC §5): the Message-ID without `<>` when there is one; otherwise the
// lowercase hex sha256 of
//
//	From "\n" Date "\n" Subject "\n\n" body
//
// where From, Date and Subject are the raw values of the first field of
// each name (unfolded: CR and LF bytes removed, the folding whitespace kept;
// surrounding spaces and tabs trimmed; not RFC 2047-decoded; "" when the
// field is absent), and body is every byte after the empty line that ends
// the header, exactly as received (CRLF stays CRLF). Unfolding follows
// RFC 5322 2.2.3, so the key is the same whether the stored copy was read
// with LF or CRLF header lines. Trace fields we prepend (Received,
// Authentication-Results) do not change the key, so it can be recomputed
// from a stored .eml.
func DedupKey(raw []byte) string {
	h, bodyStart := parseHeader(raw)
	return dedupKey(h, raw[bodyStart:])
}

// dedupKey is DedupKey on an already parsed header.
func dedupKey(h header, body []byte) string {
	if id := messageID(h); id != "" {
		return id
	}
	s := sha256.New()
	s.Write([]byte(h.value("From")))
	s.Write([]byte("\n"))
	s.Write([]byte(h.value("Date")))
	s.Write([]byte("\n"))
	s.Write([]byte(h.value("Subject")))
	s.Write([]byte("\n\n"))
	s.Write(body)
	return hex.EncodeToString(s.Sum(nil))
}

// ThreadID groups a message with its thread (SPEC §4): the first 16 hex
// digits of the sha256 of the thread root id, which is the first id of
// References, else the first id of In-Reply-To, else the message's own
// Message-ID, all without `<>`; a message with none of them is its own root
// and hashes its dedup key. A reply whose References reach back to the
// first message therefore lands in the same thread as it.
func ThreadID(m *Message) string {
	root := m.MessageID
	switch {
	case len(m.References) > 0:
		root = m.References[0]
	case m.InReplyTo != "":
		root = m.InReplyTo
	case root == "":
		root = m.DedupKey
	}
	sum := sha256.Sum256([]byte(root))
	return hex.EncodeToString(sum[:8])
}
