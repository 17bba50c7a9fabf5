package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Targets of the sending phase (bench/README.md, "Sending").
const (
	sendRate     = 500.0
	sendP99      = 100 * time.Millisecond
	rssSendMaxKB = 60_000 * 1000 / 1024
)

// The sending mailbox and the domain of the sink's recipients: not one of
// ours, so every recipient goes through the relay.
const (
	sendBox    = "sender"
	sinkDomain = "sink.example.test"
	// sendWait is `[outbound] send_wait` for the phase: long enough that
	// every email_send call is answered after its first delivery round.
	sendWait = "30s"
)

// send measures email_send against a loopback relay sink: signed
// deliveries per second with 1 and 10 recipients, submission to `250` at
// the sink, and the daemon's memory.
func (s *session) send(ctx context.Context) error {
	sk, err := startSink()
	if err != nil {
		return fmt.Errorf("send: sink: %w", err)
	}
	defer sk.close()
	dev := filepath.Join(s.tmp, "send")
	if err := writeSendConfig(dev, s.owner, sk.addr()); err != nil {
		return err
	}
	progress("send: starting the daemon, relay smtp://%s", sk.addr())
	d, err := startDaemon(s.bin, dev)
	if err != nil {
		return err
	}
	defer func() { _ = d.stop(60 * time.Second) }()
	if _, err := d.waitListen(120 * time.Second); err != nil {
		return err
	}
	if _, err := d.waitIdle(30 * time.Second); err != nil {
		return err
	}
	tok, err := d.token()
	if err != nil {
		return err
	}
	const maxCallers = 10
	conns := make([]*mcpConn, maxCallers)
	for i := range conns {
		if conns[i], err = dialMCP(ctx, d.Listen["mcp_http"], tok); err != nil {
			return err
		}
		defer conns[i].close()
	}
	// Warm-up, not timed: the relay connections, the key, the sent folder.
	if _, err := runSendLoad(ctx, d, conns, sk, "warm", 20, maxCallers, 1); err != nil {
		return err
	}
	var one [2]sendLoadResult
	for k, c := range []int{1, maxCallers} {
		progress("send: %d messages, 1 recipient, %d callers", s.o.Send[k], c)
		if one[k], err = runSendLoad(ctx, d, conns[:c], sk, fmt.Sprintf("one-c%d", c), s.o.Send[k], c, 1); err != nil {
			return err
		}
	}
	best := one[0]
	if one[1].rate() > best.rate() {
		best = one[1]
	}
	progress("send: %d messages, 10 recipients, %d callers", s.o.Send[2], best.Callers)
	ten, err := runSendLoad(ctx, d, conns[:best.Callers], sk, "ten", s.o.Send[2], best.Callers, 10)
	if err != nil {
		return err
	}
	_, peak, err := d.memory()
	if err != nil {
		return err
	}
	for _, r := range one {
		name := fmt.Sprintf("email_send → relay, 1 rcpt, 4 KiB, C=%d (%d msgs)", r.Callers, r.N)
		if r.Callers == best.Callers {
			s.add(check(name, r.figure(), "≥ 500 msg/s, p99 < 100 ms", r.rate() >= sendRate && r.p99() < sendP99))
		} else {
			s.add(check(name, r.figure(), "p99 < 100 ms", r.p99() < sendP99))
		}
	}
	s.add(info(fmt.Sprintf("email_send → relay, 10 rcpts, 4 KiB, C=%d (%d msgs)", ten.Callers, ten.N),
		fmt.Sprintf("%.0f msg/s = %.0f rcpt/s, p50 %s, p99 %s", ten.rate(), ten.rate()*10, ms(ten.Lat.percentile(0.5)), ms(ten.p99()))),
		check("RSS peak during sending", mb(peak), "< 60 MB", peak < rssSendMaxKB))
	s.note("Sending: `email_send` over MCP HTTP from C concurrent sessions, 4 KiB text_only body, RSA-2048 DKIM, fsync on, relayed to an in-process go-smtp sink on loopback; `[outbound] send_wait = %q`, so each call is answered after its first delivery round and the rate is messages delivered at the sink per second of wall time. Latency is from before the call to the sink's `250` after DATA.", sendWait)
	for _, r := range append(one[:], ten) {
		s.note("%s: daemon CPU %.1f ms/msg (%.1f user, %.1f system), bench process (MCP clients and sink) %.1f ms/msg, machine busy %.2f of %d CPUs; call answered p50 %s / p99 %s.",
			r.label(), r.DaemonUser+r.DaemonSys, r.DaemonUser, r.DaemonSys, r.BenchCPU, r.Busy, runtime.NumCPU(),
			ms(r.Call.percentile(0.5)), ms(r.Call.percentile(0.99)))
	}
	return nil
}

// writeSendConfig writes the sending phase's dev dir config: one mailbox
// that sends, the sink as `[outbound] relay` (smtp:// on loopback needs no
// TLS), and send_wait. The dev mode seeds the DKIM key (RSA-2048).
func writeSendConfig(dir, owner, relay string) error {
	name := sendBox + "@" + benchDomain
	conf := fmt.Sprintf("domains = [%q]\ndata_dir = %q\nruntime_dir = %q\n\n[outbound]\nrelay = %q\nsend_wait = %q\n\n[mailboxes.%q]\naddress = %q\nowner = %q\n",
		benchDomain, filepath.Join(dir, "data"), filepath.Join(dir, "run"), "smtp://"+relay, sendWait, name, name, owner)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("send config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(conf), 0o600); err != nil {
		return fmt.Errorf("send config: %w", err)
	}
	return nil
}

// sendLoadResult is one sending load.
type sendLoadResult struct {
	N, Callers, Rcpts int
	Elapsed           time.Duration // first call made to last call answered
	Lat               latencies     // before the call to the sink's 250
	Call              latencies     // the call's own duration
	// DaemonUser, DaemonSys and BenchCPU are CPU per message, in ms.
	DaemonUser, DaemonSys, BenchCPU float64
	// Busy is the machine's CPU in use during the load (all processes),
	// in CPUs.
	Busy float64
}

func (r sendLoadResult) rate() float64      { return float64(r.N) / r.Elapsed.Seconds() }
func (r sendLoadResult) p99() time.Duration { return r.Lat.percentile(0.99) }
func (r sendLoadResult) label() string      { return fmt.Sprintf("%d rcpt, C=%d", r.Rcpts, r.Callers) }
func (r sendLoadResult) figure() string {
	return fmt.Sprintf("%.0f msg/s, p50 %s, p99 %s", r.rate(), ms(r.Lat.percentile(0.5)), ms(r.p99()))
}

// sendToolResult is the part of email_send's result the benchmark reads.
type sendToolResult struct {
	DeliveryStatus string `json:"delivery_status"`
}

// runSendLoad sends n messages of a 4 KiB body to rcpts recipients at the
// sink from callers concurrent MCP sessions, and matches each message to
// the sink's record by its subject.
func runSendLoad(ctx context.Context, d *daemonProc, conns []*mcpConn, sk *sink, tag string, n, callers, rcpts int) (sendLoadResult, error) {
	sk.reset()
	to := make([]string, rcpts)
	for i := range to {
		to[i] = fmt.Sprintf("r%d@%s", i, sinkDomain)
	}
	toList := strings.Join(to, ", ")
	body := messageBody(4 << 10)
	subject := func(i int) string { return fmt.Sprintf("bench send %s %d", tag, i) }
	starts := make([]time.Time, n)
	calls := make(latencies, n)
	var next atomic.Int64
	var notDelivered atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	u0, s0, err := procCPU(d.cmd.Process.Pid)
	if err != nil {
		return sendLoadResult{}, err
	}
	self0 := selfCPU()
	busy0, all0 := machineCPU()
	start := time.Now()
	for c := range callers {
		wg.Add(1)
		go func(conn *mcpConn) {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				args := map[string]any{"from_mailbox": sendBox + "@" + benchDomain, "to": toList, "subject": subject(i),
					"body": body, "text_only": true}
				var res sendToolResult
				starts[i] = time.Now()
				err := conn.call(ctx, "email_send", args, &res)
				calls[i] = time.Since(starts[i])
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				if res.DeliveryStatus != "delivered" {
					notDelivered.Add(1)
				}
			}
		}(conns[c])
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return sendLoadResult{}, fmt.Errorf("send: %w", firstErr)
	}
	if k := notDelivered.Load(); k > 0 {
		return sendLoadResult{}, fmt.Errorf("send %s: %d of %d calls answered before delivery (send_wait %s too short?)", tag, k, n, sendWait)
	}
	u1, s1, err := procCPU(d.cmd.Process.Pid)
	if err != nil {
		return sendLoadResult{}, err
	}
	busy1, all1 := machineCPU()
	got, msgs, rc := sk.received()
	if msgs != n || rc != n*rcpts {
		return sendLoadResult{}, fmt.Errorf("send %s: the sink got %d messages for %d recipients, want %d and %d", tag, msgs, rc, n, n*rcpts)
	}
	lat := make(latencies, n)
	for i := range n {
		m, ok := got[subject(i)]
		if !ok {
			return sendLoadResult{}, fmt.Errorf("send %s: message %d not at the sink", tag, i)
		}
		lat[i] = m.At.Sub(starts[i])
	}
	// Clock ticks are 10 ms (USER_HZ 100).
	r := sendLoadResult{N: n, Callers: callers, Rcpts: rcpts, Elapsed: elapsed, Lat: lat, Call: calls,
		DaemonUser: float64(u1-u0) * 10 / float64(n), DaemonSys: float64(s1-s0) * 10 / float64(n),
		BenchCPU: (selfCPU() - self0).Seconds() * 1000 / float64(n)}
	if all1 > all0 {
		r.Busy = float64(busy1-busy0) / float64(all1-all0) * float64(runtime.NumCPU())
	}
	return r, nil
}

// procCPU is a process's user and system time so far, in clock ticks
// (fields 14 and 15 of /proc/<pid>/stat, proc(5)).
func procCPU(pid int) (user, sys int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("daemon cpu: %w", err)
	}
	// The command name (field 2) may hold spaces; count from its ')'.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("daemon cpu: short /proc stat")
	}
	user, _ = strconv.ParseInt(f[11], 10, 64)
	sys, _ = strconv.ParseInt(f[12], 10, 64)
	return user, sys, nil
}

// machineCPU reads the first line of /proc/stat (proc(5)): every CPU's
// ticks, and those not idle nor waiting for I/O.
func machineCPU() (busy, all int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	for i, v := range f[1:min(len(f), 9)] { // user nice system idle iowait irq softirq steal
		n, _ := strconv.ParseInt(v, 10, 64)
		all += n
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return busy, all
}

// selfCPU is the bench process's user plus system time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
