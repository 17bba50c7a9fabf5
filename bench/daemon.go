package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// daemonProc is one `aimx serve --dev` run of the real binary on free
// loopback ports, its output in <dir>/daemon.log.
type daemonProc struct {
	cmd     *exec.Cmd
	dir     string
	started time.Time
	log     *os.File
	// Listen holds the bound addresses from run/listen.json
	// (book/configuration.md).
	Listen map[string]string
}

// startDaemon starts the daemon on dir (a dev dir, book/dev-mode.md) and
// returns at once; waitListen says when it has bound its listeners.
func startDaemon(bin, dir string) (*daemonProc, error) {
	if err := os.Remove(filepath.Join(dir, "run", "listen.json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("start daemon: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, "daemon.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start daemon: %w", err)
	}
	cmd := exec.Command(bin, "serve", "--dev", "--dir", dir, "--smtp", "127.0.0.1:0", "--mcp-http", "127.0.0.1:0")
	cmd.Stdout, cmd.Stderr = logf, logf
	d := &daemonProc{cmd: cmd, dir: dir, log: logf, started: time.Now()}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start daemon: %w", err)
	}
	return d, nil
}

// waitListen polls listen.json until the SMTP and MCP HTTP addresses are
// there and returns how long after the start that was.
func (d *daemonProc) waitListen(timeout time.Duration) (time.Duration, error) {
	path := filepath.Join(d.dir, "run", "listen.json")
	deadline := d.started.Add(timeout)
	for time.Now().Before(deadline) {
		var m map[string]string
		if data, err := os.ReadFile(path); err == nil && json.Unmarshal(data, &m) == nil && m["smtp"] != "" && m["mcp_http"] != "" {
			d.Listen = m
			return time.Since(d.started), nil
		}
		if d.cmd.ProcessState != nil {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	return 0, fmt.Errorf("daemon not listening after %v (see %s)", timeout, d.log.Name())
}

// token is the dev dir's MCP bearer token.
func (d *daemonProc) token() (string, error) {
	b, err := os.ReadFile(filepath.Join(d.dir, "mcp-token"))
	if err != nil {
		return "", fmt.Errorf("dev token: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// stop sends SIGTERM (a graceful stop) and waits; past timeout it kills.
func (d *daemonProc) stop(timeout time.Duration) error {
	defer d.log.Close()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop daemon: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("daemon exit: %w (see %s)", err, d.log.Name())
		}
		return nil
	case <-time.After(timeout):
		_ = d.cmd.Process.Kill()
		<-done
		return fmt.Errorf("daemon did not stop within %v; killed", timeout)
	}
}

// memory is the daemon's resident set now and at its peak, in kB
// (VmRSS and VmHWM of /proc/<pid>/status, proc(5)).
func (d *daemonProc) memory() (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		return 0, 0, fmt.Errorf("daemon memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm, sc.Err()
}

// cpuTicks is the daemon's user plus system time so far, in clock ticks
// (fields 14 and 15 of /proc/<pid>/stat, proc(5)).
func (d *daemonProc) cpuTicks() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", d.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("daemon cpu: %w", err)
	}
	// The command name (field 2) may hold spaces; count from its ')'.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("daemon cpu: short /proc stat")
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s, nil
}

// waitIdle returns once the daemon used almost no CPU for a while (its
// background work, such as the index warm-up, is over), or at timeout.
func (d *daemonProc) waitIdle(timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	prev, err := d.cpuTicks()
	if err != nil {
		return 0, err
	}
	quiet := 0
	for time.Since(start) < timeout {
		time.Sleep(250 * time.Millisecond)
		now, err := d.cpuTicks()
		if err != nil {
			return 0, err
		}
		if now-prev <= 2 { // at most 20 ms of CPU in 250 ms
			quiet++
		} else {
			quiet = 0
		}
		prev = now
		if quiet >= 4 {
			return time.Since(start) - time.Second, nil
		}
	}
	return time.Since(start), fmt.Errorf("daemon still busy after %v", timeout)
}
