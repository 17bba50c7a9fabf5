package storage

import (
	"github.com/rs/zerolog"

	"context"
	"errors"
	"fmt"
	"github.com/aimx-dev/aimx/internal/panics"
	"github.com/aimx-dev/aimx/internal/safefs"
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
	// RemoveDomain deletes what is left of a domain's storage once its
	// mailboxes are removed, and reports how many files went with it.
	RemoveDomain(ctx context.Context, domain string) (int, error)
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
	// SetDelivery replaces a sent copy's delivery_status and recipients
	// with what update computes from the recorded ones, changing nothing
	// else (one call per delivery round or bounce).
	SetDelivery(ctx context.Context, ref MailboxRef, id string, update DeliveryUpdate) (*Frontmatter, error)
	// Counts returns the mailbox's totals.
	Counts(ctx context.Context, ref MailboxRef) (Counts, error)
	// Move moves a message between the folders of its mailbox, keeping
	// its id: into the trash (recording when and from where), out of it,
	// or between inbox and archive (book/storage.md, "Trash, archive and
	// labels"). After any single failed step the message is in exactly
	// one folder.
	Move(ctx context.Context, ref MailboxRef, from, to Folder, id string) (*Frontmatter, error)
	// Delete removes a message for good and reports how many files went.
	Delete(ctx context.Context, ref MailboxRef, folder Folder, id string) (int, error)
	// PurgeTrash removes for good the messages of the mailbox's trash
	// deleted before deletedBefore, and reports how many.
	PurgeTrash(ctx context.Context, ref MailboxRef, deletedBefore time.Time) (int, error)
	// SetLabels adds and removes labels of a message (its frontmatter's
	// labels), changing nothing else.
	SetLabels(ctx context.Context, ref MailboxRef, folder Folder, id string, add, remove []string) (*Frontmatter, error)
	// OpenAttachment opens one attachment file of a message by its file
	// name, as a capped regular file; the caller closes it.
	OpenAttachment(ctx context.Context, ref MailboxRef, folder Folder, id, filename string) (*AttachmentFile, error)
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
	// Panics counts panics recovered in the store's own goroutines (index
	// builds); nil still logs them.
	Panics *panics.Counter
	// Seam, tests only, is called at each Seam with the path involved.
	Seam func(at Seam, path string)
	// Log receives a line for every file the store refuses to read (over
	// the cap, not a regular file) and for Repair.
	Log zerolog.Logger
	// IndexBudget caps the memory of the folder indexes held loaded, in
	// bytes: past it the least recently listed are dropped to their cache
	// file (index.go). Zero means DefaultIndexBudget; negative, no cap.
	IndexBudget int64
}

// DefaultMaxFileBytes is the file cap when Options.MaxFileBytes is zero:
// the default max_message_bytes (25 MiB) plus FileHeadroom.
const DefaultMaxFileBytes = 25<<20 + FileHeadroom

// FileHeadroom is what a stored file may exceed max_message_bytes by: our
// trace headers in the .eml, the frontmatter in the .md.
const FileHeadroom = 1 << 20

// Store is the file-system message store of book/storage.md under one data dir.
// It is safe for concurrent use.
type Store struct {
	rootPath string
	root     *safefs.Dir // nil only for a read-only store of a missing data dir
	readOnly bool
	uid      int // the daemon's user: owns every mailbox dir and file
	log      zerolog.Logger
	seamFn   func(Seam, string)
	panics   *panics.Counter
	w        *Writer
	now      func() time.Time
	syncer   *DirSyncer
	chown    bool // running as root: files and mailbox dirs get their owner
	maxFile  int64

	mu      sync.Mutex
	boxes   map[string]*folderState // by folder dir path
	indexes map[string]*folderIndex // by folder dir path (index.go)
	// indexCfg is the index memory budget and eviction clock (index.go).
	indexCfg indexConfig

	// readLocks serialize read-state changes per message (striped by id),
	// so the index sees them in the order the files were written.
	readLocks [64]sync.Mutex

	// heads recycles the head buffers of frontmatter reads (index builds
	// touch every message of a folder).
	heads sync.Pool

	// manage is what trash, archive and labels keep in memory (labels.go).
	manage manageState
}

func newStore(root string, opts Options, readOnly bool) *Store {
	s := &Store{
		rootPath: root,
		readOnly: readOnly,
		w:        opts.Writer,
		now:      opts.Now,
		syncer:   opts.DirSyncer,
		chown:    os.Geteuid() == 0,
		uid:      os.Geteuid(),
		maxFile:  opts.MaxFileBytes,
		log:      opts.Log,
		seamFn:   opts.Seam,
		panics:   opts.Panics,
		boxes:    map[string]*folderState{},
		indexes:  map[string]*folderIndex{},
	}
	s.indexCfg.init(opts)
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
		s.syncer = &DirSyncer{}
		if s.w.Fault != nil {
			s.syncer.SyncFunc = s.w.SyncDir
		}
	}
	return s
}

// Open opens the data dir for reading and writing, creating it when missing.
// A new data dir gets the layout marker; a legacy (Rust v1) layout is
// refused with a *LegacyLayoutError and left untouched; a marker with other
// content is refused with ErrBadMarker (book/storage.md, book/upgrade.md). The data dir stays
// open for the store's life: everything below it is reached through that
// descriptor, never by path (book/security.md).
func Open(dataDir string, opts Options) (*Store, error) {
	s := newStore(dataDir, opts, false)
	root, err := safefs.MkdirAll(dataDir, 0o755)
	if err != nil {
		return nil, fmt.Errorf("open data dir: %w", err)
	}
	s.root = root
	if err := root.Chmod(0o755); err != nil {
		return nil, fmt.Errorf("open data dir: %w", err)
	}
	state, err := checkLayout(root)
	if err != nil {
		return nil, err
	}
	if state == layoutNew {
		err := s.w.WriteFileAt(root, markerName, []byte(layoutMarker), WriteOptions{Mode: 0o644, NoReplace: true})
		if err != nil && !errors.Is(err, ErrExist) {
			return nil, fmt.Errorf("write layout marker: %w", err)
		}
		if errors.Is(err, ErrExist) { // written meanwhile: it must be ours
			if _, err := checkLayout(root); err != nil {
				return nil, err
			}
		}
	}
	spool, _, err := root.EnsureDir(".spool", 0o700, nil)
	if err != nil {
		return nil, fmt.Errorf("open data dir: %w", err)
	}
	spool.Close()
	return s, nil
}

// OpenReadOnly opens the data dir for the read-only commands: it never
// creates, migrates or writes anything, and a missing data dir lists as
// empty. A legacy layout or a bad marker is still reported.
func OpenReadOnly(dataDir string) (*Store, error) {
	s := newStore(dataDir, Options{}, true)
	root, err := safefs.OpenDir(dataDir)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open data dir: %w", err)
	}
	s.root = root
	if _, err := checkLayout(root); err != nil {
		root.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the data dir. The store must not be used after.
func (s *Store) Close() error {
	if s.root == nil {
		return nil
	}
	return s.root.Close()
}

// Root returns the data dir the store was opened on.
func (s *Store) Root() string { return s.rootPath }

// folderDir is `<data>/<domain>/<folder>/<local>`, the key of a folder's
// in-memory state and what messages name; it is never opened by path.
func (s *Store) folderDir(ref MailboxRef, folder Folder) string {
	return filepath.Join(s.rootPath, ref.Domain, string(folder), ref.Local)
}

// folderName is the folder dir's name relative to the data dir.
func folderName(ref MailboxRef, folder Folder) string {
	return ref.Domain + "/" + string(folder) + "/" + ref.Local
}

// openFolder opens a mailbox folder below the data dir without following
// symlinks. A missing folder (or data dir) is an error wrapping
// fs.ErrNotExist.
func (s *Store) openFolder(ref MailboxRef, folder Folder) (*safefs.Dir, error) {
	if s.root == nil {
		return nil, fmt.Errorf("open %s/%s: %w", ref, folder, fs.ErrNotExist)
	}
	d, err := s.root.OpenDir(folderName(ref, folder))
	if err != nil {
		return nil, fmt.Errorf("open %s/%s: %w", ref, folder, err)
	}
	return d, nil
}

func checkRef(ref MailboxRef, folder Folder) error {
	if err := ref.Validate(); err != nil {
		return err
	}
	return folder.Validate()
}

// Mailbox dirs and files (book/storage.md, book/security.md): owned by the
// daemon's user, readable by the owner's group, writable by nobody else.
const (
	mailboxDirMode  = 0o750
	mailboxFileMode = 0o640
)

// fileOwner is who a mailbox's dirs and files belong to: the daemon's user
// and the mailbox owner's primary group. Nil (not root, or an owner that
// does not resolve) leaves the daemon's own user and group.
func (s *Store) fileOwner(owner *Owner) *Owner {
	if !s.chown || owner == nil {
		return nil
	}
	return &Owner{UID: s.uid, GID: owner.GID}
}
