package domains

import (
	"fmt"
	"os/user"
	"strconv"
)

// Owner is a resolved Unix account: the user a mailbox belongs to, whose
// group reads its mail (book/storage.md) and as whom its hooks run
// (book/hooks.md). Build it with LookupOwner.
type Owner struct {
	// Name is the login name, used in logs and required so that a zero
	// Owner (uid 0) can never run a hook as root by accident.
	Name     string
	UID, GID int
	// Groups are the supplementary group ids, the primary one included:
	// a hook runs with the owner's own groups.
	Groups []uint32
	// Home becomes a hook's HOME and, when it is a directory, its working
	// directory.
	Home string
}

// LookupOwner resolves a user name through os/user (the system's passwd and
// group sources), supplementary groups included. It is the default of
// LoadOptions.LookupOwner and of every component that needs an owner; an
// owner that does not resolve is an error wrapping user.UnknownUserError.
func LookupOwner(name string) (Owner, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return Owner{}, fmt.Errorf("look up user %s: %w", name, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return Owner{}, fmt.Errorf("look up user %s: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return Owner{}, fmt.Errorf("look up user %s: gid %q: %w", name, u.Gid, err)
	}
	gids, err := u.GroupIds()
	if err != nil {
		return Owner{}, fmt.Errorf("look up groups of user %s: %w", name, err)
	}
	groups := make([]uint32, 0, len(gids))
	for _, g := range gids {
		id, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return Owner{}, fmt.Errorf("look up groups of user %s: gid %q: %w", name, g, err)
		}
		groups = append(groups, uint32(id))
	}
	return Owner{Name: u.Username, UID: uid, GID: gid, Groups: groups, Home: u.HomeDir}, nil
}

// IsOperatorUID reports whether a peer uid is the operator's
// (book/configuration.md, book/admin.md): uid 0, or the daemon's own
// effective uid (in dev mode the daemon runs as the developer, who is
// therefore the operator). Both doors ask it: admin.sock admits only the
// operator, aimx.sock gives the operator's agent every mailbox.
func IsOperatorUID(uid uint32, daemonEUID int) bool {
	return uid == 0 || int64(uid) == int64(daemonEUID)
}
