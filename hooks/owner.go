package hooks

import (
	"fmt"
	"os/user"
	"strconv"
)

// LookupOwner resolves a mailbox owner's login name into the identity a hook
// runs as: uid, primary gid, every supplementary group and home directory
// (book/hooks.md: "setuid/setgid with the owner's supplementary groups"). An owner
// that no longer resolves is an error wrapping user.UnknownUserError; the
// caller skips that owner's hooks and logs it (book/configuration.md).
func LookupOwner(name string) (Owner, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return Owner{}, fmt.Errorf("look up hook owner %q: %w", name, err)
	}
	uid, err := parseID(u.Uid)
	if err != nil {
		return Owner{}, fmt.Errorf("look up hook owner %q: uid: %w", name, err)
	}
	gid, err := parseID(u.Gid)
	if err != nil {
		return Owner{}, fmt.Errorf("look up hook owner %q: gid: %w", name, err)
	}
	gids, err := u.GroupIds()
	if err != nil {
		return Owner{}, fmt.Errorf("look up groups of hook owner %q: %w", name, err)
	}
	groups := make([]uint32, 0, len(gids))
	for _, g := range gids {
		id, err := parseID(g)
		if err != nil {
			return Owner{}, fmt.Errorf("look up groups of hook owner %q: %w", name, err)
		}
		groups = append(groups, id)
	}
	return Owner{Name: u.Username, UID: uid, GID: gid, Groups: groups, Home: u.HomeDir}, nil
}

func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("parse id %q: %w", s, err)
	}
	return uint32(n), nil
}
