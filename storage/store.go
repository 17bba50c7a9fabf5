package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// MessageStore is what the daemon (SMTP intake, outbound, hooks, MCP) needs
// from message storage. Store implements it on the local file system; a
// later backend for many hosts (a database and an object store) implements
// the same interface without touching its callers.
type MessageStore interface {
	// EnsureMailbox creates the mailbox's inbox and sent storage, owned by
	// owner (nil: the daemon's user). Idempotent.
	EnsureMailbox(ctx context.Context, ref MailboxRef, owner *Owner) error
	// RemoveMailbox deletes the mailbox's inbox and sent storage and
	// reports how many files were removed.
	RemoveMailbox(ctx context.Context, ref MailboxRef) (int, error)
	// Put stores one inbound message or sent copy durably; it returns only
	// when the message would survive a crash.
	Put(ctx context.Context, req PutRequest) (*Stored, error)
	// List pages through a folder, newest first, with optional filters.
	List(ctx context.Context, q ListQuery) (*ListResult, error)
	// Read returns one message by id.
	Read(ctx context.Context, ref MailboxRef, folder Folder, id string) (*Message, error)
	// OpenMD opens a message's .md for reading: a regular file, never a
	// symlink or FIFO, no larger than the store's file cap. The caller
	// closes it. Hooks get their stdin from here (book/security.md).
	OpenMD(ctx context.Context, ref MailboxRef, folder Folder, id string) (*MessageFile, error)
	// OpenRaw opens a message's .eml the same way; ErrNotFound when the
	// message has no .eml (Rust-written mail).
	OpenRaw(ctx context.Context, ref MailboxRef, folder Folder, id string) (*MessageFile, error)
	// SetRead marks a message read or unread, changing only its read state.
	SetRead(ctx context.Context, ref MailboxRef, folder Folder, id string, read bool) (*Frontmatter, error)
	// Counts returns the mailbox's totals.
	Counts(ctx context.Context, ref MailboxRef) (Counts, error)
}

var _ MessageStore = (*Store)(nil)

// Options configures a Store.
type Options struct {
	// Writer performs every durable write; nil means a zero Writer. Tests
	// set Writer.Fault to crash at a chosen step.
	Writer *Writer
	// Now is the clock for receipt times and read_at; nil means time.Now.
	Now func() time.Time
	// DirSyncer batches directory fsyncs across concurrent writers; nil
	// means a private one that fsyncs through Writer.SyncDir.
	DirSyncer *DirSyncer
	// MaxFileBytes caps every message file the store reads (.md and .eml):
	// a larger one is refused with ErrTooLarge, never read whole
	// (book/security.md). Zero means DefaultMaxFileBytes. The daemon sets
	// it to max_message_bytes plus FileHeadroom.
	MaxFileBytes int64
}

// DefaultMaxFileBytes is the file cap when Options.MaxFileBytes is zero:
// the default max_message_bytes (25 MiB) plus FileHeadroom.
const DefaultMaxFileBytes = 25<<20 + FileHeadroom

// FileHeadroom is what a stored file may exceed max_message_bytes by: our
// trace headers in the .eml, the frontmatter in the .md.
const FileHeadroom = 1 << 20

// Store is the file-system message store of SPEC §4 under one data dir.
// It is safe for concurrent use.
type Store struct {
	root     string
	readOnly bool
	w        *Writer
	now      func() time.Time
	syncer   *DirSyncer
	chown    bool // running as root: files and mailbox dirs get their owner
	maxFile  int64

	mu      sync.Mutex
	boxes   map[string]*folderState // by folder dir path
	indexes map[string]*folderIndex // by folder dir path (index.go)

	// readLocks serialize read-state changes per message (striped by id),
	// so the index sees them in the order the files were written.
	readLocks [64]sync.Mutex

	// heads recycles the head buffers of frontmatter reads (index builds
	// touch every message of a folder).
	heads sync.Pool
}

func newStore(root string, opts Options, readOnly bool) *Store {
	s := &Store{
		root:     root,
		readOnly: readOnly,
		w:        opts.Writer,
		now:      opts.Now,
		syncer:   opts.DirSyncer,
		chown:    os.Geteuid() == 0,
		maxFile:  opts.MaxFileBytes,
		boxes:    map[string]*folderState{},
		indexes:  map[string]*folderIndex{},
	}
	if s.w == nil {
		s.w = &Writer{}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxFile <= 0 {
		s.maxFile = DefaultMaxFileBytes
	}
	if s.syncer == nil {
		s.syncer = &DirSyncer{SyncFunc: s.w.SyncDir}
	}
	return s
}

// Open opens the data dir for reading and writing, creating it when missing.
// A new data dir gets the layout marker; a legacy (Rust v1) layout is
// refused with a *LegacyLayoutError and left untouched; a marker with other
// content is refused with ErrBadMarker (SPEC §4, §13).
func Open(dataDir string, opts Options) (*Store, error) {
	s := newStore(dataDir, opts, false)
	created, err := ensureDir(dataDir, 0o755, nil, true)
	if err != nil {
		return nil, fmt.Errorf("open data dir: %w", err)
	}
	state, err := checkLayout(dataDir)
	if err != nil {
		return nil, err
	}
	if state == layoutNew {
		err := s.w.WriteFile(markerPath(dataDir), []byte(layoutMarker), WriteOptions{Mode: 0o644, NoReplace: true})
		if err != nil && !errors.Is(err, ErrExist) {
			return nil, fmt.Errorf("write layout marker: %w", err)
		}
		if errors.Is(err, ErrExist) { // written meanwhile: it must be ours
			if _, err := checkLayout(dataDir); err != nil {
				return nil, err
			}
		}
	}
	if _, err := ensureDir(filepath.Join(dataDir, ".spool"), 0o700, nil, false); err != nil {
		return nil, fmt.Errorf("open data dir: %w", err)
	}
	if created {
		if err := SyncDir(filepath.Dir(filepath.Clean(dataDir))); err != nil {
			return nil, fmt.Errorf("open data dir: %w", err)
		}
	}
	return s, nil
}

// OpenReadOnly opens the data dir for the read-only commands: it never
// creates, migrates or writes anything, and a missing data dir lists as
// empty. A legacy layout or a bad marker is still reported.
func OpenReadOnly(dataDir string) (*Store, error) {
	s := newStore(dataDir, Options{}, true)
	if _, err := os.Stat(dataDir); errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if _, err := checkLayout(dataDir); err != nil {
		return nil, err
	}
	return s, nil
}

// Root returns the data dir the store was opened on.
func (s *Store) Root() string { return s.root }

// folderDir is `<data>/<domain>/<folder>/<local>`.
func (s *Store) folderDir(ref MailboxRef, folder Folder) string {
	return filepath.Join(s.root, ref.Domain, string(folder), ref.Local)
}

func checkRef(ref MailboxRef, folder Folder) error {
	if err := ref.Validate(); err != nil {
		return err
	}
	return folder.Validate()
}

// EnsureMailbox creates `<domain>/` (0755), `inbox/` and `sent/` (0755) and
// the mailbox's two dirs (0700, chowned to owner when running as root),
// fixing the mode of existing ones (SPEC §4).
func (s *Store) EnsureMailbox(ctx context.Context, ref MailboxRef, owner *Owner) error {
	if s.readOnly {
		return ErrReadOnly
	}
	if err := ref.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.ensureMailbox(ref, owner)
}

func (s *Store) ensureMailbox(ref MailboxRef, owner *Owner) error {
	if !s.chown {
		owner = nil
	}
	domainDir := filepath.Join(s.root, ref.Domain)
	if _, err := ensureDir(domainDir, 0o755, nil, true); err != nil {
		return fmt.Errorf("ensure mailbox %s: %w", ref, err)
	}
	for _, f := range []Folder{Inbox, Sent} {
		if _, err := ensureDir(filepath.Join(domainDir, string(f)), 0o755, nil, true); err != nil {
			return fmt.Errorf("ensure mailbox %s: %w", ref, err)
		}
		if _, err := ensureDir(s.folderDir(ref, f), 0o700, owner, true); err != nil {
			return fmt.Errorf("ensure mailbox %s: %w", ref, err)
		}
	}
	return nil
}

// RemoveMailbox deletes the mailbox's inbox and sent dirs with everything
// in them and returns how many files (non-directories) were removed. For
// mailbox_delete; the caller holds the mailbox's config lock.
func (s *Store) RemoveMailbox(ctx context.Context, ref MailboxRef) (int, error) {
	if s.readOnly {
		return 0, ErrReadOnly
	}
	if err := ref.Validate(); err != nil {
		return 0, err
	}
	removed := 0
	for _, f := range []Folder{Inbox, Sent} {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		dir := s.folderDir(ref, f)
		s.mu.Lock()
		delete(s.boxes, dir)
		delete(s.indexes, dir)
		s.mu.Unlock()
		n, err := removeTree(dir)
		removed += n
		if err != nil {
			return removed, fmt.Errorf("remove mailbox %s: %w", ref, err)
		}
		if err := SyncDir(filepath.Dir(dir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("remove mailbox %s: %w", ref, err)
		}
	}
	return removed, nil
}

// removeTree removes dir recursively, counting the non-directories removed.
// A missing dir removes nothing.
func removeTree(dir string) (int, error) {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if !fi.IsDir() {
		return 0, fmt.Errorf("%s is not a directory", dir)
	}
	n := 0
	err = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", dir, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return 0, fmt.Errorf("remove %s: %w", dir, err)
	}
	return n, nil
}
