package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// pidFile is the daemon's aimx.pid, held under an exclusive flock for the
// daemon's whole life. The kernel drops the lock when the process dies, so a
// file left by a crash is recognised as stale and taken over, while a live
// daemon's lock makes a second start fail (book/admin.md).
type pidFile struct {
	path string
	f    *os.File
}

// ErrAlreadyRunning reports that a live daemon holds the pid file.
var ErrAlreadyRunning = errors.New("aimx daemon already running")

func acquirePIDFile(path string) (*pidFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open pid file %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		old, _ := os.ReadFile(path) // for the message only
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (pid %s, %s): stop it first", ErrAlreadyRunning, bytes.TrimSpace(old), path)
		}
		return nil, fmt.Errorf("lock pid file %s: %w", path, err)
	}
	// A daemon that was exiting may have unlinked the file we locked; then
	// the lock guards nothing and a fresh file must be taken instead.
	var held, current unix.Stat_t
	if unix.Fstat(int(f.Fd()), &held) == nil && (unix.Stat(path, &current) != nil || held.Ino != current.Ino) {
		_ = f.Close()
		return acquirePIDFile(path)
	}
	// We hold the lock: whatever the file says is a dead daemon's pid.
	if err := f.Truncate(0); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("truncate pid file %s: %w", path, err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("write pid file %s: %w", path, err)
	}
	return &pidFile{path: path, f: f}, nil
}

// release removes the pid file and drops the lock.
func (p *pidFile) release() {
	_ = os.Remove(p.path) // removed while locked, so no other daemon races us
	_ = p.f.Close()
}

// ReadPID returns the pid recorded in a runtime dir's aimx.pid if a live
// daemon holds it, for commands that signal the daemon (SIGHUP after a CLI
// config change).
func ReadPID(runtimeDir string) (int, error) {
	path := runtimeDir + "/aimx.pid"
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read pid file: %w", err)
	}
	defer f.Close()
	// A lock we can take means no daemon holds it.
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err == nil {
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		return 0, fmt.Errorf("no daemon is running (stale %s)", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read pid file: %w", err)
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(data)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s holds %q", path, data)
	}
	return pid, nil
}
