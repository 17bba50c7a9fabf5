// Package systemd installs and drives aimx's systemd service: it writes
// the unit file, and enables, starts, stops, disables and removes the
// service through systemctl(1). `aimx setup` and `aimx uninstall` use it
// through the Manager interface, so their tests inject a fake and never
// touch the host's init system (book/operations.md).
//
// It shells out to systemctl instead of speaking D-Bus to systemd: the
// commands are few, run once per setup or uninstall, and systemctl is what
// an operator would type, so its errors read the same.
package systemd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/aimx-dev/aimx/internal/safefs"
)

// Defaults for the aimx service.
const (
	// UnitName is the service's unit name (`systemctl status aimx`).
	UnitName = "aimx.service"
	// UnitDir is where a unit installed by the administrator goes
	// (systemd.unit(5), "Unit File Load Path": /etc/systemd/system beats
	// the package manager's /usr/lib/systemd/system).
	UnitDir = "/etc/systemd/system"
	// unitMode is the unit file's permission: readable by all, as
	// systemd-analyze expects, writable by root only.
	unitMode = 0o644
	// maxOutput caps what one systemctl call's output adds to an error.
	maxOutput = 2048
)

// Manager is what setup and uninstall need from the init system. Every
// method is idempotent where systemctl is: enabling an enabled service or
// stopping a stopped one succeeds.
type Manager interface {
	// Booted reports whether the host runs systemd (sd_booted(3)); on a
	// host without it the other methods fail.
	Booted() bool
	// Install writes unit as the service's unit file and reloads systemd
	// so it sees the new file. It replaces an existing unit file.
	Install(ctx context.Context, unit []byte) error
	// Installed reports whether the unit file is in place.
	Installed() (bool, error)
	// Enable makes the service start at boot.
	Enable(ctx context.Context) error
	// Disable stops it starting at boot.
	Disable(ctx context.Context) error
	// Start starts the service and, for a Type=notify unit, waits until
	// it reports ready (or fails).
	Start(ctx context.Context) error
	// Stop stops the service; stopping a stopped service succeeds.
	Stop(ctx context.Context) error
	// Restart stops and starts the service.
	Restart(ctx context.Context) error
	// IsActive reports whether the service is running.
	IsActive(ctx context.Context) (bool, error)
	// Remove deletes the unit file (a missing one is not an error) and
	// reloads systemd.
	Remove(ctx context.Context) error
}

// Runner runs a command and returns its combined output. The error is
// an *exec.ExitError when the command ran and exited non-zero.
type Runner func(ctx context.Context, name string, args ...string) ([]byte, error)

// Exec is the Runner that runs the command for real.
func Exec(ctx context.Context, name string, args ...string) ([]byte, error) {
	return exec.CommandContext(ctx, name, args...).CombinedOutput()
}

// Systemctl is the Manager over systemctl(1). Its zero value manages
// aimx.service in /etc/systemd/system on this host.
type Systemctl struct {
	// Unit is the unit name; empty means UnitName.
	Unit string
	// Dir is the directory the unit file is written to; empty means
	// UnitDir.
	Dir string
	// Run runs systemctl; nil means Exec. Tests record the calls.
	Run Runner
	// BootedPath is the directory whose presence means systemd is PID 1;
	// empty means /run/systemd/system, the test sd_booted(3) makes.
	BootedPath string
}

var _ Manager = (*Systemctl)(nil)

func (s *Systemctl) unit() string {
	if s.Unit == "" {
		return UnitName
	}
	return s.Unit
}

func (s *Systemctl) dir() string {
	if s.Dir == "" {
		return UnitDir
	}
	return s.Dir
}

// Path is the unit file's full path.
func (s *Systemctl) Path() string { return filepath.Join(s.dir(), s.unit()) }

// Booted reports whether systemd is running as the init system: the same
// check as sd_booted(3), whether /run/systemd/system/ exists.
func (s *Systemctl) Booted() bool {
	p := s.BootedPath
	if p == "" {
		p = "/run/systemd/system"
	}
	fi, err := os.Lstat(p)
	return err == nil && fi.IsDir()
}

// Install writes the unit file durably (a temp file, fsync, rename, fsync
// of the directory, as every writer in aimx does: book/architecture.md,
// "Habits") and runs `systemctl daemon-reload`.
func (s *Systemctl) Install(ctx context.Context, unit []byte) error {
	if err := writeDurably(s.dir(), s.unit(), unit); err != nil {
		return err
	}
	return s.systemctl(ctx, "daemon-reload")
}

// Installed reports whether the unit file exists.
func (s *Systemctl) Installed() (bool, error) {
	_, err := os.Lstat(s.Path())
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check unit file: %w", err)
	}
	return true, nil
}

// Enable runs `systemctl enable`.
func (s *Systemctl) Enable(ctx context.Context) error { return s.systemctl(ctx, "enable", s.unit()) }

// Disable runs `systemctl disable`.
func (s *Systemctl) Disable(ctx context.Context) error {
	return s.systemctl(ctx, "disable", s.unit())
}

// Start runs `systemctl start`, which for Type=notify returns once the
// daemon sent READY=1 (systemd.service(5), "Type=").
func (s *Systemctl) Start(ctx context.Context) error { return s.systemctl(ctx, "start", s.unit()) }

// Stop runs `systemctl stop`.
func (s *Systemctl) Stop(ctx context.Context) error { return s.systemctl(ctx, "stop", s.unit()) }

// Restart runs `systemctl restart`.
func (s *Systemctl) Restart(ctx context.Context) error {
	return s.systemctl(ctx, "restart", s.unit())
}

// IsActive runs `systemctl is-active --quiet`: exit 0 means active, any
// other exit status means not active (systemctl(1), "is-active").
func (s *Systemctl) IsActive(ctx context.Context) (bool, error) {
	_, err := s.run()(ctx, "systemctl", "is-active", "--quiet", s.unit())
	if err == nil {
		return true, nil
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return false, nil
	}
	return false, fmt.Errorf("systemctl is-active %s: %w", s.unit(), err)
}

// Remove deletes the unit file, runs `systemctl daemon-reload` and
// clears a failed state systemd may keep for the unit.
func (s *Systemctl) Remove(ctx context.Context) error {
	d, err := safefs.OpenDir(s.dir())
	if err != nil {
		return fmt.Errorf("open unit dir: %w", err)
	}
	defer d.Close()
	if err := d.Remove(s.unit()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove unit file: %w", err)
	}
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync unit dir: %w", err)
	}
	if err := s.systemctl(ctx, "daemon-reload"); err != nil {
		return err
	}
	// reset-failed fails for a unit systemd no longer knows; that is the
	// state wanted, so its error is not one.
	_, _ = s.run()(ctx, "systemctl", "reset-failed", s.unit())
	return nil
}

func (s *Systemctl) run() Runner {
	if s.Run == nil {
		return Exec
	}
	return s.Run
}

// systemctl runs one systemctl command and wraps its failure with what
// systemctl printed.
func (s *Systemctl) systemctl(ctx context.Context, args ...string) error {
	out, err := s.run()(ctx, "systemctl", args...)
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if len(msg) > maxOutput {
			msg = msg[:maxOutput] + "..."
		}
		if msg != "" {
			return fmt.Errorf("systemctl %s: %w: %s", strings.Join(args, " "), err, msg)
		}
		return fmt.Errorf("systemctl %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// writeDurably writes data to dir/name through a temp file that is
// fsynced and renamed over name, then fsyncs dir, so a crash leaves the
// old unit or the new one, never half of one.
func writeDurably(dir, name string, data []byte) error {
	d, err := safefs.MkdirAll(dir, 0o755)
	if err != nil {
		return fmt.Errorf("unit dir %s: %w", dir, err)
	}
	defer d.Close()
	tmp := "." + name + ".tmp"
	_ = d.Remove(tmp) // a leftover of a crashed install
	f, err := d.Create(tmp, unitMode, nil)
	if err != nil {
		return fmt.Errorf("write unit file: %w", err)
	}
	_, werr := bytes.NewReader(data).WriteTo(f)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = d.Rename(tmp, d, name)
	}
	if werr != nil {
		_ = d.Remove(tmp)
		return fmt.Errorf("write unit file %s: %w", filepath.Join(dir, name), werr)
	}
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync unit dir: %w", err)
	}
	return nil
}
