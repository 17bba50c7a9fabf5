// Command hookslatency measures how soon on_receive hooks start after the
// SMTP 250 when many messages arrive at once (the Hooks issue benchmark):
// it runs `aimx serve --dev` with one mailbox whose hook records the time
// it started, delivers N messages over N concurrent SMTP connections, and
// prints the p50, p99 and max of (hook start − 250 received).
//
//	go build -o /tmp/aimx ./cmd/aimx
//	go run ./bench/hookslatency -aimx /tmp/aimx -n 100 -workers 4
//
// It only talks to 127.0.0.1 and stops by itself.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"time"

	"github.com/aimx-dev/aimx/bench/hookstart"
)

func main() {
	bin := flag.String("aimx", "", "path to the aimx binary (required)")
	n := flag.Int("n", 100, "messages delivered at once")
	workers := flag.Int("workers", 4, "[hooks] workers")
	flag.Parse()
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "usage: hookslatency -aimx PATH [-n 100] [-workers 4]")
		os.Exit(2)
	}
	if err := run(*bin, *n, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "hookslatency:", err)
		os.Exit(1)
	}
}

func run(bin string, n, workers int) error {
	dir, err := os.MkdirTemp("", "axb")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	u, err := user.Current()
	if err != nil {
		return err
	}
	log := filepath.Join(dir, "starts")
	// bash's $EPOCHREALTIME: no extra process between exec and the stamp.
	cfg := fmt.Sprintf(`domains = ["agent.localhost"]
data_dir = "%[1]s/data"
runtime_dir = "%[1]s/run"

[smtp]
max_connections_per_ip = 1000

[hooks]
workers = %[2]d

[mailboxes."bench@agent.localhost"]
address = "bench@agent.localhost"
owner = "%[3]s"

[[mailboxes."bench@agent.localhost".hooks]]
name = "stamp"
event = "on_receive"
cmd = ["/bin/bash", "-c", "echo \"$AIMX_MESSAGE_ID $EPOCHREALTIME\" >> \"$0\"", "%[4]s"]
fire_on_untrusted = true
`, dir, workers, u.Username, log)
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(cfg), 0o600); err != nil {
		return err
	}
	cmd := exec.Command(bin, "serve", "--dev", "--dir", dir, "--smtp", "127.0.0.1:0", "--mcp-http", "127.0.0.1:0")
	cmd.Stderr = nil
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	addr, err := waitListen(filepath.Join(dir, "run", "listen.json"))
	if err != nil {
		return err
	}

	lat, err := hookstart.Measure(addr, "bench@agent.localhost", log, n)
	if err != nil {
		return err
	}
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Printf("messages %d, workers %d: 250 → hook start p50 %v, p99 %v, max %v (min %v)\n",
		n, workers, pct(0.50).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond), lat[0].Round(time.Millisecond))
	return nil
}

func waitListen(path string) (string, error) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var m map[string]string
		if data, err := os.ReadFile(path); err == nil && json.Unmarshal(data, &m) == nil && m["smtp"] != "" {
			return m["smtp"], nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "", errors.New("aimx serve not ready after 60 s")
}
