// Package progress shows how far a piece of long work has got: a bar
// redrawn in place when it writes to a terminal, and otherwise a plain line
// every few seconds, to a stream or to the log (issue 13, item 7;
// book/doctor.md, book/install.md). Work that ends before the first
// interval prints no line at all, so quick runs, scripts and golden tests
// see nothing.
//
// A nil *Tracker is valid and does nothing, so code that may or may not
// report progress calls its methods unconditionally.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/term"
)

// DefaultInterval is how often a line is written when no bar can be drawn.
const DefaultInterval = 5 * time.Second

// barRedraw bounds how often the bar is redrawn.
const barRedraw = 100 * time.Millisecond

// barWidth is the number of cells of the bar.
const barWidth = 24

// Mode says how progress is shown.
type Mode int

// The modes.
const (
	// Auto draws a bar when Out is a terminal, and writes lines otherwise.
	Auto Mode = iota
	// Bar always draws the bar (tests).
	Bar
	// Lines always writes lines.
	Lines
)

// Options describe one piece of work.
type Options struct {
	// Label names the work: "checking DNS", "index warm-up".
	Label string
	// Unit names what is counted ("domains", "mailboxes"); may be empty.
	Unit string
	// Total is how many units there are; 0 means not known (yet).
	Total int
	// Out receives the bar or the lines. When nil, lines go to Log.
	Out io.Writer
	// Log receives the lines as info entries when Out is nil (the daemon,
	// whose output is its log). With neither, nothing is shown.
	Log *zerolog.Logger
	// Mode chooses bar or lines; Auto asks whether Out is a terminal.
	Mode Mode
	// Interval is the time between lines, and before the first one
	// (DefaultInterval when zero).
	Interval time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Tracker reports the progress of one piece of work. Its methods are safe
// for concurrent use.
type Tracker struct {
	opts  Options
	bar   bool
	start time.Time

	mu       sync.Mutex
	done     int
	total    int
	note     string
	last     time.Time // last line or redraw
	lines    int       // lines written
	drawn    bool      // a bar is on the screen
	finished bool
}

// New starts tracking; the clock starts now.
func New(opts Options) *Tracker {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	t := &Tracker{opts: opts, total: opts.Total, start: opts.Now()}
	switch opts.Mode {
	case Bar:
		t.bar = opts.Out != nil
	case Auto:
		t.bar = IsTerminal(opts.Out)
	}
	return t
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Set records that done units are finished, with a note on what is
// happening now ("" keeps the previous note).
func (t *Tracker) Set(done int, note string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done = done
	if note != "" {
		t.note = note
	}
	t.show()
}

// Add records n more finished units.
func (t *Tracker) Add(n int) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done += n
	t.show()
}

// SetTotal changes the total, for work whose size is learnt on the way.
func (t *Tracker) SetTotal(total int) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total = total
	t.show()
}

// Note changes what the work says it is doing, without counting.
func (t *Tracker) Note(note string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.note = note
	t.show()
}

// Report is Set with a total, shaped as the callback other packages take
// (func(done, total int)), so they need not import this package.
func (t *Tracker) Report(done, total int) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done, t.total = done, total
	t.show()
}

// Done ends the work: the bar is erased, and a last line is written when
// lines were written before (work that ended quickly writes none). note,
// when set, replaces the last note.
func (t *Tracker) Done(note string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.finished {
		return
	}
	t.finished = true
	if note != "" {
		t.note = note
	}
	if t.bar {
		if t.drawn {
			fmt.Fprint(t.opts.Out, "\r\x1b[K")
		}
		return
	}
	if t.lines > 0 {
		t.line(true)
	}
}

// show draws the bar or writes a line when it is time to.
func (t *Tracker) show() {
	if t.finished {
		return
	}
	now := t.opts.Now()
	if t.bar {
		if t.drawn && now.Sub(t.last) < barRedraw && t.done < t.total {
			return
		}
		t.last, t.drawn = now, true
		fmt.Fprintf(t.opts.Out, "\r%s\x1b[K", t.barText())
		return
	}
	if now.Sub(t.start) < t.opts.Interval || (t.lines > 0 && now.Sub(t.last) < t.opts.Interval) {
		return
	}
	t.last = now
	t.line(false)
}

// line writes one progress line to Out or the log.
func (t *Tracker) line(final bool) {
	t.lines++
	elapsed := t.opts.Now().Sub(t.start).Round(time.Second)
	switch {
	case t.opts.Out != nil:
		state := "in progress"
		if final {
			state = "done"
		}
		fmt.Fprintf(t.opts.Out, "%s: %s, %s (%s)\n", t.opts.Label, t.count(), state, elapsed)
	case t.opts.Log != nil:
		ev := t.opts.Log.Info().Str("work", t.opts.Label).Int("done", t.done).Int64("elapsed_ms", elapsed.Milliseconds())
		if t.total > 0 {
			ev = ev.Int("total", t.total)
		}
		if t.note != "" {
			ev = ev.Str("now", t.note)
		}
		msg := t.opts.Label + " in progress"
		if final {
			msg = t.opts.Label + " done"
		}
		ev.Msg(msg)
	}
}

// count is "12/40 mailboxes (30%)" or "12 mailboxes", with the note;
// work that counts nothing (a wait) shows only its note.
func (t *Tracker) count() string {
	var parts []string
	unit := ""
	if t.opts.Unit != "" {
		unit = " " + t.opts.Unit
	}
	switch {
	case t.total > 0:
		parts = append(parts, fmt.Sprintf("%d/%d%s (%d%%)", t.done, t.total, unit, percent(t.done, t.total)))
	case t.done > 0 || unit != "":
		parts = append(parts, fmt.Sprintf("%d%s", t.done, unit))
	}
	if t.note != "" {
		parts = append(parts, t.note)
	}
	return strings.Join(parts, ", ")
}

// barText is "label [#####.......] 12/40 mailboxes (30%), note".
func (t *Tracker) barText() string {
	if t.total <= 0 {
		if c := t.count(); c != "" {
			return t.opts.Label + ": " + c
		}
		return t.opts.Label
	}
	filled := barWidth * min(t.done, t.total) / t.total
	return fmt.Sprintf("%s [%s%s] %s", t.opts.Label, strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled), t.count())
}

func percent(done, total int) int {
	if total <= 0 {
		return 0
	}
	return 100 * min(done, total) / total
}
