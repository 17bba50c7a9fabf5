// Package hookstart measures how soon on_receive hooks start after the
// SMTP `250` when many messages arrive at once (book/hooks.md): N messages
// over N concurrent connections to a mailbox whose hook appends
// "<message id> <bash $EPOCHREALTIME>" to a log, and per message the time
// from reading the `250` to the hook's first instruction. It is shared by
// `go run ./bench` and bench/hookslatency.
package hookstart

import (
	"bufio"
	"errors"
	"fmt"
	"net/smtp"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Measure delivers n messages at once to rcpt through the SMTP server at
// addr and returns, per message, the time from its `250` to the start its
// hook wrote to logPath.
func Measure(addr, rcpt, logPath string, n int) ([]time.Duration, error) {
	acked := make(map[string]time.Time, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("hook-%d-%d@example.test", time.Now().UnixNano(), i)
			<-start
			at, err := Deliver(addr, rcpt, id)
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			acked[id] = at
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		return nil, fmt.Errorf("deliver: %w", err)
	}
	starts, err := WaitStarts(logPath, acked, 120*time.Second)
	if err != nil {
		return nil, err
	}
	lat := make([]time.Duration, 0, n)
	for id, at := range acked {
		lat = append(lat, starts[id].Sub(at))
	}
	return lat, nil
}

// Deliver sends one message with the given Message-ID and returns when the
// `250` after DATA was read.
func Deliver(addr, rcpt, id string) (time.Time, error) {
	c, err := smtp.Dial(addr)
	if err != nil {
		return time.Time{}, err
	}
	defer c.Close()
	if err := c.Mail("bob@example.test"); err != nil {
		return time.Time{}, err
	}
	if err := c.Rcpt(rcpt); err != nil {
		return time.Time{}, err
	}
	w, err := c.Data()
	if err != nil {
		return time.Time{}, err
	}
	msg := "From: bob@example.test\r\nTo: " + rcpt + "\r\nSubject: bench\r\nMessage-ID: <" + id + ">\r\n\r\nhi\r\n"
	if _, err := w.Write([]byte(msg)); err != nil {
		return time.Time{}, err
	}
	if err := w.Close(); err != nil { // returns once 250 is read
		return time.Time{}, err
	}
	at := time.Now()
	return at, c.Quit()
}

// WaitStarts reads the hook log until every id in want has a start.
func WaitStarts(path string, want map[string]time.Time, timeout time.Duration) (map[string]time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		out, err := ReadStarts(path)
		if err != nil {
			return nil, err
		}
		missing := ""
		for id := range want {
			if _, ok := out[id]; !ok {
				missing = id
				break
			}
		}
		if missing == "" {
			return out, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no hook start for %s after %v", missing, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ReadStarts parses the "id epoch.micros" lines of the hook log.
func ReadStarts(path string) (map[string]time.Time, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("hook log: %w", err)
	}
	defer f.Close()
	out := map[string]time.Time{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		id, stamp, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		sec, frac, _ := strings.Cut(stamp, ".")
		s, err1 := strconv.ParseInt(sec, 10, 64)
		us, err2 := strconv.ParseInt((frac + "000000")[:6], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		out[id] = time.Unix(s, us*1000)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("hook log: %w", err)
	}
	return out, nil
}
