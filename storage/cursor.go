package storage

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// ErrBadCursor reports a ListQuery.Cursor that no listing returned (or one
// of the other order: newest first against oldest first).
var ErrBadCursor = errors.New("not a listing cursor")

// A cursor (book/storage.md, "Listing and counting") names the last row a
// page returned: its place in the listing order (its id and its receipt
// nanoseconds within the second), not a count of rows. The next page is
// the messages after that place, so mail that arrives between two pages
// (newer than the first row) moves nothing, and a row removed meanwhile
// leaves the place valid. It is opaque to callers: version 1, the order
// (newest or oldest first), the nanoseconds, the id, base64url-encoded.
const cursorVersion = 1

// encodeCursor returns the cursor after the row (nsec, id).
func encodeCursor(oldest bool, nsec uint32, id string) string {
	b := make([]byte, 0, 6+len(id))
	var order byte
	if oldest {
		order = 1
	}
	b = append(b, cursorVersion, order)
	b = binary.BigEndian.AppendUint32(b, nsec)
	b = append(b, id...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor for a listing in the given order.
func decodeCursor(c string, oldest bool) (*orderKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 7 || b[0] != cursorVersion || b[1] > 1 {
		return nil, ErrBadCursor
	}
	if (b[1] == 1) != oldest {
		return nil, fmt.Errorf("%w: it belongs to a listing in the other order", ErrBadCursor)
	}
	ck := &orderKey{nsec: binary.BigEndian.Uint32(b[2:6]), id: string(b[6:])}
	if ck.nsec >= uint32(time.Second) || ValidateID(ck.id) != nil {
		return nil, ErrBadCursor
	}
	return ck, nil
}
