package mcp

import (
	"encoding/base64"
	"encoding/json"
	"time"
)

// waitCursor is email_wait's cursor (book/mcp.md, "Waiting for mail"): the
// place in the new-mail broadcast (internal/mailbus) up to which an answer
// accounted for every stored message. Opaque to agents: version 1, JSON,
// base64url.
type waitCursor struct {
	V int `json:"v"`
	// Epoch names the bus the sequence number belongs to; a cursor of
	// another epoch (a daemon before a restart) falls back to the store.
	Epoch string `json:"e"`
	// Seq: every message published up to this sequence number was
	// returned or did not match.
	Seq uint64 `json:"s"`
	// At is when the answer was made (Unix seconds): the fallback lists
	// the store from cursorSlack before it.
	At int64 `json:"t"`
	// Skip holds "mailbox/id" of rows an answer took from the store whose
	// broadcast it had not seen yet, so the next wait does not return them
	// again when it comes.
	Skip []string `json:"k,omitempty"`
}

const cursorVersion = 1

// cursorSlack is how far before a cursor's time the fallback lists the
// store: longer than storing one message can take between its receipt
// time (which names it) and its broadcast.
const cursorSlack = time.Minute

// maxCursorBytes bounds a since_cursor: a cursor this server wrote holds
// at most maxListLimit skipped ids.
const maxCursorBytes = 64 << 10

// errBadCursor answers a since_cursor this server did not write.
var errBadCursor = errorf("since_cursor is not a cursor email_wait returned; pass back the cursor of the last answer unchanged, or leave since_cursor out (and pass since) to start afresh.")

// encode returns the cursor as agents see it.
func (c waitCursor) encode() string {
	c.V = cursorVersion
	b, err := json.Marshal(c)
	if err != nil {
		panic("email_wait cursor does not encode: " + err.Error()) // plain fields: cannot happen
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a since_cursor.
func decodeCursor(s string) (*waitCursor, error) {
	if len(s) > maxCursorBytes {
		return nil, errBadCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, errBadCursor
	}
	var c waitCursor
	if err := json.Unmarshal(b, &c); err != nil || c.V != cursorVersion || c.Epoch == "" || c.At <= 0 || len(c.Skip) > maxListLimit {
		return nil, errBadCursor
	}
	return &c, nil
}

// skipSet is the cursor's Skip as a set.
func (c *waitCursor) skipSet() map[string]bool {
	if c == nil || len(c.Skip) == 0 {
		return nil
	}
	m := make(map[string]bool, len(c.Skip))
	for _, k := range c.Skip {
		m[k] = true
	}
	return m
}
