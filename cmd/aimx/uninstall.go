package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aimx-dev/aimx/daemon"
	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/safefs"
	"github.com/aimx-dev/aimx/internal/systemd"
	"github.com/aimx-dev/aimx/storage"
)

// uninstallFlags are the flags of `aimx uninstall`.
type uninstallFlags struct {
	purge bool
	yes   bool
}

// uninstallEnv is what `aimx uninstall` needs from the host; tests inject
// a fake service manager, an effective uid and temp dirs.
type uninstallEnv struct {
	// euid is the effective uid: uninstall runs as root only.
	euid int
	// manager drives the systemd service.
	manager systemd.Manager
	// unitPath names the unit file in the report.
	unitPath string
	// paths are the config, data and runtime dirs.
	paths domains.Paths
	// tls are the configured certificate and key files, if any.
	tls []string
	// binary is the running aimx binary, which stays.
	binary string
	// running returns the pid of a daemon holding the runtime dir's pid
	// file (daemon.ReadPID), an error when none does.
	running func(runtimeDir string) (int, error)
	// confirm asks the operator to confirm a purge; nil when nobody can
	// be asked (no terminal, AIMX_NONINTERACTIVE=1).
	confirm func(prompt string) bool
}

// uninstallCommand is `aimx uninstall [--purge]`.
func (a *app) uninstallCommand() *cobra.Command {
	var f uninstallFlags
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Stop and remove the aimx service; keep mail, config and keys unless --purge",
		Long: "Stop the aimx service, disable it and remove its systemd unit. Mail, config.toml, DKIM keys\n" +
			"and tokens stay where they are, and the command says where; `aimx setup` later picks them up\n" +
			"again. With --purge it deletes the config, data and runtime directories too: every mailbox's\n" +
			"mail, the DKIM keys (so the published DKIM records stop matching anything), the tokens and the\n" +
			"queue. --purge asks for confirmation on a terminal; --yes confirms it in advance.\n\n" +
			"Runs as root. The aimx binary, the mailbox owners' accounts and your DNS records are left alone.",
		Args: exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			return a.uninstall(f, a.hostUninstallEnv())
		},
	}
	cmd.Flags().BoolVar(&f.purge, "purge", false, "also delete the config, data and runtime directories (all mail, keys and tokens)")
	cmd.Flags().BoolVar(&f.yes, "yes", false, "with --purge: do not ask for confirmation")
	return cmd
}

// hostUninstallEnv is the real host: systemctl, the resolved directories
// (a config that does not load still names its dirs as far as it can).
func (a *app) hostUninstallEnv() uninstallEnv {
	sc := &systemd.Systemctl{}
	env := uninstallEnv{euid: os.Geteuid(), manager: sc, unitPath: sc.Path(), paths: a.clientPaths(), running: daemon.ReadPID}
	if cfg, err := domains.Load(env.paths.ConfigFile(), domains.LoadOptions{}); err == nil {
		for _, p := range []string{cfg.SMTP.TLSCert, cfg.SMTP.TLSKey} {
			if p != "" {
				env.tls = append(env.tls, p)
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		env.binary = exe
	}
	if isTerminal(a.stdout) && a.env["AIMX_NONINTERACTIVE"] != "1" {
		if f, ok := a.stdin.(*os.File); ok && isTerminal(f) {
			in := bufio.NewReader(f)
			env.confirm = func(prompt string) bool {
				fmt.Fprint(a.stdout, prompt)
				line, err := in.ReadString('\n')
				return err == nil && strings.TrimSpace(line) == "purge"
			}
		}
	}
	return env
}

// uninstall removes the service and, with --purge, aimx's directories.
func (a *app) uninstall(f uninstallFlags, env uninstallEnv) error {
	if env.euid != 0 {
		return errors.New("aimx uninstall changes systemd units and system directories: run it as root (sudo aimx uninstall)")
	}
	if f.yes && !f.purge {
		return usageError{errors.New("--yes confirms --purge; without --purge nothing is deleted, so there is nothing to confirm")}
	}
	var targets []purgeTarget
	if f.purge {
		var err error
		if targets, err = purgeTargets(env.paths); err != nil {
			return err
		}
		if !f.yes {
			if env.confirm == nil {
				return usageError{errors.New("--purge deletes all mail, DKIM keys and tokens; add --yes to confirm (nobody is at a terminal to ask)")}
			}
			var b strings.Builder
			b.WriteString("This deletes, for good:\n")
			for _, t := range targets {
				fmt.Fprintf(&b, "  %-15s %s\n", t.path, t.what)
			}
			b.WriteString("Type purge to confirm: ")
			if !env.confirm(b.String()) {
				return errors.New("not confirmed; nothing was changed")
			}
		}
	}
	if err := a.removeService(env); err != nil {
		return err
	}
	if f.purge {
		// The service is stopped, but a daemon started by hand would keep
		// writing into what is deleted.
		if pid, err := env.running(env.paths.RuntimeDir); err == nil {
			return fmt.Errorf("an aimx daemon (pid %d) still runs on %s; stop it, then run aimx uninstall --purge again", pid, env.paths.RuntimeDir)
		}
		return a.purge(env, targets)
	}
	a.printKept(env)
	return nil
}

// removeService stops, disables and removes the systemd service, saying
// what it did; a host without systemd or without the unit is reported.
func (a *app) removeService(env uninstallEnv) error {
	ctx := a.ctx
	m := env.manager
	if !m.Booted() {
		fmt.Fprintln(a.stdout, "systemd is not running on this host: no service to stop or remove.")
		return nil
	}
	installed, err := m.Installed()
	if err != nil {
		return err
	}
	if !installed {
		// A unit may still be loaded from elsewhere (a package's
		// /usr/lib/systemd/system); stop it all the same.
		if active, aerr := m.IsActive(ctx); aerr == nil && active {
			if err := m.Stop(ctx); err != nil {
				return fmt.Errorf("stop the aimx service: %w", err)
			}
			fmt.Fprintf(a.stdout, "Stopped %s.\n", systemd.UnitName)
		}
		fmt.Fprintf(a.stdout, "No %s to remove.\n", env.unitPath)
		return nil
	}
	steps := []struct {
		do   func(context.Context) error
		verb string
	}{
		{m.Stop, "Stopped " + systemd.UnitName},
		{m.Disable, "Disabled " + systemd.UnitName + " (it no longer starts at boot)"},
		{m.Remove, "Removed " + env.unitPath},
	}
	for _, s := range steps {
		if err := s.do(ctx); err != nil {
			return fmt.Errorf("uninstall the aimx service: %w", err)
		}
		fmt.Fprintln(a.stdout, s.verb+".")
	}
	return nil
}

// purgeTarget is one directory --purge deletes.
type purgeTarget struct {
	path, what string
	// marks are entries one of which an aimx directory of this kind holds
	// (an empty directory is aimx's too).
	marks []string
}

// purgeTargets lists the directories --purge deletes, data first and the
// config dir last, and refuses, before anything is deleted, a path that is
// not clearly aimx's own.
func purgeTargets(p domains.Paths) ([]purgeTarget, error) {
	all := []purgeTarget{
		{p.DataDir, "mail, hook state, the outbound queue", []string{storage.LayoutMarkerName, ".spool"}},
		{p.RuntimeDir, "sockets, pid file", []string{"aimx.pid", "aimx.sock", "admin.sock", "listen.json"}},
		{p.ConfigDir, "config.toml, DKIM keys, tokens", []string{domains.ConfigFileName, "dkim", "tokens.json"}},
	}
	var out []purgeTarget
	for _, t := range all {
		if err := purgeable(t.path); err != nil {
			return nil, err
		}
		if err := looksLikeAimx(t); err != nil {
			return nil, err
		}
		dup := false
		for _, o := range out {
			dup = dup || o.path == t.path
		}
		if !dup {
			out = append(out, t)
		}
	}
	return out, nil
}

// systemDir reports whether path is a directory --purge never deletes,
// whatever the config says (the top-level ones are refused by depth).
func systemDir(path string) bool {
	switch path {
	case "/var/lib", "/var/tmp", "/var/run", "/var/spool", "/var/mail", "/var/log", "/usr/local", "/usr/lib", "/usr/share":
		return true
	}
	return false
}

// purgeable refuses a path --purge must not delete: not absolute, not
// clean, the root or a top-level directory, or a well-known system dir.
func purgeable(path string) error {
	switch {
	case path == "" || !filepath.IsAbs(path) || filepath.Clean(path) != path:
		return fmt.Errorf("refusing to purge %q: not an absolute, clean path", path)
	case filepath.Dir(path) == "/" || path == "/" || systemDir(path):
		return fmt.Errorf("refusing to purge %s: the root, a top-level or a system directory is never aimx's own; delete what you mean by hand", path)
	}
	return nil
}

// looksLikeAimx refuses a directory that holds none of t's marks: a
// config pointing data_dir at /home, say, must not cost anyone their home.
// A missing or empty directory passes.
func looksLikeAimx(t purgeTarget) error {
	d, err := safefs.OpenDir(t.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("purge %s: %w", t.path, err)
	}
	defer d.Close()
	names, err := d.Names()
	if err != nil {
		return fmt.Errorf("purge %s: %w", t.path, err)
	}
	if len(names) == 0 {
		return nil
	}
	for _, n := range names {
		for _, m := range t.marks {
			if n.Name() == m {
				return nil
			}
		}
	}
	return fmt.Errorf("refusing to purge %s: it holds none of %s, so it may not be aimx's; nothing was deleted",
		t.path, strings.Join(t.marks, ", "))
}

// purge deletes each target through the traversal-safe layer (no symlink
// below it is followed, book/security.md) and says what went.
func (a *app) purge(env uninstallEnv, targets []purgeTarget) error {
	for _, t := range targets {
		parent, err := safefs.OpenDir(filepath.Dir(t.path))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("purge %s: %w", t.path, err)
		}
		if _, err := parent.Lstat(filepath.Base(t.path)); errors.Is(err, os.ErrNotExist) {
			parent.Close()
			fmt.Fprintf(a.stdout, "Not there: %s\n", t.path)
			continue
		}
		n, err := parent.RemoveAll(filepath.Base(t.path))
		serr := parent.Sync()
		parent.Close()
		if err != nil {
			return fmt.Errorf("purge %s (%d files deleted before the error): %w", t.path, n, err)
		}
		if serr != nil {
			return fmt.Errorf("purge %s: sync: %w", t.path, serr)
		}
		fmt.Fprintf(a.stdout, "Deleted %s (%s; %d files).\n", t.path, t.what, n)
	}
	a.printLeft(env, true)
	return nil
}

// printKept says what uninstall kept, and where.
func (a *app) printKept(env uninstallEnv) {
	p := env.paths
	fmt.Fprintln(a.stdout, "Kept (aimx uninstall --purge deletes them):")
	fmt.Fprintf(a.stdout, "  %-32s %s\n", "config.toml, DKIM keys, tokens", p.ConfigDir)
	fmt.Fprintf(a.stdout, "  %-32s %s\n", "mail, hook state, outbound queue", p.DataDir)
	a.printLeft(env, false)
}

// printLeft names what aimx never removes.
func (a *app) printLeft(env uninstallEnv, purged bool) {
	var left []string
	for _, f := range env.tls {
		if !purged || !within(f, env.paths.ConfigDir) {
			left = append(left, "the TLS file "+f)
		}
	}
	if env.binary != "" {
		left = append(left, "the aimx binary "+env.binary)
	}
	left = append(left, "the mailbox owners' system accounts", "the DNS records you published",
		"agent configurations (aimx agents remove <agent> removes them)")
	fmt.Fprintf(a.stdout, "Left in place: %s.\n", strings.Join(left, "; "))
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}
