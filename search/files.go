package search

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"unicode/utf8"

	"github.com/aimx-dev/aimx/internal/safefs"
	"github.com/aimx-dev/aimx/storage"
)

// indexDir and indexFile are where the index lives under the data dir
// (book/search.md): beside the listing index's cache files, 0700, owned
// by the daemon's user; mailbox owners cannot reach it.
const (
	indexParent = ".index"
	indexDir    = "search"
	indexFile   = "index.db"
)

// openIndexDir opens <data>/.index/search, creating both dirs 0700 when
// missing, without following a symlink at either (book/security.md), and
// returns its path for the engine. reset empties it first.
func openIndexDir(dataDir string, reset bool) (string, error) {
	root, err := safefs.OpenDir(dataDir)
	if err != nil {
		return "", fmt.Errorf("search index dir: %w", err)
	}
	defer root.Close()
	parent, _, err := root.EnsureDir(indexParent, 0o700, nil)
	if err != nil {
		return "", fmt.Errorf("search index dir: %w", err)
	}
	defer parent.Close()
	if reset {
		if _, err := parent.RemoveAll(indexDir); err != nil {
			return "", fmt.Errorf("search index dir: remove: %w", err)
		}
	}
	d, _, err := parent.EnsureDir(indexDir, 0o700, nil)
	if err != nil {
		return "", fmt.Errorf("search index dir: %w", err)
	}
	defer d.Close()
	return d.Join(indexFile), nil
}

// fileLister lists the ids of a folder of the file store from its
// directory names alone (book/storage.md, "Listing and counting": flat
// <stem>.md files and bundle dirs; dot-names skipped), reading no file.
type fileLister struct{ dataDir string }

// ids returns the folder's ids; a missing folder has none.
func (l fileLister) ids(b Box, ref storage.MailboxRef) ([]string, error) {
	root, err := safefs.OpenDir(l.dataDir)
	if err != nil {
		return nil, fmt.Errorf("list %s/%s: %w", b.Mailbox, b.Folder, err)
	}
	defer root.Close()
	d, err := root.OpenDir(ref.Domain + "/" + string(b.Folder) + "/" + ref.Local)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s/%s: %w", b.Mailbox, b.Folder, err)
	}
	defer d.Close()
	des, err := d.Names()
	if err != nil {
		return nil, fmt.Errorf("list %s/%s: %w", b.Mailbox, b.Folder, err)
	}
	out := make([]string, 0, len(des))
	for _, de := range des {
		name := de.Name()
		switch t := de.Type(); {
		case strings.HasPrefix(name, "."):
		case t.IsRegular() && strings.HasSuffix(name, ".md") && len(name) > 3:
			out = append(out, strings.TrimSuffix(name, ".md"))
		case t.IsDir():
			out = append(out, name) // a bundle; one without its .md fails to load and is skipped
		}
	}
	return out, nil
}

// storeLister lists a folder's ids through MessageStore.List, for stores
// that keep no files on this host: it pages through every message.
type storeLister struct{ store storage.MessageStore }

func (l storeLister) ids(ctx context.Context, b Box, ref storage.MailboxRef) ([]string, error) {
	var out []string
	for off := 0; ; off += 200 {
		page, err := l.store.List(ctx, storage.ListQuery{Mailbox: ref, Folder: b.Folder, Limit: 200, Offset: off})
		if err != nil {
			return nil, fmt.Errorf("list %s/%s: %w", b.Mailbox, b.Folder, err)
		}
		for _, m := range page.Messages {
			out = append(out, m.ID)
		}
		if len(page.Messages) < 200 {
			return out, nil
		}
	}
}

// Read limits: what of a message is read to index it or to cut its
// snippet (book/search.md): the whole frontmatter (at most
// storage.MaxFrontmatterBytes) and the first maxBodyBytes of the body.
const maxBodyBytes = 256 << 10

// loaded is a message read back from the store.
type loaded struct {
	fm   *storage.Frontmatter
	body string
}

// load reads a message's frontmatter and the start of its body through
// the store (never by path). A message that is gone answers
// storage.ErrNotFound.
func load(ctx context.Context, store storage.MessageStore, k Key, ref storage.MailboxRef) (*loaded, error) {
	mf, err := store.OpenMD(ctx, ref, k.Folder, k.ID)
	if err != nil {
		return nil, err
	}
	defer mf.Close()
	limit := min(mf.Size(), storage.MaxFrontmatterBytes+maxBodyBytes)
	buf := make([]byte, limit)
	n, err := io.ReadFull(mf.Reader(), buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read %s/%s/%s: %w", k.Mailbox, k.Folder, k.ID, err)
	}
	fm, body, err := storage.DecodeMD(buf[:n])
	if err != nil {
		return nil, fmt.Errorf("decode %s/%s/%s: %w", k.Mailbox, k.Folder, k.ID, err)
	}
	if len(body) > maxBodyBytes || n < int(mf.Size()) {
		body = body[:min(len(body), maxBodyBytes)]
		for i := 0; i < utf8.UTFMax-1 && len(body) > 0; i++ { // the cut may split a character
			if r, size := utf8.DecodeLastRuneInString(body); r != utf8.RuneError || size != 1 {
				break
			}
			body = body[:len(body)-1]
		}
	}
	return &loaded{fm: fm, body: body}, nil
}
