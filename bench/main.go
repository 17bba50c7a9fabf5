// Command bench is aimx's one-command benchmark (bench/README.md): it
// builds the aimx binary, runs `aimx serve --dev` on free loopback ports
// in a temporary dir, drives it with real SMTP and MCP clients, and prints
// one table of figures beside their targets, each marked held or missed.
// A full run appends the table, with the date, CPU count and file system,
// to bench/README.md.
//
//	go run ./bench            # full: 100,000 and 1,000,000 stored messages, a few minutes
//	go run ./bench -quick     # a smoke run with small N, not recorded
//	go run ./bench -send-only # the sending phase alone, not recorded
//	go run ./bench -search-only [-search-n N] # the search phase alone, not recorded
//	go run ./bench -postgres  # the postgres backend against the files backend, not recorded
//
// It needs no root and no network, and removes its temp dir at the end
// unless -keep.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"time"
)

// options size a run.
type options struct {
	Quick  bool
	Bin    string // prebuilt aimx binary; "" builds ./cmd/aimx
	Keep   bool
	Record bool   // append the table to Readme
	Readme string // bench/README.md
	Big    int    // messages in the largest mailbox
	Total  int    // messages stored in all
	Boxes  int    // mailboxes holding Total (the largest one included)
	Calls  int    // MCP calls timed per figure
	Intake [4]int // messages per intake load: 4 KiB C=1, C=20, 100 KiB C=1, C=20
	Hooks  int    // messages delivered at once for the hook figure
	// Send is messages per sending load: 1 recipient C=1, C=10, 10
	// recipients; SendOnly runs that phase alone.
	Send     [3]int
	SendOnly bool
	// SearchN is the messages of the search phase (search.go); SearchOnly
	// runs that phase alone.
	SearchN    int
	SearchOnly bool
	// Postgres runs the postgres phase alone (pgintake.go, pglist.go).
	Postgres bool
	// Fixture, when set, is a dir that keeps the dev dir and its seeded
	// messages across runs (seeding a million files takes minutes); each
	// run drops its index cache and the intake mailboxes first.
	Fixture string
}

func main() {
	var o options
	flag.BoolVar(&o.Quick, "quick", false, "small N for a smoke run (not recorded unless -record)")
	flag.StringVar(&o.Bin, "aimx", "", "use this aimx binary instead of building ./cmd/aimx")
	flag.BoolVar(&o.Keep, "keep", false, "keep the temp dir")
	record := flag.Bool("record", true, "append the table to -readme (a -quick run never does unless -record is given)")
	flag.StringVar(&o.Readme, "readme", "bench/README.md", "where the table is recorded")
	flag.StringVar(&o.Fixture, "fixture", "", "keep the seeded dev dir here and reuse it on later runs")
	flag.BoolVar(&o.SendOnly, "send-only", false, "run the sending phase alone (not recorded unless -record)")
	flag.BoolVar(&o.SearchOnly, "search-only", false, "run the search phase alone (not recorded unless -record)")
	flag.BoolVar(&o.Postgres, "postgres", false, "run the postgres backend phase alone (not recorded unless -record)")
	flag.IntVar(&o.SearchN, "search-n", 0, "messages of the search phase (default 100,000; 5,000 with -quick)")
	flag.Parse()
	o.Record = *record
	if o.Quick || o.SendOnly || o.SearchOnly || o.Postgres {
		recordSet := false
		flag.Visit(func(f *flag.Flag) { recordSet = recordSet || f.Name == "record" })
		o.Record = *record && recordSet
	}
	if o.Quick {
		o.Big, o.Total, o.Boxes, o.Calls, o.Intake, o.Hooks = 2_000, 20_000, 50, 30, [4]int{20, 100, 10, 40}, 20
		o.Send = [3]int{30, 100, 30}
		o.SearchN = cmp.Or(o.SearchN, 5_000)
	} else {
		o.Big, o.Total, o.Boxes, o.Calls, o.Intake, o.Hooks = 100_000, 1_000_000, 1_000, 200, [4]int{200, 2000, 100, 500}, 100
		o.Send = [3]int{500, 2000, 500}
		o.SearchN = cmp.Or(o.SearchN, 100_000)
	}
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// progress prints one line on stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench %s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func run(ctx context.Context, o options) error {
	tmp, err := os.MkdirTemp("", "aimx-bench-")
	if err != nil {
		return err
	}
	if o.Keep {
		progress("keeping %s", tmp)
	} else {
		defer func() {
			progress("removing %s", tmp)
			_ = os.RemoveAll(tmp)
		}()
	}
	m := describeMachine(tmp)
	if o.Bin == "" {
		o.Bin = filepath.Join(tmp, "aimx")
		progress("building ./cmd/aimx")
		cmd := exec.Command("go", "build", "-o", o.Bin, "./cmd/aimx")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build aimx: %w", err)
		}
	}
	u, err := user.Current()
	if err != nil {
		return err
	}
	dev := filepath.Join(tmp, "dev")
	hookLog := filepath.Join(tmp, "hook-starts")
	if o.Fixture != "" {
		if dev, err = reuseFixture(o.Fixture); err != nil {
			return err
		}
	}
	rest := spreadBoxes(o.Boxes, o.Total-o.Big)
	// The other mailboxes join the config for the million phase only.
	if err := writeConfig(dev, u.Username, hookLog, nil); err != nil {
		return err
	}
	// Intake runs on a store of its own, empty at start.
	intakeDev := filepath.Join(tmp, "intake")
	if err := writeConfig(intakeDev, u.Username, hookLog, nil); err != nil {
		return err
	}
	s := &session{o: o, bin: o.Bin, tmp: tmp, dev: dev, intakeDev: intakeDev, hookLog: hookLog, rest: rest, owner: u.Username}
	phases := []func(context.Context) error{s.intake, s.big, s.million, s.send, s.search}
	if o.SendOnly {
		phases = phases[3:4]
	}
	if o.SearchOnly {
		phases = phases[4:]
	}
	if o.Postgres {
		phases = []func(context.Context) error{s.postgres}
	}
	searchOffElsewhere() // the search phase turns it on for its daemon
	for _, phase := range phases {
		if err := phase(ctx); err != nil {
			return err
		}
	}
	table := formatTable(s.rows)
	fmt.Print(table)
	notes := s.notes(m)
	fmt.Println()
	fmt.Println(notes)
	if o.Record {
		heading := "Run " + m.String()
		if o.Quick {
			heading += " (quick)"
		}
		if err := appendRecord(o.Readme, heading, notes, table); err != nil {
			return err
		}
		progress("recorded in %s", o.Readme)
	}
	return nil
}

// session carries a run's state from phase to phase.
type session struct {
	o   options
	bin string
	tmp string // the run's temp dir
	dev string // the dev dir of the stored-message phases
	// intakeDev is the dev dir of the intake phase, empty at its start.
	intakeDev string
	hookLog   string
	owner     string // of every mailbox
	rest      []fixtureBox
	rows      []row
	extra     []string // notes printed under the table
}

func (s *session) add(r ...row) { s.rows = append(s.rows, r...) }

func (s *session) note(format string, args ...any) {
	s.extra = append(s.extra, fmt.Sprintf(format, args...))
}

func (s *session) notes(m machine) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Machine: %s. `go run ./bench`", m)
	if s.o.Quick {
		b.WriteString(" -quick")
	}
	if s.o.SendOnly {
		b.WriteString(" -send-only:")
	}
	if s.o.Fixture != "" {
		b.WriteString(" -fixture (messages seeded by an earlier run)")
	}
	if s.o.SearchOnly {
		b.WriteString(" -search-only:")
	}
	if s.o.Postgres {
		b.WriteString(" -postgres:")
	}
	if !s.o.SendOnly && !s.o.SearchOnly && !s.o.Postgres {
		fmt.Fprintf(&b, ": largest mailbox %s messages, %s stored in %d mailboxes; %d MCP calls per latency figure.",
			count(s.o.Big), count(s.o.Total), s.o.Boxes, s.o.Calls)
	}
	for _, e := range s.extra {
		b.WriteString(" ")
		b.WriteString(e)
	}
	return b.String()
}

// startIntake runs the daemon on the intake store and waits until it
// listens.
func (s *session) startIntake() (*daemonProc, error) {
	d, err := startDaemon(s.bin, s.intakeDev)
	if err != nil {
		return nil, err
	}
	if _, err := d.waitListen(120 * time.Second); err != nil {
		_ = d.stop(5 * time.Second)
		return nil, err
	}
	return d, nil
}
