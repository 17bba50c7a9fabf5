package storage

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/aimx-dev/aimx/internal/safefs"
)

// folderState is the in-memory view of one mailbox folder dir that stem
// allocation needs: the set of stems taken there. It is filled by one
// directory scan when the folder is first written to, then kept current by
// the allocator, so storing a message never probes the directory (book/storage.md).
// Its lock is held only for map updates, never across an fsync.
type folderState struct {
	dir string

	initOnce sync.Once
	initErr  error

	mu    sync.Mutex
	taken map[string]bool
	next  map[string]int // base stem -> next collision suffix to try
}

// folder returns the state for ref's folder dir, creating the mailbox dirs
// and scanning the folder on first use.
func (s *Store) folder(ref MailboxRef, folder Folder, owner *Owner) (*folderState, error) {
	dir := s.folderDir(ref, folder)
	s.mu.Lock()
	fs := s.boxes[dir]
	if fs == nil {
		fs = &folderState{dir: dir}
		s.boxes[dir] = fs
	}
	s.mu.Unlock()
	fs.initOnce.Do(func() {
		if err := s.ensureMailbox(ref, owner); err != nil {
			fs.initErr = err
			return
		}
		d, err := s.openFolder(ref, folder)
		if err != nil {
			fs.initErr = err
			return
		}
		defer d.Close()
		fs.initErr = fs.scan(d)
	})
	if fs.initErr != nil {
		s.mu.Lock()
		if s.boxes[dir] == fs {
			delete(s.boxes, dir) // retry the scan next time
		}
		s.mu.Unlock()
		return nil, fs.initErr
	}
	return fs, nil
}

// scan records every stem present: message files (.md, and .eml left
// without their .md by a crash) and bundle dirs. Dot-names are temp files.
func (f *folderState) scan(d *safefs.Dir) error {
	entries, err := d.Names()
	if err != nil {
		return fmt.Errorf("scan %s: %w", f.dir, err)
	}
	f.taken = make(map[string]bool, len(entries))
	f.next = map[string]int{}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		switch {
		case e.IsDir():
			f.taken[name] = true
		case strings.HasSuffix(name, ".md"):
			f.taken[strings.TrimSuffix(name, ".md")] = true
		case strings.HasSuffix(name, ".eml"):
			f.taken[strings.TrimSuffix(name, ".eml")] = true
		}
	}
	return nil
}

// reserve takes the first free stem among base, base-2, base-3, ...
// reserveExact takes stem itself, reporting false when it is taken.
func (f *folderState) reserveExact(stem string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.taken[stem] {
		return false
	}
	f.taken[stem] = true
	return true
}

func (f *folderState) reserve(base string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.taken[base] {
		f.taken[base] = true
		return base
	}
	n := f.next[base]
	if n < 2 {
		n = 2
	}
	for {
		stem := base + "-" + strconv.Itoa(n)
		n++
		if !f.taken[stem] {
			f.taken[stem] = true
			f.next[base] = n
			return stem
		}
	}
}
