package message

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

// DedupKey is the key that recognises a re-delivery of the same message
// (book/smtp.md, book/smtp.md "Deduplication"): the lowercase hex sha256 of
//
//	From "\n" Date "\n" Subject "\n\n" body
//
// preceded, when the message has a Message-ID, by that id without `<>`
// and a space. From, Date and Subject are the raw values of the first field
// of each name (unfolded: CR and LF bytes removed, the folding whitespace
// kept; surrounding spaces and tabs trimmed; not RFC 2047-decoded; "" when
// the field is absent), and body is every byte after the empty line that
// ends the header, exactly as received (CRLF stays CRLF). Unfolding follows
// RFC 5322 2.2.3, so the key is the same whether the stored copy was read
// with LF or CRLF header lines. Trace fields we prepend (Received,
// Authentication-Results) do not change the key, so it can be recomputed
// from a stored .eml.
//
// The digest is part of the key even when there is a Message-ID: a message
// that reuses another's id (a forgery sent first) is not a re-delivery of
// it, and must not make the genuine one a duplicate.
func DedupKey(raw []byte) string {
	head := HeadOf(raw)
	k, _ := dedupKey(head.h, bytes.NewReader(raw[head.Len():])) // a bytes.Reader never fails
	return k
}

// DedupKeyFrom is DedupKey of a message read from src (a stored .eml),
// reading its header (at most MaxHeaderBytes) and streaming its body.
func DedupKeyFrom(src Source) (string, error) {
	head, err := ReadHead(src, MaxHeaderBytes)
	if err != nil {
		return "", err
	}
	return dedupKey(head.h, io.NewSectionReader(src, head.Len(), src.Size()-head.Len()))
}

// DedupMessageID is the Message-ID part of a dedup key ("" when the key
// has none), for finding stored copies that may match it.
func DedupMessageID(key string) string {
	if i := strings.LastIndexByte(key, ' '); i >= 0 {
		return key[:i]
	}
	return ""
}

// dedupKey is DedupKey on an already parsed header.
func dedupKey(h header, body io.Reader) (string, error) {
	s := sha256.New()
	s.Write([]byte(h.value("From")))
	s.Write([]byte("\n"))
	s.Write([]byte(h.value("Date")))
	s.Write([]byte("\n"))
	s.Write([]byte(h.value("Subject")))
	s.Write([]byte("\n\n"))
	if _, err := io.Copy(s, body); err != nil {
		return "", fmt.Errorf("dedup key: read body: %w", err)
	}
	digest := hex.EncodeToString(s.Sum(nil))
	if id := messageID(h); id != "" {
		return id + " " + digest, nil
	}
	return digest, nil
}

// ThreadID groups a message with its thread (book/storage.md): the first 16 hex
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
