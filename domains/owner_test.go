package domains

import (
	"errors"
	"os"
	"os/user"
	"slices"
	"strconv"
	"testing"
)

func TestLookupOwnerGroups(t *testing.T) {
	t.Parallel()
	me, err := user.Current()
	if err != nil {
		t.Fatalf("current user: %v", err)
	}
	o, err := LookupOwner(me.Username)
	if err != nil {
		t.Fatalf("LookupOwner(%q): %v", me.Username, err)
	}
	if strconv.Itoa(int(o.UID)) != me.Uid || strconv.Itoa(int(o.GID)) != me.Gid {
		t.Errorf("uid/gid = %d/%d, want %s/%s", o.UID, o.GID, me.Uid, me.Gid)
	}
	if o.Name != me.Username || o.Home != me.HomeDir {
		t.Errorf("name/home = %q/%q, want %q/%q", o.Name, o.Home, me.Username, me.HomeDir)
	}
	if !slices.Contains(o.Groups, uint32(o.GID)) {
		t.Errorf("groups %v lack the primary gid %d", o.Groups, o.GID)
	}
	gids, err := me.GroupIds()
	if err != nil {
		t.Fatalf("group ids: %v", err)
	}
	if len(o.Groups) != len(gids) {
		t.Errorf("groups %v, want %v", o.Groups, gids)
	}

	_, err = LookupOwner("aimx-no-such-user-7f3a")
	var unknown user.UnknownUserError
	if !errors.As(err, &unknown) {
		t.Errorf("unknown owner: err = %v, want user.UnknownUserError", err)
	}
}

func TestLookupOwnerNobody(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/etc/passwd"); err != nil {
		t.Skip("no /etc/passwd")
	}
	o, err := LookupOwner("nobody")
	if err != nil {
		t.Skipf("no nobody account here: %v", err)
	}
	if o.UID != 65534 {
		t.Skipf("nobody is uid %d here", o.UID)
	}
	if slices.Contains(o.Groups, 0) {
		t.Errorf("nobody's groups %v include root's", o.Groups)
	}
}
