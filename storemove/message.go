package storemove

import (
	"errors"
	"fmt"
	"slices"

	"github.com/aimx-dev/aimx/storage"
)

// copyMessage copies one message of folder to the target, unless the
// target holds it already, and finishes one an interrupted run left in
// an earlier folder of its path.
func (c *copier) copyMessage(folder storage.Folder, id string) error {
	ref := c.mb.Ref
	m, err := c.src.Read(c.ctx, ref, folder, id)
	if err != nil {
		return &sourceError{err}
	}
	path := stagePath(folder, m.Frontmatter)
	if _, err := c.dst.Read(c.ctx, ref, folder, id); err == nil {
		c.skipped++
		return nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("read the target: %w", err)
	}
	// Stored by an interrupted run but not moved on yet?
	for i := len(path) - 2; i >= 0; i-- {
		if _, err := c.dst.Read(c.ctx, ref, path[i], id); errors.Is(err, storage.ErrNotFound) {
			continue
		} else if err != nil {
			return fmt.Errorf("read the target: %w", err)
		}
		same, err := c.sameContent(folder, path[i], id)
		if err != nil {
			return err
		}
		if !same {
			return fmt.Errorf("%w (in its %s)", errConflict, path[i])
		}
		if err := c.moveOn(path, i, id); err != nil {
			return err
		}
		c.copied++
		return nil
	}
	if err := c.put(folder, path[0], m); err != nil {
		return err
	}
	if err := c.moveOn(path, 0, id); err != nil {
		return err
	}
	c.copied++
	return nil
}

// stagePath is the folders a message of folder goes through on the
// target: Put stores into inbox or sent only, and the rest is reached by
// moving, the way the mail got there. A trash message goes through the
// folder it was deleted from, so the target's trash records the same
// origin (storage.RestoreFolder).
func stagePath(folder storage.Folder, fm *storage.Frontmatter) []storage.Folder {
	switch folder {
	case storage.Archive:
		return []storage.Folder{storage.Inbox, storage.Archive}
	case storage.Trash:
		if from := storage.RestoreFolder(fm); from == storage.Archive {
			return []storage.Folder{storage.Inbox, storage.Archive, storage.Trash}
		} else {
			return []storage.Folder{from, storage.Trash}
		}
	}
	return []storage.Folder{folder}
}

// moveOn moves a message from path[i] along the rest of its path.
func (c *copier) moveOn(path []storage.Folder, i int, id string) error {
	for j := i + 1; j < len(path); j++ {
		if _, err := c.dst.Move(c.ctx, c.mb.Ref, path[j-1], path[j], id); err != nil {
			return fmt.Errorf("move it from %s to %s: %w", path[j-1], path[j], err)
		}
	}
	return nil
}

// sameContent reports whether the target's message id in its folder to
// has the raw bytes and body of the source's in folder from.
func (c *copier) sameContent(from, to storage.Folder, id string) (bool, error) {
	a, err := messageSum(c.ctx, c.src, c.mb.Ref, from, id)
	if err != nil {
		return false, &sourceError{err}
	}
	b, err := messageSum(c.ctx, c.dst, c.mb.Ref, to, id)
	if err != nil {
		return false, fmt.Errorf("read the target: %w", err)
	}
	return a == b, nil
}

// put stores the source's message m of folder into the target's folder
// into, under its id, with its frontmatter, raw bytes, body and
// attachments, and sets what the target's Put did not take from the
// frontmatter (read state, labels, delivery state).
func (c *copier) put(folder, into storage.Folder, m *storage.Message) error {
	ref := c.mb.Ref
	fm := *m.Frontmatter
	req := storage.PutRequest{
		Mailbox: ref, Folder: into, Owner: c.mb.Owner, At: receivedAt(&fm, m.ID),
		Body: m.Body, ID: m.ID,
	}
	raw, err := c.src.OpenRaw(c.ctx, ref, folder, m.ID)
	switch {
	case errors.Is(err, storage.ErrNotFound): // Rust mail: no .eml
	case err != nil:
		return &sourceError{err}
	default:
		defer raw.Close()
		req.RawFrom = raw
	}
	atts, closeAll, err := c.attachments(folder, m.ID, &fm)
	if err != nil {
		return err
	}
	defer closeAll()
	if atts != nil {
		// The target lists the files it stores itself.
		fm.Attachments = nil
		req.Attachments = atts
	}
	req.Frontmatter = fm
	st, err := c.dst.Put(c.ctx, req)
	if err != nil {
		return fmt.Errorf("store it: %w", err)
	}
	return c.fixUp(into, m.ID, m.Frontmatter, &st.Frontmatter)
}

// attachments opens the source's attachment files of a message. A
// message whose listed attachments have no files at all (a flat message:
// Rust sent copies carry theirs inside the body) gives nil, and its
// frontmatter's list is kept as it is; one with some files missing is a
// source error. The caller calls closeAll.
func (c *copier) attachments(folder storage.Folder, id string, fm *storage.Frontmatter) (out []storage.Attachment, closeAll func(), err error) {
	var files []*storage.AttachmentFile
	closeAll = func() {
		for _, f := range files {
			f.Close()
		}
	}
	missing := 0
	for _, a := range fm.Attachments {
		f, err := c.src.OpenAttachment(c.ctx, c.mb.Ref, folder, id, a.Filename)
		if errors.Is(err, storage.ErrNoAttachment) {
			missing++
			continue
		}
		if err != nil {
			closeAll()
			return nil, func() {}, &sourceError{err}
		}
		files = append(files, f)
		out = append(out, storage.Attachment{Filename: a.Filename, ContentType: a.ContentType, From: f.MessageFile})
	}
	if missing == len(fm.Attachments) {
		return nil, closeAll, nil
	}
	if missing > 0 {
		closeAll()
		return nil, func() {}, &sourceError{fmt.Errorf("%d of its %d attachment files: %w", missing, len(fm.Attachments), storage.ErrNoAttachment)}
	}
	return out, closeAll, nil
}

// fixUp sets the read state, labels and delivery state of a message just
// stored in folder when the target's Put did not take them from the
// frontmatter (got is what it stored).
func (c *copier) fixUp(folder storage.Folder, id string, want, got *storage.Frontmatter) error {
	ref := c.mb.Ref
	if got.Read != want.Read {
		if _, err := c.dst.SetRead(c.ctx, ref, folder, id, want.Read); err != nil {
			return fmt.Errorf("set its read state: %w", err)
		}
	}
	if w, g := want.Labels(), got.Labels(); !slices.Equal(w, g) {
		var remove []string
		for _, l := range g {
			if !slices.Contains(w, l) {
				remove = append(remove, l)
			}
		}
		if _, err := c.dst.SetLabels(c.ctx, ref, folder, id, w, remove); err != nil {
			return fmt.Errorf("set its labels: %w", err)
		}
	}
	if want.Outbound && folder == storage.Sent &&
		(got.DeliveryStatus != want.DeliveryStatus || !sameRecipients(got.Recipients, want.Recipients)) {
		update := func([]storage.Recipient) (string, []storage.Recipient) {
			return want.DeliveryStatus, slices.Clone(want.Recipients)
		}
		if _, err := c.dst.SetDelivery(c.ctx, ref, id, update); err != nil {
			return fmt.Errorf("set its delivery state: %w", err)
		}
	}
	return nil
}

// sameRecipients compares two delivery states field by field (times by
// instant).
func sameRecipients(a, b []storage.Recipient) bool {
	return slices.EqualFunc(a, b, func(x, y storage.Recipient) bool {
		return x.Address == y.Address && x.Status == y.Status && x.Detail == y.Detail &&
			x.Attempts == y.Attempts && x.TLS == y.TLS && x.UpdatedAt.Equal(y.UpdatedAt)
	})
}
