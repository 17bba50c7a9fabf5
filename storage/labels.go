package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// Labels (book/storage.md, "Trash, archive and labels"): a message's
// `labels` array of strings in its frontmatter, the key the Rust aimx
// declares (`labels = ["finance", "receipts"]`). The codec keeps it among
// the keys it does not model (Frontmatter.Extra), so Rust mail reads and
// re-encodes exactly as before and email_read shows it under extra;
// Labels and setLabels are its typed view. Labels are the agent's own
// names for mail ("waiting-on-customer", "invoices"); they change nothing
// else.

// labelsKey is the frontmatter key of the labels.
const labelsKey = "labels"

// Labels returns the message's labels, in stored order: the `labels`
// array (a single string counts as one label; other values are skipped).
func (fm *Frontmatter) Labels() []string {
	for _, f := range fm.Extra {
		if f.Key != labelsKey {
			continue
		}
		switch v := f.Value.(type) {
		case string:
			if v != "" {
				return []string{v}
			}
		case []any:
			var out []string
			for _, e := range v {
				if s, ok := e.(string); ok && s != "" {
					out = append(out, s)
				}
			}
			return out
		}
		return nil
	}
	return nil
}

// setLabels replaces the `labels` array where it is, adds it last when
// absent, and removes it when labels is empty.
func (fm *Frontmatter) setLabels(labels []string) {
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
		fm.Extra = append(fm.Extra, Field{Key: labelsKey, Value: v})
	}
}

// ErrInvalidLabel reports a label that is empty, too long or carries
// control, bidi or zero-width characters, or too many labels on a message.
var ErrInvalidLabel = errors.New("invalid label")

// Limits of labels: characters in one label, labels on one message.
const (
	MaxLabelChars = 64
	MaxLabels     = 32
)

// NormalizeLabel returns the stored form of a label: trimmed and
// lowercased, so "Invoices" and "invoices " are one label. A label is 1 to
// MaxLabelChars characters with no control, bidi or zero-width character
// (the runes an attachment name may not carry either).
func NormalizeLabel(label string) (string, error) {
	if !utf8.ValidString(label) {
		return "", fmt.Errorf("%w %q: not UTF-8", ErrInvalidLabel, label)
	}
	l := strings.ToLower(strings.TrimSpace(label))
	switch {
	case l == "":
		return "", fmt.Errorf("%w: empty", ErrInvalidLabel)
	case utf8.RuneCountInString(l) > MaxLabelChars:
		return "", fmt.Errorf("%w: longer than %d characters", ErrInvalidLabel, MaxLabelChars)
	case strings.IndexFunc(l, isInvisibleOrControl) >= 0:
		return "", fmt.Errorf("%w %q: control, bidi or zero-width character", ErrInvalidLabel, label)
	}
	return l, nil
}

// SetLabels adds and then removes labels of one message (each normalized
// with NormalizeLabel; a label already there is not added twice, one not
// there is not removed) and returns the frontmatter as it is now. The
// frontmatter is re-encoded with every other field and unknown key kept,
// the body is left byte for byte, and the .md is replaced atomically inside
// the message's dir held open, keeping its mode and owner, like SetRead. A
// change that changes nothing writes nothing. Labels stored by hand in
// another case match their lowercase form. The labels key keeps its place
// in the file; a new one goes after the other keys.
func (s *Store) SetLabels(ctx context.Context, ref MailboxRef, folder Folder, id string, add, remove []string) (*Frontmatter, error) {
	if s.readOnly {
		return nil, ErrReadOnly
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	addN, err := NormalizeLabels(add)
	if err != nil {
		return nil, err
	}
	removeN, err := NormalizeLabels(remove)
	if err != nil {
		return nil, err
	}
	unlock := s.lockMessage(ref, folder, id)
	defer unlock()
	h, err := s.openMessage(ref, folder, id)
	if err != nil {
		return nil, err
	}
	defer h.close()
	fm, err := s.rewriteFrontmatter(ref, h, func(fm *Frontmatter) (bool, error) {
		cur := fm.Labels()
		next := ApplyLabels(cur, addN, removeN)
		if slices.Equal(next, cur) {
			return false, nil
		}
		if len(next) > MaxLabels {
			return false, fmt.Errorf("%w: a message carries at most %d labels", ErrInvalidLabel, MaxLabels)
		}
		fm.setLabels(next)
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("set labels of %s in %s/%s: %w", id, ref, folder, err)
	}
	s.labelsSet(ref, folder, id, fm.Labels())
	return fm, nil
}

// NormalizeLabels normalizes each label (NormalizeLabel) and drops
// repeats, keeping the first place of each.
func NormalizeLabels(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, l := range in {
		n, err := NormalizeLabel(l)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// ApplyLabels returns cur with add appended (unless there in any case)
// and remove taken out (in any case), keeping cur's order; add and remove
// are normalized (NormalizeLabels).
func ApplyLabels(cur, add, remove []string) []string {
	var next []string
	for _, l := range cur {
		if !slices.Contains(remove, strings.ToLower(l)) {
			next = append(next, l)
		}
	}
	for _, l := range add {
		if !slices.Contains(remove, l) && !slices.ContainsFunc(next, func(c string) bool { return strings.ToLower(c) == l }) {
			next = append(next, l)
		}
	}
	return next
}

// HasLabel reports whether fm carries label (compared in lowercase).
func HasLabel(fm *Frontmatter, label string) bool {
	l := strings.ToLower(strings.TrimSpace(label))
	return slices.ContainsFunc(fm.Labels(), func(c string) bool { return strings.ToLower(c) == l })
}

// lockMessage takes the per-message lock SetRead and SetDelivery take
// (striped by folder dir and id), so a rewrite or move of a message never
// interleaves with another change of it.
func (s *Store) lockMessage(ref MailboxRef, folder Folder, id string) func() {
	l := &s.readLocks[readLockSlot(s.folderDir(ref, folder), id)]
	l.Lock()
	return l.Unlock
}

// rewriteFrontmatter reads the located message's .md, lets change edit its
// decoded frontmatter, and when change reports a change replaces the .md
// atomically through the Writer inside the dir held open, with the new
// frontmatter encoded in the book/storage.md format (unknown keys kept)
// and the body byte for byte, keeping the file's mode and owner. It
// returns the frontmatter as it is now.
func (s *Store) rewriteFrontmatter(ref MailboxRef, h *msgHandle, change func(fm *Frontmatter) (bool, error)) (*Frontmatter, error) {
	data, f, err := s.readMD(h)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	err = unix.Fstat(int(f.file.Fd()), &st)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", h.mdPath(), err)
	}
	loc, err := locateMD(data)
	if err != nil {
		return nil, err
	}
	fm, err := decodeFields(data[loc.fmStart:loc.fmEnd], loc.m)
	if err != nil {
		return nil, err
	}
	changed, err := change(fm)
	if err != nil || !changed {
		return fm, err
	}
	newFM := EncodeFrontmatter(fm)
	out := make([]byte, 0, len(data)+len(newFM))
	out = append(out, data[:loc.fmStart]...)
	out = append(out, newFM...)
	out = append(out, data[loc.fmEnd:]...)
	opts := WriteOptions{Mode: os.FileMode(st.Mode & 0o777)}
	if s.chown {
		opts.Owner = &Owner{UID: int(st.Uid), GID: int(st.Gid)}
	}
	if err := s.w.WriteFileAt(h.dir, h.msg.ID+".md", out, opts); err != nil {
		return nil, err
	}
	s.indexUpsert(ref, h.msg.Folder, newIndexEntry(h.msg.ID, h.bundle, fm))
	return fm, nil
}

// manageState is the store's memory for trash, archive and labels: which
// messages of a folder carry labels (for the label filter of listing) and
// when the next message of a trash expires.
type manageState struct {
	mu        sync.Mutex
	labels    map[string]*labelFolder // by folder dir
	trashNext map[string]*trashMemo   // by trash folder dir (trash.go)
}

// labelFolder is the labelled messages of one folder: id -> labels (only
// messages with at least one). It is built from the files the first time
// the folder is filtered by label, and kept current by every write
// through the store; a label added by hand to a .md while the daemon runs
// is seen after the next start (book/storage.md).
type labelFolder struct {
	mu   sync.Mutex // held while building, so updates apply after the build
	ok   bool       // built
	byID map[string][]string
}

// labelFolderOf returns the folder's entry, nil when it was never built.
func (s *Store) labelFolderOf(ref MailboxRef, folder Folder) *labelFolder {
	s.manage.mu.Lock()
	defer s.manage.mu.Unlock()
	return s.manage.labels[s.folderDir(ref, folder)]
}

// labelsSet records a message's labels in a built folder entry.
func (s *Store) labelsSet(ref MailboxRef, folder Folder, id string, labels []string) {
	lf := s.labelFolderOf(ref, folder)
	if lf == nil {
		return
	}
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if !lf.ok {
		return
	}
	if len(labels) == 0 {
		delete(lf.byID, id)
		return
	}
	lf.byID[id] = lowerAll(labels)
}

func lowerAll(in []string) []string {
	out := make([]string, len(in))
	for i, l := range in {
		out[i] = strings.ToLower(l)
	}
	return out
}

// labelsDropUnder forgets the label entries of every folder dir under
// prefix (a removed mailbox or domain).
func (s *Store) labelsDropUnder(prefix string) {
	s.manage.mu.Lock()
	defer s.manage.mu.Unlock()
	for dir := range s.manage.labels {
		if dir == prefix || strings.HasPrefix(dir, prefix+"/") {
			delete(s.manage.labels, dir)
		}
	}
	for key := range s.manage.trashNext {
		if key == prefix || strings.HasPrefix(key, prefix+"/") {
			delete(s.manage.trashNext, key)
		}
	}
}

// labeledIDs returns the ids of the folder's messages that carry label
// (normalized with NormalizeLabel), building the folder's label entry
// from the files on first use. It is the label filter of listing: the
// list applies it to the ids that match its other filters, before paging.
func (s *Store) labeledIDs(ctx context.Context, ref MailboxRef, folder Folder, label string) (map[string]bool, error) {
	l, err := NormalizeLabel(label)
	if err != nil {
		return nil, err
	}
	if err := checkRef(ref, folder); err != nil {
		return nil, err
	}
	dir := s.folderDir(ref, folder)
	s.manage.mu.Lock()
	if s.manage.labels == nil {
		s.manage.labels = map[string]*labelFolder{}
	}
	lf := s.manage.labels[dir]
	if lf == nil {
		lf = &labelFolder{}
		s.manage.labels[dir] = lf
	}
	s.manage.mu.Unlock()
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if !lf.ok {
		byID, err := s.scanLabels(ctx, ref, folder)
		if err != nil {
			return nil, fmt.Errorf("labels of %s/%s: %w", ref, folder, err)
		}
		lf.byID, lf.ok = byID, true
	}
	out := map[string]bool{}
	for id, labels := range lf.byID {
		if slices.Contains(labels, l) {
			out[id] = true
		}
	}
	return out, nil
}

// scanLabels reads the frontmatter of every message of a folder and
// returns the labels of those that have any. A missing folder has none.
func (s *Store) scanLabels(ctx context.Context, ref MailboxRef, folder Folder) (map[string][]string, error) {
	out := map[string][]string{}
	fdir, err := s.openFolder(ref, folder)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	defer fdir.Close()
	entries, err := listEntries(fdir)
	if err != nil {
		return nil, err
	}
	labels := make([][]string, len(entries))
	err = parallel(ctx, len(entries), func(i int) error {
		fm, err := s.readHeadFrontmatter(fdir, entries[i].mdName())
		if err != nil {
			return nil // unreadable: listed as broken, carries no label
		}
		labels[i] = fm.Labels()
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, l := range labels {
		if len(l) > 0 {
			out[entries[i].stem] = lowerAll(l)
		}
	}
	return out, nil
}
