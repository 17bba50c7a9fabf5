package pgmessages

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aimx-dev/aimx/storage"
)

// This file keeps the file store's rules that live in unexported code of
// package storage, so both stores give the same answers (the conformance
// suite, storage/storetest, checks it): the stem's receipt time, the
// order within a second, labels, trash stamps, attachment names.

// stemTimeLayout is the time part of a stem (book/storage.md).
const stemTimeLayout = "2006-01-02-150405"

// stemSecond returns the receipt second a stem starts with.
func stemSecond(id string) (int64, bool) {
	if len(id) < len(stemTimeLayout) {
		return 0, false
	}
	t, err := time.Parse(stemTimeLayout, id[:len(stemTimeLayout)])
	if err != nil {
		return 0, false
	}
	return t.Unix(), true
}

// sortKey is the first part of the listing order: the stem's time prefix,
// or the whole id when it carries no time (book/storage.md, "Listing and
// counting").
func sortKey(id string) string {
	if _, ok := stemSecond(id); ok {
		return id[:len(stemTimeLayout)]
	}
	return id
}

// receiptOrder is a message's place within its stem's second: the
// microseconds from the start of that second to t, capped to 32 bits; 0
// when unknown (the file store's index does the same).
func receiptOrder(id string, t time.Time) int64 {
	sec, ok := stemSecond(id)
	if !ok || t.IsZero() {
		return 0
	}
	d := t.Sub(time.Unix(sec, 0)) / time.Microsecond
	if d <= 0 {
		return 0
	}
	return int64(min(d, 1<<32-1))
}

// columns are the copies of frontmatter fields that listing filters and
// sorts on.
type columns struct {
	messageID, threadID []byte
	fromLC, subjectLC   []byte
	trusted             string
	read                bool
	labels              []string
	deliveryStatus      string
	deletedAt           *time.Time
}

func columnsOf(fm *storage.Frontmatter, folder storage.Folder) columns {
	c := columns{
		messageID: []byte(fm.MessageID), threadID: []byte(fm.ThreadID),
		fromLC: []byte(strings.ToLower(fm.From)), subjectLC: []byte(strings.ToLower(fm.Subject)),
		trusted: text(fm.Trusted), read: fm.Read, deliveryStatus: text(fm.DeliveryStatus),
		labels: []string{},
	}
	for _, l := range fm.Labels() {
		c.labels = append(c.labels, text(strings.ToLower(l)))
	}
	if folder == storage.Trash {
		if at, _ := storage.TrashInfo(fm); !at.IsZero() {
			c.deletedAt = &at
		}
	}
	return c
}

// The trash's frontmatter keys (book/storage.md, "Trash, archive and labels").
const (
	deletedAtKey   = "deleted_at"
	deletedFromKey = "deleted_from"
	labelsKey      = "labels"
)

// stampTrash records when and from where a message was moved to the trash.
func stampTrash(fm *storage.Frontmatter, at time.Time, from storage.Folder) {
	unstampTrash(fm)
	fm.Extra = append(fm.Extra, storage.Field{Key: deletedAtKey, Value: at.UTC().Format(time.RFC3339Nano)})
	if from != "" {
		fm.Extra = append(fm.Extra, storage.Field{Key: deletedFromKey, Value: string(from)})
	}
}

// unstampTrash removes the trash's keys.
func unstampTrash(fm *storage.Frontmatter) {
	kept := fm.Extra[:0]
	for _, f := range fm.Extra {
		if f.Key != deletedAtKey && f.Key != deletedFromKey {
			kept = append(kept, f)
		}
	}
	fm.Extra = kept
	if len(fm.Extra) == 0 {
		fm.Extra = nil
	}
}

// checkMove applies the folder rules of book/storage.md to a move.
func checkMove(fm *storage.Frontmatter, from, to storage.Folder) error {
	switch {
	case from == to:
		return fmt.Errorf("%w: the message is already in %s", storage.ErrMoveRefused, to)
	case to == storage.Trash:
		return nil
	case !slices.Contains(storage.HomeFolders(fm), to):
		kind := "received mail"
		if fm.Outbound {
			kind = "a sent copy"
		}
		return fmt.Errorf("%w: %s cannot be in %s", storage.ErrMoveRefused, kind, to)
	}
	return nil
}

// setLabels replaces the labels array where it is, adds it last when
// absent, and removes it when labels is empty.
func setLabels(fm *storage.Frontmatter, labels []string) {
	v := make([]any, len(labels))
	for i, l := range labels {
		v[i] = l
	}
	for i, f := range fm.Extra {
		if f.Key == labelsKey {
			if len(labels) == 0 {
				fm.Extra = slices.Delete(fm.Extra, i, i+1)
			} else {
				fm.Extra[i].Value = v
			}
			return
		}
	}
	if len(labels) > 0 {
		fm.Extra = append(fm.Extra, storage.Field{Key: labelsKey, Value: v})
	}
}

// bareContentType drops parameters: `text/plain; charset=utf-8` -> `text/plain`.
func bareContentType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.ToLower(strings.TrimSpace(ct))
	if ct == "" {
		return "application/octet-stream"
	}
	return ct
}

// findAttachment returns the attachment named filename: an exact match,
// else the only one whose name matches it case-insensitively.
func findAttachment(list []storage.AttachmentInfo, filename string) (storage.AttachmentInfo, bool) {
	for _, a := range list {
		if a.Filename == filename {
			return a, true
		}
	}
	var found []storage.AttachmentInfo
	for _, a := range list {
		if strings.EqualFold(a.Filename, strings.TrimSpace(filename)) {
			found = append(found, a)
		}
	}
	if len(found) == 1 {
		return found[0], true
	}
	return storage.AttachmentInfo{}, false
}
