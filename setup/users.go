package setup

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"os/user"
	"strings"
)

// DefaultCatchallUser owns every domain's catchall setup makes: a system
// user with no login and no home, whose group reads the catchall's mail
// (book/storage.md, book/install.md).
const DefaultCatchallUser = "aimx-catchall"

// Users creates the system user the catchall belongs to. Tests inject a
// fake; the real one runs useradd(8).
type Users interface {
	// Exists reports whether a user of that name exists.
	Exists(name string) (bool, error)
	// CreateSystem creates a system user with its own group, no home and
	// no login shell.
	CreateSystem(ctx context.Context, name string) error
}

// SystemUsers is Users on this host: os/user to look up, useradd(8) to
// create (shadow-utils, on every Debian and Ubuntu).
type SystemUsers struct{}

var _ Users = SystemUsers{}

// Exists looks the name up in the system's user database.
func (SystemUsers) Exists(name string) (bool, error) {
	_, err := user.Lookup(name)
	var unknown user.UnknownUserError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &unknown):
		return false, nil
	}
	return false, fmt.Errorf("look up user %s: %w", name, err)
}

// CreateSystem runs `useradd --system --user-group --no-create-home
// --home-dir /nonexistent --shell /usr/sbin/nologin NAME`.
func (SystemUsers) CreateSystem(ctx context.Context, name string) error {
	out, err := exec.CommandContext(ctx, "useradd", "--system", "--user-group", "--no-create-home",
		"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name).CombinedOutput()
	if err != nil {
		return fmt.Errorf("useradd %s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}
