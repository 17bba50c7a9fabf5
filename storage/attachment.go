package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrNoAttachment reports a file name that names no attachment file of the
// message: not in its frontmatter's attachments, or a message stored
// without attachment files (a flat message: Rust sent copies carry theirs
// inside the body).
var ErrNoAttachment = errors.New("no such attachment")

// AttachmentFile is one attachment opened for reading: the file, its entry
// in the frontmatter and the message's frontmatter (its trust verdict
// decides how the content is shown). The caller closes it.
type AttachmentFile struct {
	*MessageFile
	Info    AttachmentInfo
	Message *Frontmatter
}

// OpenAttachment opens one attachment file of a message for reading
// (book/storage.md, "Bundles and attachment names"). The attachment is found by its filename as the
// frontmatter lists it, exactly, else by the one name that matches it in
// another case. The file is reached from the bundle dir held open, without
// following a symlink, as a regular file within the store's file cap; its
// recorded path must be a plain name inside the bundle, so a frontmatter
// edited to point elsewhere opens nothing.
func (s *Store) OpenAttachment(ctx context.Context, ref MailboxRef, folder Folder, id, filename string) (*AttachmentFile, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h, err := s.openMessage(ref, folder, id)
	if err != nil {
		return nil, err
	}
	defer h.close()
	fm, err := s.readHeadFrontmatter(h.dir, id+".md")
	if err != nil {
		return nil, fmt.Errorf("open attachment of %s in %s/%s: %w", id, ref, folder, err)
	}
	a, ok := findAttachment(fm.Attachments, filename)
	if !ok || !h.bundle {
		return nil, fmt.Errorf("%w: %q in %s in %s/%s", ErrNoAttachment, filename, id, ref, folder)
	}
	name := a.Path
	if name == "" {
		name = a.Filename
	}
	if err := ValidateID(name); err != nil || name == id+".md" || name == id+".eml" {
		s.log.Warn().Str("mailbox", ref.String()).Str("id", id).Str("path", name).Msg("attachment path refused: not a plain name in the bundle")
		return nil, fmt.Errorf("%w: %q in %s in %s/%s", ErrNoAttachment, filename, id, ref, folder)
	}
	f, err := h.open(name, s.maxFile)
	if errors.Is(err, ErrNotFound) {
		// Listed but not there (or a symlink, never followed).
		err = fmt.Errorf("%w: %w", ErrNoAttachment, err)
	}
	if err != nil {
		s.refused(h.dir.Join(name), err)
		return nil, fmt.Errorf("open attachment %q of %s in %s/%s: %w", filename, id, ref, folder, err)
	}
	return &AttachmentFile{MessageFile: f, Info: a, Message: fm}, nil
}

// findAttachment returns the attachment named filename: an exact match,
// else the only one whose name matches it case-insensitively.
func findAttachment(list []AttachmentInfo, filename string) (AttachmentInfo, bool) {
	for _, a := range list {
		if a.Filename == filename {
			return a, true
		}
	}
	var found []AttachmentInfo
	for _, a := range list {
		if strings.EqualFold(a.Filename, strings.TrimSpace(filename)) {
			found = append(found, a)
		}
	}
	if len(found) == 1 {
		return found[0], true
	}
	return AttachmentInfo{}, false
}
