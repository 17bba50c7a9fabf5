package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/aimx-dev/aimx/internal/sdnotify"
)

// announceReady is the end of the daemon's ready callback, which runs
// once every listener is bound and listen.json is written: /healthz starts
// answering 200 and systemd gets READY=1 with a STATUS= line
// (sd_notify(3); systemd.service(5), "Type=notify").
func (a *app) announceReady(n sdnotify.Notifier, sm *serveMetrics, domains []string, bound map[string]string) {
	sm.setReady(true)
	if err := n.Notify(sdnotify.Ready, sdnotify.Status(readyStatus(domains, bound))); err != nil {
		a.log.Warn().Err(err).Msg("could not tell systemd the daemon is ready")
	}
}

// watchStop tells systemd (STOPPING=1) and /healthz (503) that the daemon
// is stopping as soon as a shutdown begins, before listeners and
// components are stopped (sd_notify(3)). The returned func ends the watch.
func watchStop(a *app, n sdnotify.Notifier, sm *serveMetrics) func() {
	done := make(chan struct{})
	go func() {
		select {
		case <-a.ctx.Done():
			sm.setReady(false)
			if err := n.Notify(sdnotify.Stopping, sdnotify.Status("stopping")); err != nil {
				a.log.Warn().Err(err).Msg("could not tell systemd the daemon is stopping")
			}
		case <-done:
		}
	}()
	return func() { close(done) }
}

// readyStatus is the STATUS= line `systemctl status aimx` shows once the
// daemon serves: its domains and every bound listener.
func readyStatus(domains []string, bound map[string]string) string {
	names := make([]string, 0, len(bound))
	for n := range bound {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + " " + bound[n]
	}
	return fmt.Sprintf("serving %s; %s", strings.Join(domains, ", "), strings.Join(parts, ", "))
}
