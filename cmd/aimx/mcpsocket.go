package main

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/aimx-dev/aimx/mcp"
)

// devDirName is the directory `aimx serve --dev` uses by default, in the
// directory it is started from (book/dev-mode.md).
const devDirName = ".aimx-dev"

// devDialTimeout bounds the look for a dev daemon's socket.
const devDialTimeout = time.Second

// agentSocket is where `aimx mcp` reaches the daemon (book/mcp.md,
// "Agents on this host"): the runtime dir from the flags, the environment
// or config.toml as book/configuration.md says. When none of the path
// flags or variables is given and ./.aimx-dev/run/aimx.sock is a socket of
// this user's that answers (a dev daemon started from this checkout), that
// socket comes first. hint ends the "daemon is not running" answer when no
// path was given, saying how to reach a dev daemon.
func (a *app) agentSocket() (path, hint string) {
	given := a.flagPaths()
	if given.ConfigDir != "" || given.DataDir != "" || given.RuntimeDir != "" {
		return a.agentSocketPath(), ""
	}
	wd, err := os.Getwd()
	if err == nil {
		dev := filepath.Join(wd, devDirName)
		sock := mcp.SocketPath(filepath.Join(dev, "run"))
		if ownSocketAnswers(sock) {
			fmt.Fprintf(a.stderr, "aimx mcp: using the dev daemon at %s (no --config-dir given; %s is in this directory)\n", sock, devDirName)
			return sock, ""
		}
		if fi, err := os.Stat(dev); err == nil && fi.IsDir() {
			return a.agentSocketPath(), fmt.Sprintf("This directory has a dev dir that is not serving: start it with `go run ./cmd/aimx serve --dev`, and pass --config-dir %s to reach it.", dev)
		}
	}
	return a.agentSocketPath(), "For a dev daemon (aimx serve --dev), pass --config-dir with its directory (--config-dir .aimx-dev, run from the checkout)."
}

// ownSocketAnswers reports whether path is a Unix socket owned by this
// user that accepts a connection. A socket file belongs to whoever bound
// it, so another user's daemon (or a trap left in a shared directory) is
// never picked up.
func ownSocketAnswers(path string) bool {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Type() != fs.ModeSocket {
		return false
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Getuid() {
		return false
	}
	c, err := net.DialTimeout("unix", path, devDialTimeout)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}
