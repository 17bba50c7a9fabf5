package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aimx-dev/aimx/storage"
)

// benchDomain is the dev domain every mailbox of the run lives in; a
// .localhost name never leaves the machine (book/dev-mode.md).
const benchDomain = "agent.localhost"

// Mailboxes the intake and hook figures use.
const (
	intakeBox = "bench"
	hookBox   = "hook"
	bigBox    = "big"
)

// fixtureBox is a mailbox seeded with N stored messages.
type fixtureBox struct {
	Local string
	N     int
}

// spreadBoxes names count-1 mailboxes m0001... sharing total messages as
// evenly as they can; with the big mailbox they make count mailboxes.
func spreadBoxes(count, total int) []fixtureBox {
	n := count - 1
	out := make([]fixtureBox, n)
	for i := range out {
		out[i] = fixtureBox{Local: fmt.Sprintf("m%04d", i+1), N: total / n}
		if i < total%n {
			out[i].N++
		}
	}
	return out
}

// writeConfig writes the dev dir's config.toml (book/configuration.md):
// every mailbox owned by owner, and an on_receive hook on hookBox that
// appends "<message id> <start time>" to hookLog with bash's
// $EPOCHREALTIME, so no extra process runs between exec and the stamp.
func writeConfig(dir, owner, hookLog string, boxes []fixtureBox) error {
	var b strings.Builder
	fmt.Fprintf(&b, "domains = [%q]\ndata_dir = %q\nruntime_dir = %q\n\n[smtp]\nmax_connections_per_ip = 1000\n\n[hooks]\nworkers = 4\n",
		benchDomain, filepath.Join(dir, "data"), filepath.Join(dir, "run"))
	locals := []string{intakeBox, hookBox, bigBox}
	for _, fb := range boxes {
		locals = append(locals, fb.Local)
	}
	for _, l := range locals {
		name := l + "@" + benchDomain
		fmt.Fprintf(&b, "\n[mailboxes.%q]\naddress = %q\nowner = %q\n", name, name, owner)
	}
	fmt.Fprintf(&b, "\n[[mailboxes.%q.hooks]]\nname = \"stamp\"\nevent = \"on_receive\"\n"+
		"cmd = [\"/bin/bash\", \"-c\", \"echo \\\"$AIMX_MESSAGE_ID $EPOCHREALTIME\\\" >> \\\"$0\\\"\", %q]\nfire_on_untrusted = true\n",
		hookBox+"@"+benchDomain, hookLog)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// Sample header values, so that filters see varied strings.
var (
	senders  = [...]string{"Alice Martin <alice@example.test>", "bob@example.test", "Carol Diaz <carol.diaz@mail.example.test>", "Billing <billing@shop.example.test>", "noreply@ci.example.test", "Dmitri Ivanov <dmitri@example.test>", "\"Eve, Ops\" <eve@ops.example.test>"}
	subjects = [...]string{"Invoice %d for November", "Re: deployment plan #%d", "Build %d failed on main", "Your order %d has shipped", "Meeting notes %d", "Weekly report %d", "Question about ticket %d"}
)

// seedFixture writes the boxes' messages straight into the data dir in the
// layout of book/storage.md (a flat <stem>.md per message, as the Rust
// aimx wrote them: no .eml), without fsync: it stands for mail that
// arrived over months. Every other message is read. Dirs get the mailbox
// modes (0750, files 0640), so the start-up repair leaves them alone.
func seedFixture(data string, boxes []fixtureBox, progress func(done int)) error {
	type job struct {
		dir      string
		box      fixtureBox
		from, to int
	}
	jobs := make(chan job)
	var done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := seedRange(j.dir, j.box, j.from, j.to); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
				progress(int(done.Add(int64(j.to - j.from))))
			}
		}()
	}
	var err error
	for _, fb := range boxes {
		dir := filepath.Join(data, benchDomain, string(storage.Inbox), fb.Local)
		if err = os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			break
		}
		if err = os.Mkdir(dir, 0o750); err != nil && !os.IsExist(err) {
			break
		}
		if err = os.Chmod(dir, 0o750); err != nil {
			break
		}
		for from := 0; from < fb.N; from += 2000 {
			jobs <- job{dir: dir, box: fb, from: from, to: min(from+2000, fb.N)}
		}
	}
	close(jobs)
	wg.Wait()
	close(errs)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	for err := range errs {
		return fmt.Errorf("seed: %w", err)
	}
	return nil
}

// seedRange writes messages [from, to) of one mailbox, one a minute from
// 2024-01-01 on.
func seedRange(dir string, fb fixtureBox, from, to int) error {
	for i := from; i < to; i++ {
		fm, body := seedMessage(fb, i)
		if err := os.WriteFile(filepath.Join(dir, fm.ID+".md"), storage.EncodeMD(&fm, body), 0o640); err != nil {
			return err
		}
	}
	return nil
}

// reuseFixture prepares a kept dev dir for another run: the index cache
// of the last run goes, the seeded messages stay.
func reuseFixture(dir string) (string, error) {
	dev := filepath.Join(dir, "dev")
	if err := os.RemoveAll(filepath.Join(dev, "data", ".index")); err != nil {
		return "", fmt.Errorf("reuse fixture: %w", err)
	}
	return dev, nil
}

// seeded reports whether a kept fixture already holds a seeding step, and
// markSeeded records one.
func seeded(dev, step string) bool {
	_, err := os.Stat(filepath.Join(dev, "seeded-"+step))
	return err == nil
}

func markSeeded(dev, step string) error {
	return os.WriteFile(filepath.Join(dev, "seeded-"+step), nil, 0o600)
}
