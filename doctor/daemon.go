package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/aimx-dev/aimx/domains/admin"
)

// The names of the daemon checks (book/doctor.md).
const (
	CheckDaemon   = "daemon"
	CheckVersion  = "version"
	CheckSMTP     = "smtp"
	CheckQueue    = "queue"
	CheckHookJobs = "hook_jobs"
	CheckPanics   = "panics"
)

// BacklogWarn is the queue or hook backlog from which doctor warns.
const BacklogWarn = 100

// daemon asks the daemon for its status (`GET /v1/status`, book/admin.md)
// and checks that its SMTP listener answers.
func (d *Doctor) daemon(ctx context.Context) Daemon {
	out := Daemon{Checks: []Check{}}
	if d.Status == nil {
		out.Checks = append(out.Checks, warn(CheckDaemon, "the daemon was not asked", "run aimx doctor as root"))
		return out
	}
	st, err := d.Status(ctx)
	switch {
	case errors.Is(err, admin.ErrDaemonDown):
		out.Checks = append(out.Checks, fail(CheckDaemon, "the daemon is not running: nothing answers on "+admin.SocketName+" in "+d.Paths.RuntimeDir,
			"start it: systemctl start aimx (aimx logs says why it stopped)"))
		return out
	case errors.Is(err, admin.ErrNotOperator):
		out.Checks = append(out.Checks, fail(CheckDaemon, "admin.sock refused this user", "run aimx doctor as root (sudo aimx doctor)"))
		return out
	case err != nil:
		out.Checks = append(out.Checks, fail(CheckDaemon, "asking the daemon for its status: "+err.Error(),
			"run aimx doctor as root; if it keeps failing, restart aimx (systemctl restart aimx)"))
		return out
	}
	out.Running, out.Version, out.UptimeSecs = true, st.Version, st.UptimeSecs
	out.Queue, out.HookJobs, out.Panics = st.Queue, st.HookJobs, st.Panics
	up := (time.Duration(st.UptimeSecs) * time.Second).String()
	out.Checks = append(out.Checks, ok(CheckDaemon, fmt.Sprintf("running %s, up %s, %d domains, %d mailboxes; listening: %s",
		st.Version, up, len(st.Domains), st.Mailboxes, listeners(st.Listeners))))
	if d.Version != "" && st.Version != d.Version {
		out.Checks = append(out.Checks, warn(CheckVersion, "the daemon runs "+st.Version+", this aimx is "+d.Version,
			"restart it to run the installed version: systemctl restart aimx"))
	}
	out.Checks = append(out.Checks, d.smtpCheck(ctx, st.Listeners["smtp"]))
	out.Checks = append(out.Checks, backlog(CheckQueue, st.Queue, "outgoing messages wait for delivery",
		"see why in aimx logs: receivers may be refusing this host (check ptr, spf and dkim_record above), or port 25 out is blocked ([outbound] relay)"))
	out.Checks = append(out.Checks, backlog(CheckHookJobs, st.HookJobs, "hook jobs are queued or running",
		"see which hooks are slow in aimx logs; raise [hooks] workers, or fix the hook that hangs (book/hooks.md)"))
	if st.Panics > 0 {
		out.Checks = append(out.Checks, warn(CheckPanics, fmt.Sprintf("the daemon recovered %d panics since it started", st.Panics),
			"each is a bug: report it with its stack from aimx logs"))
	} else {
		out.Checks = append(out.Checks, ok(CheckPanics, "no panics"))
	}
	return out
}

// backlog is OK below BacklogWarn and a WARN from it.
func backlog(check string, n int, what, fix string) Check {
	detail := fmt.Sprintf("%d %s", n, what)
	if n >= BacklogWarn {
		return warn(check, detail, fix)
	}
	return ok(check, detail)
}

// smtpCheck reads the SMTP greeting on the bound address (a wildcard
// address is reached on loopback).
func (d *Doctor) smtpCheck(ctx context.Context, bound string) Check {
	if bound == "" {
		return fail(CheckSMTP, "the daemon has no SMTP listener", "check [smtp] listen in config.toml and aimx logs")
	}
	if d.Network == nil {
		return ok(CheckSMTP, "listening on "+bound)
	}
	addr := dialable(bound)
	g, err := d.Network.Greeting(ctx, addr)
	if err != nil {
		return fail(CheckSMTP, "no SMTP greeting on "+addr+": "+err.Error(), "see aimx logs; check that no firewall on this host drops port 25")
	}
	return ok(CheckSMTP, addr+" answers "+g)
}

// dialable turns a listen address into one to connect to.
func dialable(bound string) string {
	host, port, err := net.SplitHostPort(bound)
	if err != nil {
		return bound
	}
	// Go listens on both families for "[::]" and "": loopback IPv4
	// reaches either.
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// listeners is "admin=..., smtp=...", sorted.
func listeners(m map[string]string) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + " " + m[n]
	}
	return strings.Join(parts, ", ")
}
