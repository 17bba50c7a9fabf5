package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"runtime"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/aimx-dev/aimx/internal/safefs"
)

// buildIndex loads a folder's entries (scanFolder) into idx, which must
// be marked building, and reports how many files it read.
func (s *Store) buildIndex(ctx context.Context, ref MailboxRef, folder Folder, idx *folderIndex) (int, error) {
	s.seam(SeamIndexBuild, idx.dir)
	idx.mu.Lock()
	trust := !idx.noTrust && !idx.resident
	idx.mu.Unlock()
	r, err := s.scanFolder(ctx, ref, folder, trust)
	if err != nil {
		idx.mu.Lock()
		idx.err, idx.building, idx.journal = err, false, nil
		idx.mu.Unlock()
		return 0, err
	}
	idx.install(r)
	return r.read, nil
}

// scanResult is a folder's entries as scanFolder found them.
type scanResult struct {
	slots []slot
	arena []byte
	read  int  // messages read
	dirty bool // differs from the cache file
	// provisional: taken from the cache file on the folder dir's stamp
	// alone; a .md edited in place is seen once checked (WarmIndex).
	provisional bool
}

// scanFolder lists the folder and returns its entries in id order. With
// trust, a cache file recorded with the folder dir's current stamp is
// taken as it is: no message was added, removed or renamed since. Else an
// entry is taken from the cache file only when its .md still has the
// stamp recorded (one fstatat per message), and every other message is
// read. Without a cache file every message is read.
func (s *Store) scanFolder(ctx context.Context, ref MailboxRef, folder Folder, trust bool) (scanResult, error) {
	var snap *cachedIndex
	if !s.readOnly {
		snap = s.readSnapshot(ref, folder)
	}
	if trust && snap != nil && snap.dirStamp != 0 && snap.dirStamp == s.folderStamp(ref, folder) {
		return scanResult{slots: snap.slots, arena: snap.arena, provisional: true}, nil
	}
	slots, arena, read, dirty, err := s.checkFolder(ctx, ref, folder, snap)
	return scanResult{slots: slots, arena: arena, read: read, dirty: dirty}, err
}

// checkFolder is scanFolder's message-by-message path. dirty says the
// result differs from the cache file snap (nil: none).
func (s *Store) checkFolder(ctx context.Context, ref MailboxRef, folder Folder, snap *cachedIndex) (slots []slot, arena []byte, read int, dirty bool, err error) {
	fdir, err := s.openFolder(ref, folder)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, 0, false, nil // a mailbox with no storage yet lists as empty
	}
	if err != nil {
		return nil, nil, 0, false, err
	}
	defer fdir.Close()
	ents, err := listEntries(fdir)
	if err != nil {
		return nil, nil, 0, false, err
	}
	slices.Reverse(ents) // listEntries is newest first; the index is in id order
	// picks[i] is the cache slot that still describes ents[i], or -1.
	picks := make([]int32, len(ents))
	for i := range picks {
		picks[i] = -1
	}
	if snap != nil {
		j := 0
		for i, e := range ents {
			for j < len(snap.slots) && string(snap.id(j)) < e.stem {
				j++
			}
			if j < len(snap.slots) && string(snap.id(j)) == e.stem && snap.slots[j].stamp() != 0 &&
				(snap.slots[j].flags&flagBundle != 0) == e.bundle {
				picks[i] = int32(j)
			}
		}
		err = parallelChunks(ctx, len(ents), 512, func(lo, hi int) error {
			now := s.indexCfg.clock()
			for i := lo; i < hi; i++ {
				if picks[i] < 0 {
					continue
				}
				st, err := lstatEntry(fdir, ents[i])
				if err != nil || fileStamp(&st, now) != snap.slots[picks[i]].stamp() {
					picks[i] = -1
				}
			}
			return nil
		})
		if err != nil {
			return nil, nil, 0, false, err
		}
	}
	var toRead []int
	for i, p := range picks {
		if p < 0 {
			toRead = append(toRead, i)
		}
	}
	if snap != nil && len(toRead) == 0 && len(ents) == len(snap.slots) {
		// The cache is current; rewrite it only to record the dir's stamp.
		return snap.slots, snap.arena, 0, snap.dirStamp == 0, nil
	}
	fresh := make([]*indexEntry, len(ents))
	stamps := make([]uint64, len(ents))
	err = parallel(ctx, len(toRead), func(k int) error {
		i := toRead[k]
		fm, stamp, err := s.readHeadFrontmatterStamp(fdir, ents[i].mdName())
		if errors.Is(err, ErrNotFound) {
			return nil // removed meanwhile
		}
		if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrNotRegular) {
			s.refused(fdir.Join(ents[i].mdName()), err)
			return nil // refused (H1, M1): not listed, never read whole
		}
		if err != nil {
			var perr *fs.PathError
			if errors.As(err, &perr) {
				return err // an I/O failure, not a bad file
			}
			fm = nil // undecodable: keep it listed, reading it reports why
		}
		fresh[i], stamps[i] = newIndexEntry(ents[i].stem, ents[i].bundle, fm), stamp
		fresh[i].orderByEML(fdir)
		return nil
	})
	if err != nil {
		return nil, nil, 0, false, err
	}
	slots = make([]slot, 0, len(ents))
	est := 0
	if snap != nil {
		est = len(snap.arena)
	}
	arena = make([]byte, 0, est+len(toRead)*96)
	for i := range ents {
		switch {
		case picks[i] >= 0:
			sl := snap.slots[picks[i]]
			n := uint32(sl.idLen) + uint32(sl.fromLen) + uint32(sl.subjLen)
			off := uint32(len(arena))
			arena = append(arena, snap.arena[sl.off:sl.off+n]...)
			sl.off = off
			slots = append(slots, sl)
		case fresh[i] != nil && len(fresh[i].id) <= maxIndexedString:
			var sl slot
			arena, sl = appendEntry(arena, fresh[i], stamps[i])
			slots = append(slots, sl)
		}
	}
	return slots, arena, len(toRead), true, nil
}

// orderByEML sets the receipt order of an entry whose received_at does
// not give it from its .eml's mtime (receiptOrder); an entry without .eml
// keeps order 0 and orders by id within its second.
func (e *indexEntry) orderByEML(fdir *safefs.Dir) {
	if !e.orderFromEML {
		return
	}
	name := e.id + ".eml"
	if e.bundle {
		name = e.id + "/" + name
	}
	st, err := fdir.Lstat(name)
	if err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return
	}
	e.order = receiptOrder(e.at, e.hasAt, time.Unix(int64(st.Mtim.Sec), int64(st.Mtim.Nsec)))
}

// lstatEntry stats an entry's .md: a flat one with one fstatat on the
// folder's fd, a bundle's through its dir, never following a symlink.
func lstatEntry(fdir *safefs.Dir, e entry) (unix.Stat_t, error) {
	if e.bundle {
		return fdir.Lstat(e.mdName())
	}
	var st unix.Stat_t
	err := unix.Fstatat(fdir.Fd(), e.mdName(), &st, unix.AT_SYMLINK_NOFOLLOW)
	return st, err
}

// readHeadFrontmatterStamp decodes the frontmatter of a .md and returns
// the fileStamp taken before it was read, so a later change to the file
// changes the stamp.
func (s *Store) readHeadFrontmatterStamp(dir *safefs.Dir, name string) (*Frontmatter, uint64, error) {
	bp, _ := s.heads.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, headSize)
		bp = &b
	}
	defer s.heads.Put(bp)
	head, st, err := readHead(dir, name, *bp, s.maxFile)
	if err != nil {
		return nil, 0, err
	}
	stamp := fileStamp(&st, s.indexCfg.clock())
	fm, _, err := DecodeMD(head)
	if err != nil {
		return nil, stamp, fmt.Errorf("%s: %w", dir.Join(name), err)
	}
	return fm, stamp, nil
}

// stampSettle is how long a file must have been unchanged for its stamp to
// be trusted. File times tick in jiffies, not nanoseconds: a file changed
// again within the tick it was read in would keep its stamp, so a file
// changed less than this before it was looked at gets stamp 0 and is read
// again at the next load (git's "racily clean" entries, the same cure).
const stampSettle = 2 * time.Second

// fileStamp identifies one version of a file: device, inode, size, mtime
// and ctime (which no user can set back). 0 means unknown.
func fileStamp(st *unix.Stat_t, now time.Time) uint64 {
	if now.Sub(time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec))) < stampSettle {
		return 0
	}
	var b [56]byte
	for i, v := range [...]uint64{uint64(st.Dev), uint64(st.Ino), uint64(st.Size), uint64(st.Mtim.Sec),
		uint64(st.Mtim.Nsec), uint64(st.Ctim.Sec), uint64(st.Ctim.Nsec)} {
		binary.LittleEndian.PutUint64(b[i*8:], v)
	}
	h := fnv.New64a()
	_, _ = h.Write(b[:])
	if v := h.Sum64(); v != 0 {
		return v
	}
	return 1
}

// parallelChunks runs fn over [0,n) in chunks on one worker per CPU,
// stopping at the first error or when ctx ends.
func parallelChunks(ctx context.Context, n, chunk int, fn func(lo, hi int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for lo := 0; lo < n; lo += chunk {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return fn(lo, min(lo+chunk, n)) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}
