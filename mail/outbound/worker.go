package outbound

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aimx-dev/aimx/internal/panics"
	"github.com/rs/zerolog"
)

// Defaults of the delivery loop (book/sending.md, "Queue").
const (
	// DefaultWorkers is how many rounds (and hand-offs) run at once.
	DefaultWorkers = 8
	// DefaultHandOffRetry is the wait before a failed hand-off (OnRound
	// or Ack returned an error) is tried again.
	DefaultHandOffRetry = 10 * time.Second
	// DefaultMaxSleep caps the wait between two looks at the queue, so
	// that a clock change or a missed Wake is recovered.
	DefaultMaxSleep = time.Minute
	// minSleep keeps the loop from spinning on an item that is due by the
	// worker's clock but not by the Deliverer's.
	minSleep = 20 * time.Millisecond
	// stopGrace is how long Stop waits for cancelled rounds to return
	// once its context has ended.
	stopGrace = 5 * time.Second
)

// farFuture makes Queue.Due list every item with a recipient not final.
func farFuture() time.Time { return time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC) }

// RoundOutcome is one recorded delivery round of one item, handed to
// OnRound.
type RoundOutcome struct {
	// Item is the item as recorded after the round (Item.Rounds is this
	// round's number).
	Item  Item
	Round int
	// Updated are the recipients attempted this round, as recorded; nil
	// when the worker recovers an unacknowledged round at Start: then the
	// item's current state is to be handed on.
	Updated []Recipient
}

// WorkerConfig configures a Worker.
type WorkerConfig struct {
	Queue Queue
	// Deliverer runs the rounds; its Queue is set to Queue when nil.
	Deliverer *Deliverer
	// Workers is how many rounds run at once (DefaultWorkers when 0).
	Workers int
	// OnRound is called after each recorded round, and at Start for every
	// unacknowledged item (with Updated nil, meaning "recovering: hand on
	// the item's current state"). A nil error acknowledges the round
	// (Queue.Ack); an error is logged and the hand-off tried again after
	// HandOffRetry: it is never lost nor skipped, and the item gets no
	// new round before it succeeds. nil acknowledges every round at once.
	OnRound func(ctx context.Context, o RoundOutcome) error
	// HandOffRetry is the wait before a failed hand-off is tried again
	// (DefaultHandOffRetry when 0).
	HandOffRetry time.Duration
	// MaxSleep caps the wait between two looks at the queue
	// (DefaultMaxSleep when 0).
	MaxSleep time.Duration
	// RecoverInterval, when set, asks the queue for unacknowledged rounds
	// again at that interval, not only at Start: with a queue shared by
	// several nodes, a node that died leaves rounds recorded and not
	// handed on, and a live node takes them over (book/scale-out.md,
	// "Sending across nodes"). Zero: only at Start (one host).
	RecoverInterval time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	Log zerolog.Logger
	// Panics counts the panics recovered in rounds and hand-offs.
	Panics *panics.Counter
}

// Worker is the delivery loop, a daemon component: it hands on the rounds
// a previous run left unacknowledged, then runs a round for every due
// item, hands each outcome on (OnRound) and acknowledges it, and sleeps
// until the next recipient is due or Wake is called (book/sending.md,
// "Queue").
type Worker struct {
	cfg   WorkerConfig
	wake  chan struct{}
	stop  chan struct{}
	slots chan struct{}

	mu       sync.Mutex
	started  bool
	stopped  bool
	cancel   context.CancelFunc
	loopDone chan struct{}
	tasks    sync.WaitGroup
	busy     map[string]bool     // items with a round or hand-off running
	pending  map[string]*handOff // hand-offs still to make
	// recovered is when the loop last asked for unacknowledged rounds
	// (RecoverInterval); only the loop touches it.
	recovered time.Time
}

// handOff is one round's outcome to hand on and acknowledge.
type handOff struct {
	o RoundOutcome
	// handed: OnRound succeeded, only the Ack is left.
	handed  bool
	retryAt time.Time
	// recheck: found by a periodic recovery, whose answer may be older
	// than an Ack made meanwhile; the item is read again first.
	recheck bool
}

// NewWorker returns a Worker for cfg; Start runs it.
func NewWorker(cfg WorkerConfig) *Worker {
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	cfg.HandOffRetry = orDuration(cfg.HandOffRetry, DefaultHandOffRetry)
	cfg.MaxSleep = orDuration(cfg.MaxSleep, DefaultMaxSleep)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Deliverer != nil && cfg.Deliverer.Queue == nil {
		cfg.Deliverer.Queue = cfg.Queue
	}
	return &Worker{
		cfg:      cfg,
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		slots:    make(chan struct{}, cfg.Workers),
		loopDone: make(chan struct{}),
		busy:     map[string]bool{},
		pending:  map[string]*handOff{},
	}
}

// Start lists the unacknowledged items (their hand-off comes first) and
// starts the loop. It returns at once; Stop ends the loop (ctx only
// carries values: the daemon's context ends at SIGTERM, before Stop's
// graceful wait).
func (w *Worker) Start(ctx context.Context) error {
	if w.cfg.Queue == nil || w.cfg.Deliverer == nil {
		return errors.New("outbound worker: no queue or deliverer")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return errors.New("outbound worker: already started")
	}
	items, err := w.cfg.Queue.Unacked(ctx)
	if err != nil {
		return fmt.Errorf("outbound worker: start: %w", err)
	}
	for _, it := range items {
		w.pending[it.ID] = &handOff{o: RoundOutcome{Item: it, Round: it.Rounds}}
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w.started, w.cancel = true, cancel
	go w.loop(runCtx)
	return nil
}

// Stop stops taking new rounds and waits for the rounds in flight until
// ctx ends, then cancels them (a cancelled round records what it decided).
// It closes the Deliverer's idle connections last.
func (w *Worker) Stop(ctx context.Context) error {
	w.mu.Lock()
	if !w.started || w.stopped {
		w.mu.Unlock()
		return nil
	}
	w.stopped = true
	close(w.stop)
	w.mu.Unlock()

	done := make(chan struct{})
	go func() {
		<-w.loopDone
		w.tasks.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		w.cancel()
		err = fmt.Errorf("outbound worker: stop: %w", ctx.Err())
		timer := time.NewTimer(stopGrace)
		select {
		case <-done:
		case <-timer.C:
			w.cfg.Log.Error().Msg("outbound delivery rounds still running after shutdown; left behind")
		}
		timer.Stop()
	}
	w.cancel()
	if cerr := w.cfg.Deliverer.Close(); cerr != nil {
		w.cfg.Log.Debug().Err(cerr).Msg("closing idle outbound connections")
	}
	return err
}

// Wake tells the loop to look at the queue now (a new item was enqueued).
// It never blocks; wakes before the loop gets to them coalesce.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// loop runs a pass, then sleeps until the next due time, a Wake or Stop.
func (w *Worker) loop(ctx context.Context) {
	defer close(w.loopDone)
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		timer.Reset(w.pass(ctx))
		select {
		case <-w.stop:
			return
		case <-w.wake:
		case <-timer.C:
		}
	}
}

// pass starts the hand-offs that are due, then a round for every due
// item without one under way or a hand-off pending, and returns how long
// to sleep.
func (w *Worker) pass(ctx context.Context) (sleep time.Duration) {
	defer func() {
		if p := recover(); p != nil {
			w.cfg.Panics.Recovered(w.cfg.Log, "outbound worker loop", p)
			sleep = w.cfg.MaxSleep
		}
	}()
	now := w.cfg.Now()
	next := now.Add(w.cfg.MaxSleep)
	if iv := w.cfg.RecoverInterval; iv > 0 {
		if !now.Before(w.recovered.Add(iv)) {
			w.recoverUnacked(ctx, now)
		}
		next = earlier(next, w.recovered.Add(iv))
	}

	w.mu.Lock()
	var retry []*handOff
	for id, h := range w.pending {
		switch {
		case w.busy[id]:
		case h.retryAt.After(now):
			next = earlier(next, h.retryAt)
		default:
			retry = append(retry, h)
		}
	}
	w.mu.Unlock()
	slices.SortFunc(retry, func(a, b *handOff) int {
		return cmp.Or(a.o.Item.Enqueued.Compare(b.o.Item.Enqueued), cmp.Compare(a.o.Item.ID, b.o.Item.ID))
	})
	for _, h := range retry {
		if !w.launch(h.o.Item.ID, func() bool { w.handOn(ctx, h); return true }) {
			return 0
		}
	}

	items, err := w.cfg.Queue.Due(ctx, farFuture())
	if err != nil {
		w.cfg.Log.Error().Err(err).Msg("outbound queue unreadable")
	}
	for _, it := range items {
		w.mu.Lock()
		skip := w.busy[it.ID] || w.pending[it.ID] != nil
		w.mu.Unlock()
		if skip {
			continue
		}
		if len(it.Due(now)) == 0 {
			next = earlier(next, nextAttempt(it))
			continue
		}
		id := it.ID
		if !w.launch(id, func() bool { return w.runRound(ctx, id) }) {
			return 0
		}
	}
	return max(next.Sub(w.cfg.Now()), minSleep)
}

// launch runs fn for item id in a worker slot, waiting for one unless
// Stop was called (false). An item already busy is left alone. When fn
// reports a change, the loop looks at the queue again once id is no longer
// busy: its next due time changed.
func (w *Worker) launch(id string, fn func() (changed bool)) bool {
	select {
	case <-w.stop:
		return false
	default:
	}
	select {
	case w.slots <- struct{}{}:
	case <-w.stop:
		return false
	}
	w.mu.Lock()
	if w.busy[id] {
		w.mu.Unlock()
		<-w.slots
		return true
	}
	w.busy[id] = true
	w.mu.Unlock()
	w.tasks.Add(1)
	go func() {
		defer w.tasks.Done()
		changed := false
		defer func() {
			w.mu.Lock()
			delete(w.busy, id)
			w.mu.Unlock()
			<-w.slots
			if changed {
				w.Wake()
			}
		}()
		changed = fn()
	}()
	return true
}

// runRound runs one delivery round for id and hands its outcome on. It
// reports whether a round was recorded.
func (w *Worker) runRound(ctx context.Context, id string) bool {
	o, ok := w.round(ctx, id)
	if !ok {
		return false
	}
	w.handOn(ctx, &handOff{o: o})
	return true
}

// round runs Deliverer.round, recovering a panic.
func (w *Worker) round(ctx context.Context, id string) (o RoundOutcome, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			w.cfg.Panics.Recovered(w.cfg.Log, "outbound delivery round", p)
			ok = false
		}
	}()
	it, round, updated, err := w.cfg.Deliverer.round(ctx, id)
	switch {
	case errors.Is(err, ErrRoundInFlight), errors.Is(err, ErrNotQueued):
		w.cfg.Log.Debug().Err(err).Str("id", id).Msg("outbound round skipped")
		return o, false
	case err != nil && ctx.Err() != nil:
		w.cfg.Log.Debug().Err(err).Str("id", id).Msg("outbound delivery round stopped")
		return o, false
	case err != nil:
		w.cfg.Log.Error().Err(err).Str("id", id).Msg("outbound delivery round failed")
		return o, false
	case round == 0:
		return o, false
	}
	return RoundOutcome{Item: it, Round: round, Updated: updated}, true
}

// recoverUnacked adds a hand-off for every unacknowledged item that is
// neither busy nor pending here (RecoverInterval).
func (w *Worker) recoverUnacked(ctx context.Context, now time.Time) {
	w.recovered = now
	items, err := w.cfg.Queue.Unacked(ctx)
	if err != nil {
		w.cfg.Log.Error().Err(err).Msg("outbound queue: unacknowledged rounds unreadable")
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, it := range items {
		if w.busy[it.ID] || w.pending[it.ID] != nil {
			continue
		}
		w.pending[it.ID] = &handOff{o: RoundOutcome{Item: it, Round: it.Rounds}, recheck: true}
		w.cfg.Log.Info().Str("id", it.ID).Int("round", it.Rounds).Msg("outbound round left unacknowledged (by a node that stopped?): handing it on")
	}
}

// handOn calls OnRound (unless it already succeeded) and acknowledges the
// round; a failure keeps the hand-off pending for a later pass.
func (w *Worker) handOn(ctx context.Context, h *handOff) {
	id := h.o.Item.ID
	if h.recheck && !h.handed {
		cur, err := w.cfg.Queue.Get(ctx, id)
		switch {
		case errors.Is(err, ErrNotQueued) || (err == nil && cur.Acked >= h.o.Round):
			w.mu.Lock()
			delete(w.pending, id)
			w.mu.Unlock()
			return // handed on meanwhile
		case err != nil:
			w.cfg.Log.Error().Err(err).Str("id", id).Msg("outbound queue: recovered round unreadable; will retry")
			w.retryLater(h)
			return
		}
		h.recheck = false
	}
	if !h.handed {
		if err := w.onRound(ctx, h.o); err != nil {
			w.cfg.Log.Error().Err(err).Str("id", id).Int("round", h.o.Round).Msg("outbound round not handed on; will retry")
			w.retryLater(h)
			return
		}
		h.handed = true
	}
	// The Ack is a local write: it runs to the end even during Stop.
	removed, err := w.cfg.Queue.Ack(context.WithoutCancel(ctx), id, h.o.Round)
	if err != nil && !errors.Is(err, ErrNotQueued) {
		w.cfg.Log.Error().Err(err).Str("id", id).Int("round", h.o.Round).Msg("outbound round not acknowledged; will retry")
		w.retryLater(h)
		return
	}
	w.mu.Lock()
	delete(w.pending, id)
	w.mu.Unlock()
	if removed {
		w.cfg.Log.Debug().Str("id", id).Msg("outbound message done")
	}
}

// onRound calls the OnRound hook, turning a panic into an error.
func (w *Worker) onRound(ctx context.Context, o RoundOutcome) (err error) {
	if w.cfg.OnRound == nil {
		return nil
	}
	defer func() {
		if p := recover(); p != nil {
			w.cfg.Panics.Recovered(w.cfg.Log, "outbound round hand-off", p)
			err = fmt.Errorf("hand-off of round %d of %s panicked", o.Round, o.Item.ID)
		}
	}()
	return w.cfg.OnRound(ctx, o)
}

// retryLater keeps h pending until HandOffRetry from now.
func (w *Worker) retryLater(h *handOff) {
	w.mu.Lock()
	defer w.mu.Unlock()
	h.retryAt = w.cfg.Now().Add(w.cfg.HandOffRetry)
	w.pending[h.o.Item.ID] = h
}

// nextAttempt is the earliest NextAttempt of its recipients not final
// (farFuture when none is).
func nextAttempt(it Item) time.Time {
	next := farFuture()
	for _, r := range it.Recipients {
		if !r.Status.Final() {
			next = earlier(next, r.NextAttempt)
		}
	}
	return next
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
