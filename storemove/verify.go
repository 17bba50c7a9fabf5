package storemove

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/aimx-dev/aimx/storage"
)

// maxNamed caps the ids a FolderCheck names as differing.
const maxNamed = 5

// FolderCheck is the verification of one folder of one mailbox.
type FolderCheck struct {
	Mailbox storage.MailboxRef
	Folder  storage.Folder
	// Source and Target are the message counts on each side.
	Source, Target int
	// SourceDigest and TargetDigest are the folder digests (hex sha256;
	// see Digest).
	SourceDigest, TargetDigest string
	// Differ names up to five ids that are on one side only, differ, or
	// could not be read.
	Differ []string
}

// OK reports whether both sides hold the same mail.
func (f FolderCheck) OK() bool {
	return f.Source == f.Target && f.SourceDigest == f.TargetDigest && len(f.Differ) == 0
}

func (f FolderCheck) String() string {
	s := fmt.Sprintf("%s %s: %d messages in the source, %d in the target", f.Mailbox, f.Folder, f.Source, f.Target)
	if f.Source == f.Target && f.SourceDigest != f.TargetDigest {
		s += ", digests differ"
	}
	if len(f.Differ) > 0 {
		s += " (" + strings.Join(f.Differ, ", ") + ")"
	}
	return s
}

// MismatchError is Verify's error: the folders whose two sides differ.
type MismatchError struct {
	Folders []FolderCheck
}

func (e *MismatchError) Error() string {
	parts := make([]string, len(e.Folders))
	for i, f := range e.Folders {
		parts[i] = f.String()
	}
	return "verification failed: " + strings.Join(parts, "; ")
}

// Verify compares the mail of opts.Mailboxes in src and dst, per mailbox
// and folder: the message counts, and the digests (Digest) of both sides.
// It returns a check per mailbox and folder and, when any differ, a
// *MismatchError naming them. A message that cannot be read on either
// side counts as a difference.
func Verify(ctx context.Context, src, dst storage.MessageStore, opts Options) ([]FolderCheck, error) {
	prog := &progress{w: opts.Progress}
	per := make([][]FolderCheck, len(opts.Mailboxes))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.workers())
	for i, mb := range opts.Mailboxes {
		g.Go(func() error {
			line := make([]string, 0, len(storage.Folders))
			for _, folder := range storage.Folders {
				ch, err := verifyFolder(gctx, src, dst, mb.Ref, folder, opts.pageSize())
				if err != nil {
					return err
				}
				per[i] = append(per[i], ch)
				state := "ok"
				if !ch.OK() {
					state = "DIFFERS"
				}
				line = append(line, fmt.Sprintf("%s %d %s", folder, ch.Source, state))
			}
			prog.linef("verified %s: %s", mb.Ref, strings.Join(line, ", "))
			return nil
		})
	}
	err := g.Wait()
	var checks, bad []FolderCheck
	for _, p := range per {
		for _, ch := range p {
			checks = append(checks, ch)
			if !ch.OK() {
				bad = append(bad, ch)
			}
		}
	}
	if err != nil {
		return checks, err
	}
	if len(bad) > 0 {
		return checks, &MismatchError{Folders: bad}
	}
	return checks, nil
}

// verifyFolder compares one folder of a mailbox on both sides.
func verifyFolder(ctx context.Context, src, dst storage.MessageStore, ref storage.MailboxRef, folder storage.Folder, page int) (FolderCheck, error) {
	ch := FolderCheck{Mailbox: ref, Folder: folder}
	a, err := folderSums(ctx, src, ref, folder, page)
	if err != nil {
		return ch, fmt.Errorf("verify %s/%s in the source: %w", ref, folder, err)
	}
	b, err := folderSums(ctx, dst, ref, folder, page)
	if err != nil {
		return ch, fmt.Errorf("verify %s/%s in the target: %w", ref, folder, err)
	}
	ch.Source, ch.Target = len(a), len(b)
	ch.SourceDigest, ch.TargetDigest = digestOf(a), digestOf(b)
	ids := make([]string, 0, len(a)+len(b))
	for id := range a {
		ids = append(ids, id)
	}
	for id := range b {
		if _, ok := a[id]; !ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		sa, inA := a[id]
		sb, inB := b[id]
		if !inA || !inB || sa.unreadable || sb.unreadable || sa.sum != sb.sum {
			ch.Differ = append(ch.Differ, id)
			if len(ch.Differ) == maxNamed {
				break
			}
		}
	}
	return ch, nil
}

// msgSum is one message's digest, or the mark of one that could not be
// read.
type msgSum struct {
	sum        [sha256.Size]byte
	unreadable bool
}

// Digest returns how many messages a folder of a mailbox holds and its
// digest: sha256 over the sorted ids, each followed by the sha256 of the
// message's raw .eml bytes and body (each length-prefixed; a message
// without an .eml is marked as such, and the body counts as the .md
// writes it, ending in a newline). Equal digests on two stores mean the
// same ids with the same bytes. A message that cannot be read is an
// error.
func Digest(ctx context.Context, s storage.MessageStore, ref storage.MailboxRef, folder storage.Folder) (int, string, error) {
	sums, err := folderSums(ctx, s, ref, folder, DefaultPageSize)
	if err != nil {
		return 0, "", err
	}
	for id, m := range sums {
		if m.unreadable {
			return 0, "", fmt.Errorf("digest %s/%s: message %s cannot be read", ref, folder, id)
		}
	}
	return len(sums), digestOf(sums), nil
}

// digestOf is the folder digest of the message digests.
func digestOf(sums map[string]msgSum) string {
	ids := make([]string, 0, len(sums))
	for id := range sums {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	h := sha256.New()
	for _, id := range ids {
		writeLen(h, int64(len(id)))
		io.WriteString(h, id)
		m := sums[id]
		if m.unreadable {
			io.WriteString(h, "unreadable")
			continue
		}
		h.Write(m.sum[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// folderSums lists a folder and digests each of its messages.
func folderSums(ctx context.Context, s storage.MessageStore, ref storage.MailboxRef, folder storage.Folder, page int) (map[string]msgSum, error) {
	out := map[string]msgSum{}
	cursor := ""
	for {
		res, err := s.List(ctx, storage.ListQuery{Mailbox: ref, Folder: folder, Oldest: true, Limit: page, Cursor: cursor})
		if err != nil {
			return nil, fmt.Errorf("list: %w", err)
		}
		for _, m := range res.Messages {
			sum, err := messageSum(ctx, s, ref, folder, m.ID)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				out[m.ID] = msgSum{unreadable: true}
				continue
			}
			out[m.ID] = msgSum{sum: sum}
		}
		if res.NextCursor == "" || len(res.Messages) == 0 {
			return out, nil
		}
		cursor = res.NextCursor
	}
}

// noRaw is the length written for a message without an .eml.
const noRaw = -1

// messageSum is the sha256 of a message's raw bytes and body.
func messageSum(ctx context.Context, s storage.MessageStore, ref storage.MailboxRef, folder storage.Folder, id string) ([sha256.Size]byte, error) {
	var out [sha256.Size]byte
	m, err := s.Read(ctx, ref, folder, id)
	if err != nil {
		return out, err
	}
	h := sha256.New()
	raw, err := s.OpenRaw(ctx, ref, folder, id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		writeLen(h, noRaw)
	case err != nil:
		return out, err
	default:
		writeLen(h, raw.Size())
		_, err := io.Copy(h, raw.Reader())
		raw.Close()
		if err != nil {
			return out, fmt.Errorf("read the .eml of %s: %w", id, err)
		}
	}
	// The .md ends its body with a newline (storage.EncodeMD): a body
	// read without one is stored with one.
	body := m.Body
	if !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	writeLen(h, int64(len(body)))
	io.WriteString(h, body)
	copy(out[:], h.Sum(nil))
	return out, nil
}

// writeLen writes a length prefix.
func writeLen(h hash.Hash, n int64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	h.Write(b[:])
}
