package storage

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrBadCursor reports a ListQuery.Cursor that no listing returned (or one
// of the other order: newest first against oldest first).
var ErrBadCursor = errors.New("not a listing cursor")

// A cursor (book/storage.md, "Listing and counting") names the last row a
// page returned: its place in the listing order (its id and its receipt
// nanoseconds within the second), not a count of rows. The next page is
// the messages after that place, so mail that arrives between two pages
// (newer than the first row) moves nothing, and a row removed meanwhile
// leaves the place valid. It is opaque to callers: version 1, the listing
// order (newest or oldest first), the receipt order within the second, the
// id, base64url-encoded.
const cursorVersion = 1

// EncodeCursor returns the cursor after the row (order, id); every store
// writes this format, so a cursor of one continues a listing of another.
func EncodeCursor(oldest bool, order uint32, id string) string {
	b := make([]byte, 0, 6+len(id))
	var dir byte
	if oldest {
		dir = 1
	}
	b = append(b, cursorVersion, dir)
	b = binary.BigEndian.AppendUint32(b, order)
	b = append(b, id...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads a cursor for a listing in the given order: the
// receipt order within the second and the id of the row it is after.
func DecodeCursor(c string, oldest bool) (order uint32, id string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 7 || b[0] != cursorVersion || b[1] > 1 {
		return 0, "", ErrBadCursor
	}
	if (b[1] == 1) != oldest {
		return 0, "", fmt.Errorf("%w: it belongs to a listing in the other order", ErrBadCursor)
	}
	id = string(b[6:])
	if ValidateID(id) != nil {
		return 0, "", ErrBadCursor
	}
	return binary.BigEndian.Uint32(b[2:6]), id, nil
}

// decodeCursor is DecodeCursor as the file store's listing key.
func decodeCursor(c string, oldest bool) (*orderKey, error) {
	order, id, err := DecodeCursor(c, oldest)
	if err != nil {
		return nil, err
	}
	return &orderKey{order: order, id: id}, nil
}
