package storage

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"sort"
	"sync/atomic"
	"time"
)

// The index cache (book/storage.md, "Listing and counting"): one file per
// folder under <data>/.index, named <local>@<domain>.<folder>, holding a
// loaded index as it is in memory. It is derived data: a missing, damaged or stale file
// costs reading the messages again, never a wrong listing, because every
// entry is checked against its .md's stamp when loaded (indexload.go). It
// is written when a load had to read many files, when the index is
// evicted, and at shutdown (FlushIndexes), without fsync (writeSnapshot).
//
// Layout, little-endian: a 32-byte header ("AIMXIDX2", count u32, arena
// length u32, unread u32, the folder dir's fileStamp u64, a CRC-32C of the
// header before it), the slots (36 bytes each: stamp u64, off u32, at u32,
// receipt order u32, thread hash u32, message-id hash u32, from
// length u16, subject length u16, id length u16, flags u8, trust u8), the
// arena, and a CRC-32C of everything before it. A file of an earlier
// format ("AIMXIDX1": 24-byte slots without the receipt order, hashes and
// trust) is not an error: the folder is read from its messages again and
// the file rewritten in this format.
//
// The header alone answers a count at start (headerCounts) while the dir
// has not changed since the file was written: a message added, removed or
// rewritten through a rename changes the dir's stamp. A .md edited in place
// while the daemon was down is not seen that way; the warm-up's full load
// (WarmIndex) corrects such counts seconds after the start.

const (
	indexDirName     = ".index"
	snapshotMagic    = "AIMXIDX2"
	oldSnapshotMagic = "AIMXIDX1"
	snapshotHeader   = len(snapshotMagic) + 24
	maxSnapshotBytes = 1 << 31
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errOldCache reports a cache file of an earlier format: rebuilt quietly.
var errOldCache = errors.New("index cache file of an earlier format")

// cachedIndex is a decoded cache file.
type cachedIndex struct {
	slots    []slot
	arena    []byte
	unread   int
	dirStamp uint64
}

// cacheHeader is the fixed start of a cache file.
type cacheHeader struct {
	count, arenaLen, unread uint32
	dirStamp                uint64
}

func (h cacheHeader) encode() []byte {
	b := append(make([]byte, 0, snapshotHeader), snapshotMagic...)
	b = binary.LittleEndian.AppendUint32(b, h.count)
	b = binary.LittleEndian.AppendUint32(b, h.arenaLen)
	b = binary.LittleEndian.AppendUint32(b, h.unread)
	b = binary.LittleEndian.AppendUint64(b, h.dirStamp)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeHeader(b []byte) (cacheHeader, error) {
	if len(b) >= len(oldSnapshotMagic) && string(b[:len(oldSnapshotMagic)]) == oldSnapshotMagic {
		return cacheHeader{}, errOldCache
	}
	if len(b) < snapshotHeader || string(b[:len(snapshotMagic)]) != snapshotMagic {
		return cacheHeader{}, errors.New("not an index cache file")
	}
	if crc32.Checksum(b[:snapshotHeader-4], castagnoli) != binary.LittleEndian.Uint32(b[snapshotHeader-4:]) {
		return cacheHeader{}, errors.New("header checksum mismatch")
	}
	return cacheHeader{count: binary.LittleEndian.Uint32(b[8:]), arenaLen: binary.LittleEndian.Uint32(b[12:]),
		unread: binary.LittleEndian.Uint32(b[16:]), dirStamp: binary.LittleEndian.Uint64(b[20:])}, nil
}

func (sn *cachedIndex) id(i int) []byte {
	sl := &sn.slots[i]
	return sn.arena[sl.off : sl.off+uint32(sl.idLen)]
}

// snapshotName is the folder's cache file name in the .index dir.
func snapshotName(ref MailboxRef, folder Folder) string {
	return ref.Local + "@" + ref.Domain + "." + string(folder)
}

// encodeLocked serializes the index, its arena compacted. dirStamp is the
// folder dir's stamp taken before the entries were locked, or 0.
func (idx *folderIndex) encodeLocked(dirStamp uint64) []byte {
	live := len(idx.arena) - idx.garbage
	out := make([]byte, 0, snapshotHeader+len(idx.slots)*slotSize+live+4)
	out = append(out, cacheHeader{count: uint32(len(idx.slots)), arenaLen: uint32(live), unread: uint32(idx.unread), dirStamp: dirStamp}.encode()...)
	off := uint32(0)
	for i := range idx.slots {
		sl := idx.slots[i]
		sl.off, off = off, off+uint32(sl.idLen)+uint32(sl.fromLen)+uint32(sl.subjLen)
		out = appendSlot(out, &sl)
	}
	for i := range idx.slots {
		sl := &idx.slots[i]
		out = append(out, idx.arena[sl.off:sl.off+uint32(sl.idLen)+uint32(sl.fromLen)+uint32(sl.subjLen)]...)
	}
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

func appendSlot(b []byte, sl *slot) []byte {
	b = binary.LittleEndian.AppendUint64(b, sl.stamp())
	for _, v := range [...]uint32{sl.off, sl.at, sl.order, sl.thread, sl.msgID} {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	b = binary.LittleEndian.AppendUint16(b, sl.fromLen)
	b = binary.LittleEndian.AppendUint16(b, sl.subjLen)
	b = binary.LittleEndian.AppendUint16(b, sl.idLen)
	return append(b, sl.flags, sl.trust)
}

// decodeSlot reads one slot as appendSlot wrote it.
func decodeSlot(b *[slotSize]byte) slot {
	le := binary.LittleEndian
	sl := slot{off: le.Uint32(b[8:]), at: le.Uint32(b[12:]), order: le.Uint32(b[16:]), thread: le.Uint32(b[20:]),
		msgID: le.Uint32(b[24:]), fromLen: le.Uint16(b[28:]), subjLen: le.Uint16(b[30:]), idLen: le.Uint16(b[32:]),
		flags: b[34], trust: b[35]}
	sl.setStamp(le.Uint64(b[0:]))
	return sl
}

// decodeSnapshot reads a cache file, checking its checksum, that every
// string lies in the arena and that the ids are in strictly ascending
// order, as scanFolder's merge needs. The arena gets its own allocation,
// so the slots' bytes are not kept alive with it.
func decodeSnapshot(r io.Reader, size int64) (*cachedIndex, error) {
	if size < int64(snapshotHeader+4) {
		return nil, errors.New("too short")
	}
	crc := crc32.New(castagnoli)
	raw := bufio.NewReaderSize(r, 64<<10)
	br := io.TeeReader(raw, crc) // the checksum covers what was consumed, not the read-ahead
	head := make([]byte, snapshotHeader)
	if _, err := io.ReadFull(br, head); err != nil {
		return nil, err
	}
	h, err := decodeHeader(head)
	if err != nil {
		return nil, err
	}
	n, alen := int64(h.count), int64(h.arenaLen)
	if int64(snapshotHeader)+n*slotSize+alen+4 != size {
		return nil, errors.New("size does not match the header")
	}
	sn := &cachedIndex{slots: make([]slot, n), arena: make([]byte, alen), unread: int(h.unread), dirStamp: h.dirStamp}
	var b [slotSize]byte
	for i := range sn.slots {
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return nil, err
		}
		sn.slots[i] = decodeSlot(&b)
	}
	if _, err := io.ReadFull(br, sn.arena); err != nil {
		return nil, err
	}
	sum := crc.Sum32()
	var tail [4]byte
	if _, err := io.ReadFull(raw, tail[:]); err != nil {
		return nil, err
	}
	if binary.LittleEndian.Uint32(tail[:]) != sum {
		return nil, errors.New("checksum mismatch")
	}
	for i := range sn.slots {
		sl := &sn.slots[i]
		if int64(sl.off)+int64(sl.idLen)+int64(sl.fromLen)+int64(sl.subjLen) > alen || sl.idLen == 0 {
			return nil, fmt.Errorf("entry %d outside the arena", i)
		}
		if i > 0 && string(sn.id(i-1)) >= string(sn.id(i)) {
			return nil, fmt.Errorf("entry %d out of order", i)
		}
	}
	return sn, nil
}

// readSnapshot returns the folder's cache file, or nil when there is none
// or it cannot be used (logged: the folder is then read from its files).
func (s *Store) readSnapshot(ref MailboxRef, folder Folder) *cachedIndex {
	if s.root == nil {
		return nil
	}
	name := indexDirName + "/" + snapshotName(ref, folder)
	f, size, err := s.root.OpenFile(name, maxSnapshotBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		s.log.Warn().Err(err).Str("mailbox", ref.String()).Msg("index cache not read; reading the messages")
		return nil
	}
	defer f.Close()
	sn, err := decodeSnapshot(f, size)
	if errors.Is(err, errOldCache) {
		s.log.Debug().Str("mailbox", ref.String()).Msg("index cache of an earlier format; reading the messages")
		return nil
	}
	if err != nil {
		s.log.Warn().Err(err).Str("mailbox", ref.String()).Str("file", f.Name()).Msg("index cache not used; reading the messages")
		return nil
	}
	return sn
}

// folderStamp is the folder dir's fileStamp, or 0 when it is missing, was
// changed within stampSettle or cannot be read.
func (s *Store) folderStamp(ref MailboxRef, folder Folder) uint64 {
	d, err := s.openFolder(ref, folder)
	if err != nil {
		return 0
	}
	defer d.Close()
	st, err := d.Stat()
	if err != nil {
		return 0
	}
	return fileStamp(&st, s.indexCfg.clock())
}

// headerCounts answers a count from the folder's cache file header when
// the folder dir still has the stamp recorded there.
func (s *Store) headerCounts(ref MailboxRef, folder Folder) (total, unread int, ok bool) {
	if s.readOnly || s.root == nil {
		return 0, 0, false
	}
	f, _, err := s.root.OpenFile(indexDirName+"/"+snapshotName(ref, folder), maxSnapshotBytes)
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	b := make([]byte, snapshotHeader)
	if _, err := io.ReadFull(f, b); err != nil {
		return 0, 0, false
	}
	h, err := decodeHeader(b)
	if err != nil || h.dirStamp == 0 || h.dirStamp != s.folderStamp(ref, folder) {
		return 0, 0, false
	}
	return int(h.count), int(h.unread), true
}

// writeSnapshot publishes a cache file: a temp file renamed over the old
// one, so a reader sees one version or the other. Unlike mail it is not
// fsynced (the Writer would be three fsyncs a folder, seconds at a start
// that loads a thousand): after a crash a cache file may be stale, empty
// or torn, which its checksum and the per-entry stamps turn into reading
// the messages again, never into a wrong listing.
func (s *Store) writeSnapshot(ref MailboxRef, folder Folder, data []byte) error {
	dir, _, err := s.root.EnsureDir(indexDirName, 0o700, nil)
	if err != nil {
		return fmt.Errorf("index cache dir: %w", err)
	}
	defer dir.Close()
	name := snapshotName(ref, folder)
	tmp := tempName(name)
	f, err := dir.Create(tmp, 0o600, nil)
	if err != nil {
		return fmt.Errorf("write index cache: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = dir.Rename(tmp, dir, name)
	}
	if err != nil {
		_ = dir.Remove(tmp)
		return fmt.Errorf("write index cache: %w", err)
	}
	return nil
}

// saveIndex writes a loaded index that changed since its cache file.
func (s *Store) saveIndex(idx *folderIndex) {
	if s.readOnly || s.root == nil {
		return
	}
	dirStamp := s.folderStamp(idx.ref, idx.folder)
	idx.mu.Lock()
	if !idx.resident || !idx.dirty {
		idx.mu.Unlock()
		return
	}
	data := idx.encodeLocked(dirStamp)
	idx.dirty = false
	idx.mu.Unlock()
	if err := s.writeSnapshot(idx.ref, idx.folder, data); err != nil {
		s.log.Warn().Err(err).Str("mailbox", idx.ref.String()).Msg("index cache not saved")
		idx.mu.Lock()
		idx.dirty = idx.resident
		idx.mu.Unlock()
	}
}

// evictIndexes drops the least recently listed loaded indexes (never
// keep, nor one in use or loading) until their memory is within budget.
func (s *Store) evictIndexes(keep *folderIndex) {
	budget := s.indexCfg.budget
	if budget < 0 {
		return
	}
	s.mu.Lock()
	var cands []*folderIndex
	var total int64
	for _, idx := range s.indexes {
		if b := idx.bytes.Load(); b > 0 {
			total += b
			if idx != keep {
				cands = append(cands, idx)
			}
		}
	}
	s.mu.Unlock()
	if total <= budget {
		return
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].lastUse.Load() < cands[j].lastUse.Load() })
	for _, idx := range cands {
		if total <= budget {
			return
		}
		total -= s.evictIndex(idx)
	}
}

// evictIndex writes an index's cache file if it changed, then drops its
// entries, keeping its counts. It returns the bytes freed.
func (s *Store) evictIndex(idx *folderIndex) int64 {
	var dirStamp uint64
	if !s.readOnly {
		dirStamp = s.folderStamp(idx.ref, idx.folder)
	}
	idx.mu.Lock()
	if !idx.resident || idx.building || idx.pins > 0 {
		idx.mu.Unlock()
		return 0
	}
	var data []byte
	if idx.dirty && !s.readOnly && s.root != nil {
		data = idx.encodeLocked(dirStamp)
	}
	freed := idx.bytes.Load()
	idx.slots, idx.arena, idx.garbage, idx.resident, idx.dirty = nil, nil, 0, false, false
	idx.bytes.Store(0)
	idx.mu.Unlock()
	if data != nil {
		if err := s.writeSnapshot(idx.ref, idx.folder, data); err != nil {
			s.log.Warn().Err(err).Str("mailbox", idx.ref.String()).Msg("index cache not saved")
		}
	}
	return freed
}

// FlushIndexes writes the cache file of every loaded index that changed
// since its last one, so the next start reads few messages. The daemon
// calls it when it stops; skipping it costs only that reading.
func (s *Store) FlushIndexes(ctx context.Context) error {
	s.mu.Lock()
	all := make([]*folderIndex, 0, len(s.indexes))
	for _, idx := range s.indexes {
		all = append(all, idx)
	}
	s.mu.Unlock()
	for _, idx := range all {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("flush indexes: %w", err)
		}
		s.saveIndex(idx)
	}
	return nil
}

// DefaultIndexBudget is the memory loaded indexes may hold when
// Options.IndexBudget is zero: a 100,000-message folder takes about 12 MB
// (bench/README.md).
const DefaultIndexBudget = 24 << 20

// indexConfig is the Store's index settings and eviction clock.
type indexConfig struct {
	budget int64         // bytes; negative: no limit
	ticks  atomic.Uint64 // ticks at every listing; orders eviction
	// now, tests only, replaces time.Now for file stamps, so that files
	// written by the test can count as settled.
	now func() time.Time
}

// clock is the time file stamps are judged against (fileStamp).
func (c *indexConfig) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

func (c *indexConfig) init(opts Options) {
	c.budget = opts.IndexBudget
	if c.budget == 0 {
		c.budget = DefaultIndexBudget
	}
}

// WarmIndex loads a mailbox's folder indexes as a count would and checks
// every message of one taken from its cache file on the folder dir's
// stamp alone, so a .md edited in place while the daemon was down is seen.
// The daemon runs it over every mailbox after a start.
func (s *Store) WarmIndex(ctx context.Context, ref MailboxRef) error {
	if err := ref.Validate(); err != nil {
		return err
	}
	for _, f := range []Folder{Inbox, Sent} {
		idx, err := s.index(ctx, ref, f, false)
		if err != nil {
			return fmt.Errorf("warm %s/%s: %w", ref, f, err)
		}
		err = s.checkIndex(ctx, idx)
		idx.unpin()
		if err != nil {
			return fmt.Errorf("warm %s/%s: %w", ref, f, err)
		}
	}
	return nil
}

// checkIndex checks a provisional index message by message. Listings go on
// from the provisional entries meanwhile; writes update both, and the
// result replaces them.
func (s *Store) checkIndex(ctx context.Context, idx *folderIndex) error {
	idx.mu.Lock()
	if !idx.resident || !idx.provisional || idx.building {
		idx.mu.Unlock()
		return nil
	}
	idx.building, idx.journal = true, nil
	idx.mu.Unlock()
	_, err := s.buildIndex(ctx, idx.ref, idx.folder, idx)
	return err
}
