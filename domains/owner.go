package domains

import (
	"fmt"
	"os/user"
	"strconv"
)

// Owner is a resolved Unix account: the user a mailbox belongs to and its
// hooks run as.
type Owner struct {
	Name     string
	UID, GID int
	Home     string
}

// LookupOwner resolves a user name through os/user (the system's passwd
// sources). It is the default of LoadOptions.LookupOwner.
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
	return Owner{Name: u.Username, UID: uid, GID: gid, Home: u.HomeDir}, nil
}

// IsOperatorUID reports whether a peer uid is the operator's
// (book/configuration.md, book/admin.md): uid 0, or the daemon's own
// effective uid (in dev mode the daemon runs as the developer, who is
// therefore the operator). Both doors ask it: admin.sock admits only the
// operator, aimx.sock gives the operator's agent every mailbox.
func IsOperatorUID(uid uint32, daemonEUID int) bool {
	return uid == 0 || int64(uid) == int64(daemonEUID)
}
