package hooks

import (
	"context"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// fakeExec stands in for the Runner: it records each run (with the stdin
// it was given) and can hold runs until released or canceled.
type fakeExec struct {
	mu      sync.Mutex
	runs    []execRun
	started chan execRun
	// hold, when set, keeps every run until it is closed or ctx ends.
	hold chan struct{}
	// step, when set, keeps each run until it receives one value from it
	// (or ctx ends), so a test releases runs one at a time.
	step chan struct{}
	// exit is the exit code every run reports.
	exit int
}

type execRun struct {
	Run
	stdin string
}

func newFakeExec() *fakeExec { return &fakeExec{started: make(chan execRun, 256)} }

func (f *fakeExec) Execute(ctx context.Context, run Run) Result {
	var in []byte
	if run.Stdin != nil {
		in, _ = io.ReadAll(run.Stdin)
	}
	r := execRun{Run: run, stdin: string(in)}
	f.mu.Lock()
	f.runs = append(f.runs, r)
	hold, step := f.hold, f.step
	f.mu.Unlock()
	f.started <- r
	if step != nil {
		select {
		case <-step:
		case <-ctx.Done():
			return Result{ExitCode: 143, Canceled: true}
		}
	}
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return Result{ExitCode: 143, Canceled: true}
		}
	}
	return Result{ExitCode: f.exit}
}

// next waits for the next run to start.
func (f *fakeExec) next(t *testing.T) execRun {
	t.Helper()
	select {
	case r := <-f.started:
		return r
	case <-time.After(20 * time.Second): // backstop only
		t.Fatal("no hook run started")
		return execRun{}
	}
}

func (f *fakeExec) all() []execRun {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]execRun(nil), f.runs...)
}

const testMailbox = "support@a.test"

var testRef = storage.MailboxRef{Domain: "a.test", Local: "support"}

// schedEnv is a scheduler over a real store and state dir with a fake
// executor and a stub owner lookup.
type schedEnv struct {
	t     *testing.T
	data  string
	store *storage.Store
	reg   *domains.Registry
	exec  *fakeExec
	log   *syncBuffer
	s     *Scheduler
	opts  SchedulerConfig
}

func testConfig(hooks ...domains.Hook) *domains.Config {
	c := domains.Default("a.test")
	c.Mailboxes[testMailbox] = domains.Mailbox{Name: testMailbox, Owner: "tester", Hooks: hooks}
	c.Mailboxes["*@a.test"] = domains.Mailbox{Name: "*@a.test", Owner: "tester"}
	return c
}

func onReceive(name string, cmd ...string) domains.Hook {
	if len(cmd) == 0 {
		cmd = []string{"/bin/true"}
	}
	return domains.Hook{Name: name, Event: domains.EventOnReceive, Cmd: cmd, TimeoutSecs: 5}
}

func stubOwner(name string) (Owner, error) { return Owner{Name: name, Home: "/"}, nil }

func newSchedEnv(t *testing.T, cfg *domains.Config, data string) *schedEnv {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if data == "" {
		data = t.TempDir()
	}
	st, err := storage.Open(data, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := &schedEnv{t: t, data: data, store: st, reg: domains.NewRegistry(cfg), exec: newFakeExec(), log: &syncBuffer{}}
	e.opts = SchedulerConfig{
		Registry: e.reg, Store: st, StateDir: filepath.Join(data, ".spool", "hooks"),
		Runner: e.exec, Workers: 1, LookupOwner: stubOwner, Log: zerolog.New(e.log),
	}
	return e
}

// start builds and starts the scheduler from e.opts.
func (e *schedEnv) start() *Scheduler {
	e.t.Helper()
	s, err := NewScheduler(e.opts)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	e.s = s
	e.t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s
}

func (e *schedEnv) stop() {
	e.t.Helper()
	if err := e.s.Stop(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

// put stores an inbound message with hooks_due at the given receipt time.
func (e *schedEnv) put(subject string, at time.Time, due ...string) *storage.Stored {
	e.t.Helper()
	st, err := e.store.Put(context.Background(), storage.PutRequest{
		Mailbox: testRef, Folder: storage.Inbox, At: at,
		Frontmatter: storage.Frontmatter{
			MessageID: subject + "@x.test", From: "bob@x.test", To: []string{testMailbox}, Subject: subject,
			Date: at.UTC().Format(time.RFC3339), ReceivedAt: at, DKIM: "none", SPF: "none", DMARC: "none",
			Trusted: "true", HooksDue: due,
		},
		Body: "body of " + subject + "\n",
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// mdPath is where the file store keeps st's .md (an inbound message).
func (e *schedEnv) mdPath(st *storage.Stored) string {
	e.t.Helper()
	p, err := e.store.Paths(testRef, storage.Inbox, st.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return p.MD
}

// received is what inbound's OnStored hands the scheduler for st.
func received(st *storage.Stored) Received {
	return Received{Mailbox: testMailbox, Ref: testRef, ID: st.ID, ReceivedAt: st.Frontmatter.ReceivedAt, HooksDue: st.Frontmatter.HooksDue}
}

func (e *schedEnv) state() *FileState {
	e.t.Helper()
	st, err := OpenFileState(e.opts.StateDir, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

func (e *schedEnv) job(id string) JobState {
	e.t.Helper()
	js, err := e.state().Job(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return js
}
