package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/aimx-dev/aimx/domains"
)

// The names of the mailbox and storage checks (book/doctor.md).
const (
	CheckOwner   = "owner"
	CheckMode    = "mode"
	CheckCounts  = "counts"
	CheckOrphan  = "orphan"
	CheckLegacy  = "legacy_layout"
	CheckDataDir = "data_dir"
)

// mailboxDirMode is the mode of a mailbox dir (book/storage.md).
const mailboxDirMode = 0o750

// repairFix is the advice for storage in the wrong mode or owner.
const repairFix = "restart aimx (systemctl restart aimx): the start-up repair re-owns mailbox dirs as root:<owner's group> 0750 (book/storage.md)"

// mailboxes builds the mailbox table and finds storage no mailbox claims.
// It only reads: nothing under the data dir is created or changed.
func (d *Doctor) mailboxes(ctx context.Context) ([]Mailbox, []Check) {
	cfg := d.Config
	out := []Mailbox{}
	for _, name := range cfg.MailboxNames() {
		mb := cfg.Mailboxes[name]
		row := Mailbox{Name: name, Owner: mb.Owner, Checks: []Check{}}
		if d.Counter != nil {
			c, err := d.Counter.Counts(ctx, domains.MailboxRef(name))
			if err != nil {
				row.Checks = append(row.Checks, warn(CheckCounts, "counting its mail: "+err.Error(), "run aimx doctor as root"))
			}
			row.Total, row.Unread, row.Sent = c.Total, c.Unread, c.Sent
		}
		owner, oerr := d.lookupOwner(mb.Owner)
		if oerr != nil {
			row.Checks = append(row.Checks, fail(CheckOwner, "owner "+mb.Owner+" is not a user on this system: the mailbox takes mail, but no one can read it and its hooks are skipped",
				"create the user (useradd --system "+mb.Owner+") or move the mailbox to an existing owner"))
		}
		ref := domains.MailboxRef(name)
		dir := filepath.Join(d.Paths.DataDir, ref.Domain, "inbox", ref.Local)
		var want *domains.Owner
		if oerr == nil {
			want = &owner
		}
		row.Mode, row.Checks = d.dirChecks(dir, want, row.Checks)
		out = append(out, row)
	}
	return out, d.storageChecks()
}

// dirChecks checks a mailbox dir's type, mode and owner: the daemon's
// user owns it, the mailbox owner's group reads it, 0750 (book/security.md).
func (d *Doctor) dirChecks(dir string, owner *domains.Owner, checks []Check) (string, []Check) {
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", checks // made with the first message
	case err != nil:
		return "", append(checks, warn(CheckMode, "reading "+dir+": "+err.Error(), "run aimx doctor as root"))
	case !fi.IsDir():
		return "", append(checks, fail(CheckMode, dir+" is not a directory (a symlink or a file): the daemon refuses it",
			"move it away (mv "+dir+" /root/), then restart aimx"))
	}
	mode := fmt.Sprintf("%04o", fi.Mode().Perm())
	st, _ := fi.Sys().(*syscall.Stat_t)
	if st != nil && int(st.Uid) != d.DaemonUID {
		return mode, append(checks, fail(CheckMode, fmt.Sprintf("%s belongs to uid %d, not the daemon's (%d): its owner could change files the daemon trusts", dir, st.Uid, d.DaemonUID), repairFix))
	}
	if fi.Mode().Perm() != mailboxDirMode {
		return mode, append(checks, warn(CheckMode, fmt.Sprintf("%s is %s, not 0750", dir, mode), repairFix))
	}
	if st != nil && owner != nil && d.DaemonUID == 0 && int(st.Gid) != owner.GID {
		return mode, append(checks, warn(CheckMode, fmt.Sprintf("%s has group %d, not %s's (%d): %s cannot read its mail", dir, st.Gid, owner.Name, owner.GID, owner.Name), repairFix))
	}
	return mode, checks
}

// storageChecks finds what the data dir holds that no domain or mailbox
// of the config claims (a mailbox removed by hand keeps its mail,
// book/configuration.md), and a single-domain tree not yet migrated.
func (d *Doctor) storageChecks() []Check {
	cfg := d.Config
	data := d.Paths.DataDir
	out := []Check{}
	entries, err := os.ReadDir(data)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return append(out, warn(CheckDataDir, "the data dir "+data+" does not exist yet", "start aimx (systemctl start aimx): it makes the data dir"))
	case err != nil:
		return append(out, warn(CheckDataDir, "reading "+data+": "+err.Error(), "run aimx doctor as root"))
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !e.IsDir() {
			continue
		}
		path := filepath.Join(data, name)
		if name == "inbox" || name == "sent" {
			out = append(out, warn(CheckLegacy, path+" is a single-domain (v1) tree not yet migrated",
				"start aimx: it migrates the tree under "+filepath.Join(data, cfg.DefaultDomain())+" before it listens (book/upgrade.md)"))
			continue
		}
		if !slices.Contains(cfg.Domains, name) {
			out = append(out, warn(CheckOrphan, fmt.Sprintf("%s holds %d messages of %s, which is not a served domain", path, countTree(path), name),
				"add the domain back (aimx domains add "+name+"), or back it up and delete it (rm -r "+path+")"))
			continue
		}
		for _, folder := range []string{"inbox", "sent"} {
			out = append(out, d.orphanBoxes(name, folder)...)
		}
	}
	return out
}

// orphanBoxes lists the mailbox dirs of one domain's folder that no
// mailbox of the config owns.
func (d *Doctor) orphanBoxes(dom, folder string) []Check {
	dir := filepath.Join(d.Paths.DataDir, dom, folder)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []Check
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || !e.IsDir() {
			continue
		}
		name := e.Name() + "@" + dom
		if e.Name() == domains.ReservedLocal {
			name = domains.CatchallLocal + "@" + dom
		}
		if _, ok := d.Config.Mailboxes[name]; ok {
			continue
		}
		path := filepath.Join(dir, e.Name())
		out = append(out, warn(CheckOrphan, fmt.Sprintf("%s holds %d messages but %s is not a mailbox", path, countMessages(path), name),
			"re-create it (aimx mailboxes create '"+name+"' --owner USER; --force if that mail belongs to someone else), or back it up and delete it (rm -r "+path+")"))
	}
	return out
}

// countMessages counts the messages of a mailbox dir: its .md files and
// bundle dirs (book/storage.md).
func countMessages(dir string) int {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		switch {
		case strings.HasPrefix(e.Name(), "."):
		case e.IsDir(), strings.HasSuffix(e.Name(), ".md"):
			n++
		}
	}
	return n
}

// countTree counts the messages of every mailbox of a domain dir.
func countTree(domDir string) int {
	n := 0
	for _, folder := range []string{"inbox", "sent"} {
		entries, err := os.ReadDir(filepath.Join(domDir, folder))
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				n += countMessages(filepath.Join(domDir, folder, e.Name()))
			}
		}
	}
	return n
}
