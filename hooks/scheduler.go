package hooks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/panics"
	"github.com/aimx-dev/aimx/storage"
)

// DefaultQueueSize bounds the jobs waiting in memory. A job that does not fit
// is not lost: its message's hooks_due (or its after_send record) is on
// disk, and the recovery scan enqueues it once the queue has room.
const DefaultQueueSize = 4096

// DefaultCheckpointLag keeps the recovery checkpoint at least this far
// behind the clock, so a message whose Put had finished but whose enqueue
// had not yet happened when the daemon died is still scanned.
const DefaultCheckpointLag = time.Hour

// DefaultRetryBackoff is the first wait before a job that could not start
// for lack of resources is tried again; each further failure doubles it up
// to MaxRetryBackoff.
const DefaultRetryBackoff = time.Second

// MaxRetryBackoff caps the wait between tries of a job that keeps failing
// to start for lack of resources.
const MaxRetryBackoff = 5 * time.Minute

// Executor runs one hook run; *Runner is the real one.
type Executor interface {
	Execute(ctx context.Context, run Run) Result
}

// SchedulerConfig builds a Scheduler.
type SchedulerConfig struct {
	// Registry is the live config: hooks, mailboxes and owners are looked
	// up in it when a job runs, so a deleted hook stops firing at once.
	Registry *domains.Registry
	// Store is where the messages are read from (their .md is the stdin).
	Store storage.MessageStore
	// State is the durable hook state; nil means a FileState opened in
	// StateDir at Start.
	State StateStore
	// StateDir holds the file-backed hook state, `<data>/.spool/hooks`;
	// it is used only when State is nil.
	StateDir string
	// Runner executes runs; nil means NewRunner(Log) counting its panics
	// in Panics.
	Runner Executor
	// Workers is how many hooks run at once ([hooks] workers); zero means
	// domains.DefaultHookWorkers.
	Workers int
	// PerOwner is how many of one owner's hooks may run at once; zero
	// means half the workers, at least one. Owners with waiting work take
	// turns (book/hooks.md, "Fairness").
	PerOwner int
	// RetryBackoff is the first wait before retrying a job that could not
	// start for lack of resources; zero means DefaultRetryBackoff.
	RetryBackoff time.Duration
	// Panics counts the panics the scheduler and its default runner
	// recover; nil still logs them.
	Panics *panics.Counter
	// QueueSize bounds the in-memory queue; zero means DefaultQueueSize.
	QueueSize int
	// LookupOwner resolves mailbox owners; nil means LookupOwner.
	LookupOwner func(name string) (Owner, error)
	// Writer performs the durable writes of the FileState opened in
	// StateDir; nil means a zero Writer.
	Writer *storage.Writer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// CheckpointLag: zero means DefaultCheckpointLag.
	CheckpointLag time.Duration
	// RescanInterval is how often the recovery scan runs again when State
	// is shared by several nodes (it implements JobClaimer); zero means
	// DefaultRescanInterval. With a state of one host the scan runs at
	// start and when the queue dropped work, and this is ignored.
	RescanInterval time.Duration
	// Log receives skips, recovery and state errors; the one line per run
	// is the Runner's.
	Log zerolog.Logger

	// WebhookTimeout bounds one webhook POST; zero means
	// DefaultWebhookTimeout (book/webhooks.md).
	WebhookTimeout time.Duration
	// WebhookRetries are the waits after each failed webhook try, the
	// last one repeated; nil means DefaultWebhookRetries().
	WebhookRetries []time.Duration
	// WebhookGiveUp is how long after its first try a failing webhook
	// delivery is given up; zero means DefaultWebhookGiveUp.
	WebhookGiveUp time.Duration
}

// job is one hook for one message (and round).
type job struct {
	id      string
	event   string
	mailbox string
	ref     storage.MailboxRef
	folder  storage.Folder
	msgID   string
	hook    string
	round   int
	status  string    // after_send: the delivery_status of the round
	hooks   []string  // after_send: every hook of the round's record
	at      time.Time // on_receive: receipt time, which bounds the checkpoint
	eventAt time.Time // after_send: when the round was recorded (a webhook's event time)
	owner   string    // whose turn it runs in (the mailbox owner when queued)
	retries int       // how many times it could not start for lack of resources
}

// seams run a test's step between two of the scheduler's, so a race with a
// mailbox owner is driven by order, not timing. Nil in the daemon.
type seams struct {
	// beforeOpen runs after a job's checks, before its .md is opened.
	beforeOpen func(j job)
	// beforeExec runs after the .md is opened and decoded, before the
	// hook starts.
	beforeExec func(j job)
}

// Scheduler runs due hooks on a bounded worker pool, durably (book/hooks.md):
// inbound work is recorded in each stored message's hooks_due before 250
// (Due is the inbound HooksDue seam), a run's start and end are recorded in
// the hook state, and after a crash or restart a recovery scan runs what is
// due or was interrupted. It is a daemon component (Start, Stop).
type Scheduler struct {
	cfg   SchedulerConfig
	gate  Gate
	now   func() time.Time
	lag   time.Duration
	state StateStore
	// claimer is State as a JobClaimer when it is shared by several
	// nodes, nil on one host (shared.go).
	claimer JobClaimer
	queue   *fairQueue
	seams   seams
	// rescan asks the scanner to look for work the queue could not take.
	rescan chan struct{}
	// webhookClient posts webhooks (webhook_http.go).
	webhookClient *http.Client

	mu        sync.Mutex
	pending   map[string]time.Time // queued or running job ids → receipt time
	dropped   time.Time            // oldest receipt time of a dropped enqueue
	scanFloor time.Time            // the time the running scan started from
	scanning  bool
	persisted time.Time // checkpoint last decided
	// waiting holds, with a shared state, the jobs the last scan found
	// not done (receipt times), and waitLogged the jobs whose wait for a
	// node with their owner was logged (shared.go).
	waiting    map[string]time.Time
	waitLogged map[string]bool

	cpMu    sync.Mutex // serializes checkpoint writes
	written time.Time

	// last is how each hook last ran, for hook_list (lastrun.go).
	last lastRuns

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewScheduler builds a Scheduler; nothing runs until Start.
func NewScheduler(cfg SchedulerConfig) (*Scheduler, error) {
	if cfg.Registry == nil || cfg.Store == nil || (cfg.State == nil && cfg.StateDir == "") {
		return nil, errors.New("hooks: new scheduler: registry, store and state (or state dir) are required")
	}
	if cfg.Runner == nil {
		r := NewRunner(cfg.Log)
		r.Panics = cfg.Panics
		cfg.Runner = r
	}
	if cfg.Workers <= 0 {
		cfg.Workers = domains.DefaultHookWorkers
	}
	if cfg.PerOwner <= 0 {
		cfg.PerOwner = max(cfg.Workers/2, 1)
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = DefaultRetryBackoff
	}
	if cfg.LookupOwner == nil {
		cfg.LookupOwner = domains.LookupOwner
	}
	if cfg.WebhookTimeout <= 0 {
		cfg.WebhookTimeout = DefaultWebhookTimeout
	}
	if len(cfg.WebhookRetries) == 0 {
		cfg.WebhookRetries = DefaultWebhookRetries()
	}
	if cfg.WebhookGiveUp <= 0 {
		cfg.WebhookGiveUp = DefaultWebhookGiveUp
	}
	if cfg.RescanInterval <= 0 {
		cfg.RescanInterval = DefaultRescanInterval
	}
	claimer, _ := cfg.State.(JobClaimer)
	s := &Scheduler{
		cfg: cfg,
		// With a shared state an owner that is not a user here may be one
		// on another node: its hooks are recorded and wait for that node.
		gate:       Gate{LookupOwner: cfg.LookupOwner, Log: cfg.Log, AnyHost: claimer != nil},
		now:        cfg.Now,
		lag:        cfg.CheckpointLag,
		claimer:    claimer,
		queue:      newFairQueue(cfg.QueueSize, cfg.PerOwner),
		rescan:     make(chan struct{}, 1),
		pending:    map[string]time.Time{},
		waitLogged: map[string]bool{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	// The setting is read at every dial, so a reload applies at once.
	s.webhookClient = newWebhookClient(cfg.WebhookTimeout, func() bool {
		return cfg.Registry.Current().Hooks.WebhookAllowPrivate
	})
	if s.lag <= 0 {
		s.lag = DefaultCheckpointLag
	}
	return s, nil
}

// Due is the inbound HooksDue seam: the on_receive hooks and webhooks due
// for a message stored in mb with the given trust verdict (see Gate.Due).
func (s *Scheduler) Due(mb domains.Mailbox, trusted string) []string {
	return s.gate.Due(mb, trusted)
}

// DueFor is Gate.DueFor on the scheduler's gate: the on_receive hooks due
// for a message, its loop signals considered.
func (s *Scheduler) DueFor(mb domains.Mailbox, a Arrival) []string {
	return s.gate.DueFor(mb, a)
}

// Received is one newly stored inbound message, as the inbound OnStored
// seam reports it.
type Received struct {
	Mailbox    string // FQDN
	Ref        storage.MailboxRef
	ID         string // the stem
	ReceivedAt time.Time
	HooksDue   []string
}

// Enqueue queues the due hooks of a newly stored message without ever
// blocking: it runs inside the SMTP transaction. When the queue is full the
// jobs are left to the recovery scan, which finds them in hooks_due.
func (s *Scheduler) Enqueue(m Received) {
	for _, h := range m.HooksDue {
		s.offer(job{
			id: JobID(EventOnReceive, m.Mailbox, m.ID, h, 0), event: EventOnReceive, mailbox: m.Mailbox,
			ref: m.Ref, folder: storage.Inbox, msgID: m.ID, hook: h, at: m.ReceivedAt,
		})
	}
}

// AfterSend is one delivery round's outcome for one sent message.
type AfterSend struct {
	Mailbox string // the sending mailbox, FQDN
	ID      string // the sent copy's id (stem) in its sent folder
	Round   int    // delivery round, 1 for the first
	Status  string // the message's delivery_status after the round
}

// RecordAfterSend records the after_send work of one delivery round
// (book/hooks.md, book/webhooks.md): one job per after_send hook and
// webhook the mailbox has now, written durably
// before it returns, then queued. Recording the same round again does
// nothing, so the outbound queue may call it again after a crash.
//
// Call it only after Start (the outbound queue is started after hooks).
func (s *Scheduler) RecordAfterSend(ctx context.Context, a AfterSend) error {
	if s.state == nil {
		return errors.New("record after_send work: hook scheduler not started")
	}
	mb, ok := s.cfg.Registry.Current().Mailbox(a.Mailbox)
	if !ok {
		return fmt.Errorf("record after_send work: no mailbox %s", a.Mailbox)
	}
	var names []string
	for _, h := range mb.Hooks {
		if h.Event == domains.EventAfterSend {
			names = append(names, h.EffectiveName())
		}
	}
	names = append(names, dueWebhooks(mb, domains.EventAfterSend)...)
	if len(names) == 0 {
		return nil
	}
	rec := AfterSendRecord{Mailbox: mb.Name, ID: a.ID, Round: a.Round, Status: a.Status, Hooks: names, RecordedAt: s.now().UTC()}
	added, err := s.state.AddAfterSend(ctx, rec)
	if err != nil || !added {
		return err
	}
	for _, j := range afterSendJobs(rec) {
		s.offer(j)
	}
	return nil
}

func afterSendJobs(rec AfterSendRecord) []job {
	ref := domains.MailboxRef(rec.Mailbox)
	out := make([]job, 0, len(rec.Hooks))
	for _, h := range rec.Hooks {
		out = append(out, job{
			id: JobID(EventAfterSend, rec.Mailbox, rec.ID, h, rec.Round), event: EventAfterSend, mailbox: rec.Mailbox,
			ref: ref, folder: storage.Sent, msgID: rec.ID, hook: h, round: rec.Round, status: rec.Status, hooks: rec.Hooks,
			eventAt: rec.RecordedAt,
		})
	}
	return out
}

// offer queues j unless it is already queued or running; it never blocks.
func (s *Scheduler) offer(j job) {
	if !s.claim(j) {
		return
	}
	s.push(j)
}

// push queues a claimed job in its owner's turn, or, when the queue is
// full, leaves it to the recovery scan; it never blocks.
func (s *Scheduler) push(j job) {
	j.owner = s.ownerOf(j.mailbox)
	if s.queue.push(j) {
		return
	}
	s.mu.Lock()
	delete(s.pending, j.id)
	if !j.at.IsZero() && (s.dropped.IsZero() || j.at.Before(s.dropped)) {
		s.dropped = j.at
	}
	s.mu.Unlock()
	s.cfg.Log.Warn().Str("hook", j.hook).Str("event", j.event).Str("mailbox", j.mailbox).Str("id", j.msgID).
		Str("job_id", j.id).Msg("hook queue full; the job is left to the recovery scan")
	s.requestScan()
}

// offerWait queues j, waiting for room; it is for the scanner only.
func (s *Scheduler) offerWait(ctx context.Context, j job) error {
	if !s.claim(j) {
		return nil
	}
	j.owner = s.ownerOf(j.mailbox)
	if err := s.queue.pushWait(ctx, j); err != nil {
		s.mu.Lock()
		delete(s.pending, j.id)
		s.mu.Unlock()
		return err
	}
	return nil
}

// ownerOf is the owner whose turn a job of mailbox runs in: its owner now,
// or the mailbox itself when it is gone (the job is then only skipped).
func (s *Scheduler) ownerOf(mailbox string) string {
	if mb, ok := s.cfg.Registry.Current().Mailbox(mailbox); ok {
		return "owner " + mb.Owner
	}
	return "mailbox " + mailbox
}

// claim marks j pending; false means it already was.
func (s *Scheduler) claim(j job) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.pending[j.id]; ok {
		return false
	}
	s.pending[j.id] = j.at
	return true
}

func (s *Scheduler) requestScan() {
	select {
	case s.rescan <- struct{}{}:
	default:
	}
}

// Pending is the number of jobs queued or running, for status output.
func (s *Scheduler) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// Start opens the hook state (the FileState in StateDir unless State is
// set), starts the workers and the scanner, and schedules the recovery
// scan. It returns at once.
func (s *Scheduler) Start(ctx context.Context) error {
	st := s.cfg.State
	if st == nil {
		fst, err := OpenFileState(s.cfg.StateDir, s.cfg.Writer)
		if err != nil {
			return err
		}
		st = fst
	}
	s.state = st
	cp, ok, err := st.Checkpoint(ctx)
	switch {
	case err != nil:
		// Scanning from the beginning is safe (done jobs are skipped),
		// only slower.
		s.cfg.Log.Error().Err(err).Msg("hook checkpoint unreadable; scanning all mail for due hooks")
	case ok:
		s.persisted, s.written = cp, cp
	default:
		// A new state: no message stored before now has hooks_due
		// recorded by us, so recovery starts here. A lost state thus
		// forgets pending work instead of firing every hook on old mail.
		now := s.now().UTC().Truncate(time.Second)
		if err := st.SetCheckpoint(ctx, now); err != nil {
			return fmt.Errorf("hooks: start: %w", err)
		}
		s.persisted, s.written = now, now
	}
	// Shutdown is Stop's: the daemon's ctx ends at SIGTERM, while SMTP
	// transactions may still be storing messages.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	for range s.cfg.Workers {
		s.wg.Add(1)
		go s.worker(runCtx)
	}
	s.wg.Add(1)
	go s.scanner(runCtx)
	s.requestScan()
	return nil
}

// Stop stops taking jobs and stops the running hooks like a shutdown does
// (SIGTERM, SIGKILL after the grace period). A run stopped this way is not
// done: it runs again after the next start, as an interrupted run. Stop
// returns when the workers are gone or when ctx ends, whichever is first
// (the daemon's one shutdown deadline): a worker still stuck then is left
// behind, and its job to the recovery scan of the next start.
func (s *Scheduler) Stop(ctx context.Context) error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop hook workers: %w", ctx.Err())
	}
}
