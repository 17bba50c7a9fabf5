// Command smtpmem measures the memory of SMTP intake under large messages
// (issue 8, H2): it starts the inbound SMTP server (mail/inbound over a
// real storage.Store) in a child process on 127.0.0.1, sends C messages of
// S MiB at once over C connections, each to M mailboxes, and prints the
// child's peak RSS (VmHWM) and its RSS when idle before and after.
//
//	go run ./bench/smtpmem                      # 20 x 25 MiB x 8 mailboxes
//	go run ./bench/smtpmem -c 4 -size 5 -m 2    # a quick run
//
// The data dir is a temporary directory under $TMPDIR (about C*S*M*2 of
// disk while it runs), removed at the end unless -keep.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"net/smtp"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	role := flag.String("role", "driver", "driver or server (internal)")
	conns := flag.Int("c", 20, "concurrent connections, one message each")
	sizeMiB := flag.Int("size", 25, "message size in MiB")
	mailboxes := flag.Int("m", 8, "mailboxes each message is sent to")
	dataDir := flag.String("data", "", "data dir (server role)")
	keep := flag.Bool("keep", false, "keep the data dir")
	flag.Parse()
	var err error
	if *role == "server" {
		err = serve(*dataDir, *mailboxes, *sizeMiB)
	} else {
		err = drive(*conns, *sizeMiB, *mailboxes, *keep)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "smtpmem:", err)
		os.Exit(1)
	}
}

// drive runs the server child, loads it and reports.
func drive(conns, sizeMiB, mailboxes int, keep bool) error {
	dir, err := os.MkdirTemp("", "aimx-smtpmem-")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "-role", "server", "-data", dir, "-m", strconv.Itoa(mailboxes), "-size", strconv.Itoa(sizeMiB))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		return errors.New("server printed no address")
	}
	addr := strings.TrimSpace(sc.Text())
	pid := cmd.Process.Pid

	idleBefore, err := settle(pid)
	if err != nil {
		return err
	}
	rcpts := make([]string, mailboxes)
	for i := range rcpts {
		rcpts[i] = fmt.Sprintf("box%d@bench.example", i)
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- send(addr, i, sizeMiB<<20, rcpts)
		}()
	}
	wg.Wait()
	close(errs)
	elapsed := time.Since(start)
	failed := 0
	for err := range errs {
		if err != nil {
			failed++
			fmt.Fprintln(os.Stderr, "send:", err)
		}
	}
	peak, err := status(pid, "VmHWM")
	if err != nil {
		return err
	}
	idleAfter, err := settle(pid)
	if err != nil {
		return err
	}
	fmt.Printf("%d connections x %d MiB x %d mailboxes in %.1f s (%d failed)\n", conns, sizeMiB, mailboxes, elapsed.Seconds(), failed)
	fmt.Printf("idle RSS before: %.1f MB\npeak RSS (VmHWM): %.1f MB\nidle RSS after:  %.1f MB\n",
		mb(idleBefore), mb(peak), mb(idleAfter))
	if failed > 0 {
		return fmt.Errorf("%d transactions failed", failed)
	}
	return nil
}

func mb(kb int64) float64 { return float64(kb) / 1000 }

// settle asks the server to return freed memory to the OS and reads its
// RSS in kB.
func settle(pid int) (int64, error) {
	if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
		return 0, err
	}
	time.Sleep(time.Second)
	return status(pid, "VmRSS")
}

// status reads one kB field of /proc/<pid>/status.
func status(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// send delivers one message of about size bytes, generated as it is
// written so the driver holds none of it.
func send(addr string, n, size int, rcpts []string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("client.bench.example"); err != nil {
		return err
	}
	if err := c.Mail("sender@bench.example"); err != nil {
		return err
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	fmt.Fprintf(bw, "From: Sender <sender@bench.example>\r\nTo: box0@bench.example\r\nSubject: bench %d\r\n"+
		"Date: Mon, 02 Nov 2026 10:00:00 +0000\r\nMessage-ID: <bench-%d@bench.example>\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/mixed; boundary=BOUNDARY\r\n\r\n--BOUNDARY\r\nContent-Type: text/plain\r\n\r\n"+
		"A large attachment follows.\r\n--BOUNDARY\r\nContent-Type: application/octet-stream\r\n"+
		"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=blob.bin\r\n\r\n", n, n)
	line := strings.Repeat("QUJD", 19) + "\r\n" // 76 base64 characters
	for written := 0; written < size-600; written += len(line) {
		if _, err := bw.WriteString(line); err != nil {
			return err
		}
	}
	bw.WriteString("--BOUNDARY--\r\n")
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// waitSignals frees memory on SIGUSR1 until the process is killed.
func waitSignals(free func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	for range ch {
		free()
	}
}
