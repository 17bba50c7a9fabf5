package daemon

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// deadlines records the shutdown deadline each part was handed.
type deadlines struct {
	mu  sync.Mutex
	got map[string]time.Time
}

func (d *deadlines) record(name string, ctx context.Context) {
	dl, _ := ctx.Deadline()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.got == nil {
		d.got = map[string]time.Time{}
	}
	d.got[name] = dl
}

// stuckService serves until released, whatever Shutdown says; its
// Shutdown waits out its context.
type stuckService struct {
	dl      *deadlines
	release chan struct{}
}

func (s *stuckService) Serve(ln net.Listener) error {
	<-s.release
	return ln.Close()
}

func (s *stuckService) Shutdown(ctx context.Context) error {
	s.dl.record("listener", ctx)
	<-ctx.Done()
	return ctx.Err()
}

// waitingComponent's Stop waits out its context, as a slow but honest
// component does.
type waitingComponent struct{ dl *deadlines }

func (waitingComponent) Start(context.Context) error { return nil }

func (c waitingComponent) Stop(ctx context.Context) error {
	c.dl.record("component", ctx)
	<-ctx.Done()
	return ctx.Err()
}

// deafComponent's Stop ignores its context and never returns on its own.
type deafComponent struct {
	release chan struct{}
	stopped chan struct{}
}

func (deafComponent) Start(context.Context) error { return nil }

func (c deafComponent) Stop(context.Context) error {
	close(c.stopped)
	<-c.release
	return nil
}

// TestShutdown_OneDeadlineForListenersAndComponents: a listener whose
// Serve never returns, a component that takes its whole context and one
// that ignores it do not keep Run from returning: every part gets the same
// deadline, and Run returns once it has passed (the old code gave the
// listeners and the components 30 s each and waited for Serve without
// bound).
func TestShutdown_OneDeadlineForListenersAndComponents(t *testing.T) {
	t.Parallel()
	dl := &deadlines{}
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	deaf := deafComponent{release: release, stopped: make(chan struct{})}
	d := New(Options{Log: zerolog.Nop(), RuntimeDir: t.TempDir(), Changer: newChanger(t, "a.test"),
		ShutdownTimeout: 200 * time.Millisecond})
	d.AddListener("stuck", "tcp", "127.0.0.1:0", &stuckService{dl: dl, release: release})
	d.AddComponent("deaf", deaf)
	d.AddComponent("waiting", waitingComponent{dl: dl})
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, nil, func(map[string]string) { close(ready) }) }()
	<-ready
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(20 * time.Second): // backstop only
		t.Fatal("Run did not return after the shutdown deadline")
	}
	if d.CleanStop() {
		t.Error("a stop cut short by the deadline is reported clean")
	}
	// By order: Run is back while the listener still serves and the deaf
	// component is still inside Stop (or not even there yet: it was asked
	// on a goroutine of its own, which must get there).
	select {
	case <-release:
		t.Fatal("released early; the test proves nothing")
	default:
	}
	select {
	case <-deaf.stopped:
	case <-time.After(20 * time.Second): // backstop only
		t.Fatal("the deaf component was never asked to stop")
	}
	var l, c time.Time
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		dl.mu.Lock()
		l, c = dl.got["listener"], dl.got["component"]
		dl.mu.Unlock()
		if !l.IsZero() && !c.IsZero() {
			break
		}
	}
	if l.IsZero() || !l.Equal(c) {
		t.Errorf("listener deadline %v, component deadline %v: want one shared deadline", l, c)
	}
}

// stuckStore's Counts ignores its context until released.
type stuckStore struct {
	storage.MessageStore
	entered chan struct{}
	release chan struct{}
}

func (s *stuckStore) Counts(context.Context, storage.MailboxRef) (storage.Counts, error) {
	close(s.entered)
	<-s.release
	return storage.Counts{}, nil
}

// TestShutdown_IndexWarmerStopHonoursDeadline: Stop returns at its
// context's deadline while an index build ignores the cancellation.
func TestShutdown_IndexWarmerStopHonoursDeadline(t *testing.T) {
	t.Parallel()
	cfg := domains.Default("a.test")
	cfg.Mailboxes["x@a.test"] = domains.Mailbox{Name: "x@a.test", Owner: "root"}
	st := &stuckStore{entered: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(func() { close(st.release) })
	w := &IndexWarmer{Registry: domains.NewRegistry(cfg), Store: st, Log: zerolog.Nop()}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-st.entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := w.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop = %v, want the deadline's error", err)
	}
}

// panicStore panics in Counts.
type panicStore struct{ storage.MessageStore }

func (panicStore) Counts(context.Context, storage.MailboxRef) (storage.Counts, error) {
	panic("boom in a warm-up")
}

// TestPanics_WarmerAndListenerPanicsAreCounted: a panic in the index
// warm-up and one in a listener's Serve are logged with their stacks and
// counted in the daemon's counter.
func TestPanics_WarmerAndListenerPanicsAreCounted(t *testing.T) {
	t.Parallel()
	var logs syncLog
	d := New(Options{Log: zerolog.New(&logs), RuntimeDir: t.TempDir(), Changer: newChanger(t, "a.test")})
	cfg := domains.Default("a.test")
	cfg.Mailboxes["x@a.test"] = domains.Mailbox{Name: "x@a.test", Owner: "root"}
	w := &IndexWarmer{Registry: domains.NewRegistry(cfg), Store: panicStore{}, Log: zerolog.New(&logs), Panics: d.Panics()}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.done.Wait() // the warm-up runs to its end (its panic)
	if n := d.Panics().Count(); n != 1 {
		t.Fatalf("warm-up panic counted %d, want 1", n)
	}
	d.AddListener("bad", "tcp", "127.0.0.1:0", panicService{})
	err := d.Run(context.Background(), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "bad panicked") {
		t.Fatalf("Run = %v, want the listener's panic", err)
	}
	if n := d.Panics().Count(); n != 2 {
		t.Errorf("counted %d panics, want 2", n)
	}
	out := logs.String()
	for _, want := range []string{`"where":"index warm-up"`, `"where":"serve bad"`, `"stack":`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}

type panicService struct{}

func (panicService) Serve(ln net.Listener) error    { ln.Close(); panic("boom in Serve") }
func (panicService) Shutdown(context.Context) error { return nil }

// syncLog is a log sink safe for concurrent writers.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
