package progress

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

// TestQuickWorkPrintsNothing: work that ends within the interval writes no
// line, so scripts and goldens see nothing.
func TestQuickWorkPrintsNothing(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	c := newClock()
	tr := New(Options{Label: "checking DNS", Unit: "domains", Total: 3, Out: &out, Mode: Lines, Now: c.Now})
	for range 3 {
		c.advance(time.Second)
		tr.Add(1)
	}
	tr.Done("")
	if out.Len() != 0 {
		t.Fatalf("quick work wrote %q", out.String())
	}
}

// TestLinesEveryInterval: slow work writes a line per interval and a last
// line when it ends.
func TestLinesEveryInterval(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	c := newClock()
	tr := New(Options{Label: "upgrade", Unit: "mailboxes", Total: 40, Out: &out, Mode: Lines, Interval: 5 * time.Second, Now: c.Now})
	for i := range 40 {
		c.advance(time.Second)
		tr.Set(i+1, "moving mail")
	}
	tr.Done("")
	want := "upgrade: 5/40 mailboxes (12%), moving mail, in progress (5s)\n" +
		"upgrade: 10/40 mailboxes (25%), moving mail, in progress (10s)\n"
	if !strings.HasPrefix(out.String(), want) {
		t.Fatalf("lines:\n%s", out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 9 || lines[8] != "upgrade: 40/40 mailboxes (100%), moving mail, done (40s)" {
		t.Fatalf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
}

// TestBarRedrawsInPlaceAndErases: on a terminal the bar is redrawn with a
// carriage return and erased at the end, leaving no line behind.
func TestBarRedrawsInPlaceAndErases(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	c := newClock()
	tr := New(Options{Label: "checking DNS", Unit: "records", Total: 4, Out: &out, Mode: Bar, Now: c.Now})
	tr.Set(1, "")
	c.advance(time.Second)
	tr.Set(2, "next check in 30s")
	tr.Done("")
	got := out.String()
	for _, want := range []string{
		"\rchecking DNS [######..................] 1/4 records (25%)\x1b[K",
		"\rchecking DNS [############............] 2/4 records (50%), next check in 30s\x1b[K",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("bar output lacks %q:\n%q", want, got)
		}
	}
	if !strings.HasSuffix(got, "\r\x1b[K") || strings.Contains(got, "\n") {
		t.Errorf("bar not erased at the end: %q", got)
	}
}

// TestBarThrottled: updates faster than the redraw rate draw once.
func TestBarThrottled(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	c := newClock()
	tr := New(Options{Label: "x", Total: 1000, Out: &out, Mode: Bar, Now: c.Now})
	for range 999 {
		tr.Add(1)
	}
	if n := strings.Count(out.String(), "\r"); n != 1 {
		t.Fatalf("%d redraws, want 1", n)
	}
	tr.Add(1) // the last unit always draws
	if n := strings.Count(out.String(), "\r"); n != 2 {
		t.Fatalf("%d redraws, want 2", n)
	}
}

// TestLogLines: without Out, lines are info log entries (the daemon).
func TestLogLines(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := zerolog.New(&buf)
	c := newClock()
	tr := New(Options{Label: "index warm-up", Unit: "mailboxes", Total: 2, Log: &log, Now: c.Now})
	c.advance(6 * time.Second)
	tr.Report(1, 2)
	tr.Done("")
	got := buf.String()
	for _, want := range []string{`"work":"index warm-up"`, `"done":1`, `"total":2`, `"message":"index warm-up in progress"`, `"message":"index warm-up done"`} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %s:\n%s", want, got)
		}
	}
}

// TestNilTracker: a nil tracker is a no-op.
func TestNilTracker(t *testing.T) {
	t.Parallel()
	var tr *Tracker
	tr.Add(1)
	tr.Set(1, "x")
	tr.SetTotal(3)
	tr.Note("y")
	tr.Report(1, 2)
	tr.Done("")
}

// TestAutoIsLinesOffTerminal: Auto draws no bar into a buffer.
func TestAutoIsLinesOffTerminal(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if New(Options{Out: &out}).bar {
		t.Fatal("bar into a buffer")
	}
}

// TestWaitShowsOnlyItsNote: work that counts nothing shows its label and
// note.
func TestWaitShowsOnlyItsNote(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	tr := New(Options{Label: "waiting for aimx on 127.0.0.1:25", Out: &out, Mode: Bar})
	tr.Note("3s so far")
	if want := "\rwaiting for aimx on 127.0.0.1:25: 3s so far\x1b[K"; out.String() != want {
		t.Fatalf("%q", out.String())
	}
}
