package pghooks_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/hooks"
	"github.com/aimx-dev/aimx/internal/pgtest"
	"github.com/aimx-dev/aimx/pgstore/pghooks"
	"github.com/aimx-dev/aimx/storage"
)

const mailbox = "support@a.test"

var ref = storage.MailboxRef{Domain: "a.test", Local: "support"}

// cluster is several nodes over one database and one message store, each
// with its own scheduler, running a real hook that appends AIMX_JOB_ID to
// a file.
type cluster struct {
	t     *testing.T
	dsn   string
	store *storage.Store
	reg   *domains.Registry
	runs  string // the file the hook appends job ids to
	mu    sync.Mutex
	ran   map[string][]string // node → job ids it ran
}

func newCluster(t *testing.T, owner string) *cluster {
	t.Helper()
	dir := t.TempDir()
	st, err := storage.Open(filepath.Join(dir, "data"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, dsn: pgtest.DSN(t), store: st, runs: filepath.Join(dir, "runs"), ran: map[string][]string{}}
	cfg := domains.Default("a.test")
	cmd := []string{"/bin/sh", "-c", `echo "$AIMX_JOB_ID" >> ` + c.runs}
	cfg.Mailboxes[mailbox] = domains.Mailbox{Name: mailbox, Owner: owner, Hooks: []domains.Hook{
		{Name: "h1", Event: domains.EventOnReceive, TimeoutSecs: 30, Cmd: cmd},
		{Name: "s1", Event: domains.EventAfterSend, TimeoutSecs: 30, Cmd: cmd},
	}}
	cfg.Mailboxes["*@a.test"] = domains.Mailbox{Name: "*@a.test", Owner: owner}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c.reg = domains.NewRegistry(cfg)
	return c
}

// nodeExec runs the real runner and notes which node ran which job.
type nodeExec struct {
	c    *cluster
	node string
	r    *hooks.Runner
}

func (e nodeExec) Execute(ctx context.Context, run hooks.Run) hooks.Result {
	res := e.r.Execute(ctx, run)
	e.c.mu.Lock()
	e.c.ran[e.node] = append(e.c.ran[e.node], run.JobID)
	e.c.mu.Unlock()
	return res
}

// owners is an owner lookup that knows only the given users (as the
// user running the tests).
func owners(names ...string) func(string) (hooks.Owner, error) {
	return func(name string) (hooks.Owner, error) {
		for _, n := range names {
			if n == name {
				return hooks.Owner{Name: name, UID: os.Getuid(), GID: os.Getgid(), Groups: []uint32{}, Home: "/"}, nil
			}
		}
		return hooks.Owner{}, errors.New("no such user")
	}
}

// node starts a registered node with its scheduler; the scheduler stops
// when the test ends.
func (c *cluster) node(name string, lookup func(string) (hooks.Owner, error), lease time.Duration) (*hooks.Scheduler, *pghooks.State) {
	c.t.Helper()
	db := openDB(c.t, c.dsn, name)
	st := pghooks.New(db, pghooks.Options{Lease: lease})
	s, err := hooks.NewScheduler(hooks.SchedulerConfig{
		Registry: c.reg, Store: c.store, State: st, Workers: 2, LookupOwner: lookup,
		Runner:         nodeExec{c: c, node: name, r: hooks.NewRunner(zerolog.Nop())},
		RescanInterval: 100 * time.Millisecond, WebhookRetries: []time.Duration{10 * time.Millisecond}, Log: zerolog.Nop(),
	})
	if err != nil {
		c.t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s, st
}

// put stores an inbound message with due (h1 when none) due, received at
// at.
func (c *cluster) put(subject string, at time.Time, due ...string) *storage.Stored {
	c.t.Helper()
	if len(due) == 0 {
		due = []string{"h1"}
	}
	st, err := c.store.Put(context.Background(), storage.PutRequest{
		Mailbox: ref, Folder: storage.Inbox, At: at,
		Frontmatter: storage.Frontmatter{
			MessageID: subject + "@x.test", From: "bob@x.test", To: []string{mailbox}, Subject: subject,
			Date: at.UTC().Format(time.RFC3339), ReceivedAt: at, DKIM: "none", SPF: "none", DMARC: "none",
			Trusted: "true", HooksDue: due,
		},
		Body: "body of " + subject + "\n",
	})
	if err != nil {
		c.t.Fatal(err)
	}
	return st
}

func jobID(st *storage.Stored) string {
	return hooks.JobID(hooks.EventOnReceive, mailbox, st.ID, "h1", 0)
}

// runCounts counts the job ids the hook wrote.
func (c *cluster) runCounts() map[string]int {
	c.t.Helper()
	b, err := os.ReadFile(c.runs)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]int{}
	}
	if err != nil {
		c.t.Fatal(err)
	}
	out := map[string]int{}
	for _, l := range strings.Fields(string(b)) {
		out[l]++
	}
	return out
}

// waitDone waits until every job is done in st.
func waitDone(t *testing.T, st *pghooks.State, ids ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range ids {
		for {
			js, err := st.Job(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if js.Done {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("job %s not done within 30 s: %+v", id, js)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// setCheckpoint makes the first start scan mail received after t.
func setCheckpoint(t *testing.T, st *pghooks.State, at time.Time) {
	t.Helper()
	if err := st.SetCheckpoint(context.Background(), at); err != nil {
		t.Fatal(err)
	}
}

// TestTwoNodesRecoverOnce: two nodes start at once over the same pending
// jobs: each job runs exactly once, on one of them, with one start.
func TestTwoNodesRecoverOnce(t *testing.T) {
	c := newCluster(t, "tester")
	now := time.Now()
	var ids []string
	for i := range 30 {
		ids = append(ids, jobID(c.put("m"+string(rune('a'+i)), now.Add(-10*time.Minute+time.Duration(i)*time.Second))))
	}
	setCheckpoint(t, pghooks.New(openDB(t, c.dsn, "setup"), pghooks.Options{}), now.Add(-time.Hour))
	var wg sync.WaitGroup
	states := make([]*pghooks.State, 2)
	for i, name := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, states[i] = c.node(name, owners("tester"), 0)
		}()
	}
	wg.Wait()
	waitDone(t, states[0], ids...)
	time.Sleep(300 * time.Millisecond) // a few periodic scans more: nothing runs again
	counts := c.runCounts()
	for _, id := range ids {
		if counts[id] != 1 {
			t.Errorf("job %s ran %d times, want once", id, counts[id])
		}
		js, err := states[1].Job(context.Background(), id)
		if err != nil || js.Attempts != 1 || js.Outcome != hooks.OutcomeRan {
			t.Errorf("job %s: %+v, %v; want ran with 1 attempt", id, js, err)
		}
	}
	if len(counts) != len(ids) {
		t.Errorf("%d job ids ran, want %d", len(counts), len(ids))
	}
	c.mu.Lock()
	t.Logf("node a ran %d jobs, node b %d", len(c.ran["a"]), len(c.ran["b"]))
	c.mu.Unlock()
}

// TestDeadNodeClaimReRunsOnce: a job whose claim belongs to a node that
// died mid-run (it restarted, or stopped beating past the lease) runs
// again once, with the same AIMX_JOB_ID; one that used its last start so
// is given up, not run.
func TestDeadNodeClaimReRunsOnce(t *testing.T) {
	c := newCluster(t, "tester")
	ctx := context.Background()
	now := time.Now()
	restarted := jobID(c.put("restarted", now.Add(-3*time.Minute)))
	stale := jobID(c.put("stale", now.Add(-2*time.Minute)))
	exhausted := jobID(c.put("exhausted", now.Add(-time.Minute)))
	start := hooks.Claim{Start: true, At: now}

	// Node a starts restarted and exhausted (its second start), then
	// dies; it comes back as a new incarnation.
	a1 := pghooks.New(openDB(t, c.dsn, "a"), pghooks.Options{})
	setCheckpoint(t, a1, now.Add(-time.Hour))
	if err := a1.PutJob(ctx, exhausted, hooks.JobState{Attempts: 1, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{restarted, exhausted} {
		if _, status, err := a1.ClaimJob(ctx, id, start); err != nil || status != hooks.ClaimTaken {
			t.Fatalf("claim %s: %v, %v", id, status, err)
		}
	}
	openDB(t, c.dsn, "a")
	// Node c starts stale and beats, until it hangs.
	cdb := openDB(t, c.dsn, "c")
	cst := pghooks.New(cdb, pghooks.Options{})
	if _, status, err := cst.ClaimJob(ctx, stale, start); err != nil || status != hooks.ClaimTaken {
		t.Fatalf("claim stale: %v, %v", status, err)
	}
	beatCtx, hang := context.WithCancel(ctx)
	beating := make(chan struct{})
	go func() { defer close(beating); cdb.Beat(beatCtx, 50*time.Millisecond, nil, nil) }()
	defer func() { hang(); <-beating }()

	// Node b, whose lease is 1 s, takes over a's jobs at once, and c's
	// only once c stopped beating for a second.
	_, b := c.node("b", owners("tester"), time.Second)
	waitDone(t, b, restarted, exhausted)
	time.Sleep(300 * time.Millisecond) // several periodic scans of b
	if js, _ := b.Job(ctx, stale); c.runCounts()[stale] != 0 || js.Attempts != 1 {
		t.Fatalf("stale ran while c's claim was alive: %+v", js)
	}
	hang()
	waitDone(t, b, stale)
	counts := c.runCounts()
	for _, tc := range []struct {
		id       string
		runs     int
		attempts int
		outcome  string
	}{
		{restarted, 1, 2, hooks.OutcomeRan},
		{stale, 1, 2, hooks.OutcomeRan},
		{exhausted, 0, 2, hooks.OutcomeAbandoned},
	} {
		js, err := b.Job(ctx, tc.id)
		if err != nil {
			t.Fatal(err)
		}
		if counts[tc.id] != tc.runs || js.Attempts != tc.attempts || js.Outcome != tc.outcome {
			t.Errorf("job %s: ran %d times, %+v; want %d runs, %d attempts, %s", tc.id, counts[tc.id], js, tc.runs, tc.attempts, tc.outcome)
		}
	}
}

// TestOwnerOnOtherNode: a hook whose owner is not a user on node a waits
// there (no start counted, recorded at intake all the same) and runs on
// node b, where the owner is.
func TestOwnerOnOtherNode(t *testing.T) {
	c := newCluster(t, "alice")
	ctx := context.Background()
	sa, a := c.node("a", owners("tester"), 0)
	mb, _ := c.reg.Current().Mailbox(mailbox)
	if due := sa.Due(mb, storage.TrustedTrue); len(due) != 1 || due[0] != "h1" {
		t.Fatalf("Due on a node without the owner = %v, want [h1]: the job waits for another node", due)
	}
	if got := sa.Owners(); len(got) != 0 {
		t.Fatalf("a.Owners() = %v, want none", got)
	}
	m := c.put("for-alice", time.Now())
	id := jobID(m)
	sa.Enqueue(hooks.Received{Mailbox: mailbox, Ref: ref, ID: m.ID, ReceivedAt: m.Frontmatter.ReceivedAt, HooksDue: m.Frontmatter.HooksDue})
	time.Sleep(500 * time.Millisecond) // the enqueue and several periodic scans on a
	if js, err := a.Job(ctx, id); err != nil || js != (hooks.JobState{}) {
		t.Fatalf("job on a node without its owner: %+v, %v; want untouched", js, err)
	}
	sb, _ := c.node("b", owners("alice"), 0)
	if got := sb.Owners(); len(got) != 1 || got[0] != "alice" {
		t.Fatalf("b.Owners() = %v, want [alice]", got)
	}
	waitDone(t, a, id)
	c.mu.Lock()
	ranA, ranB := len(c.ran["a"]), len(c.ran["b"])
	c.mu.Unlock()
	if ranA != 0 || ranB != 1 || c.runCounts()[id] != 1 {
		t.Fatalf("runs: a %d, b %d, hook wrote %d; want it once, on b", ranA, ranB, c.runCounts()[id])
	}
	if js, _ := a.Job(ctx, id); js.Attempts != 1 {
		t.Fatalf("job %+v, want 1 attempt", js)
	}
}

// TestWaitingJobHoldsCheckpoint: a job no node can run yet keeps the
// shared checkpoint at or before its mail, however old, so the node that
// can run it still finds it when it comes.
func TestWaitingJobHoldsCheckpoint(t *testing.T) {
	c := newCluster(t, "alice")
	ctx := context.Background()
	now := time.Now()
	m := c.put("old", now.Add(-2*time.Hour))
	setup := pghooks.New(openDB(t, c.dsn, "setup"), pghooks.Options{})
	setCheckpoint(t, setup, now.Add(-3*time.Hour))
	_, a := c.node("a", owners("tester"), 0)
	time.Sleep(500 * time.Millisecond) // several scans of a, each moving the checkpoint
	cp, ok, err := a.Checkpoint(ctx)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if cp.After(m.Frontmatter.ReceivedAt) {
		t.Fatalf("checkpoint %v passed the waiting job's mail (%v)", cp, m.Frontmatter.ReceivedAt)
	}
	if !cp.After(now.Add(-3 * time.Hour)) {
		t.Errorf("checkpoint %v did not move at all", cp)
	}
	c.node("b", owners("alice"), 0)
	waitDone(t, a, jobID(m))
}

// TestAfterSendAcrossNodes: the after_send rounds one node records are
// run once across two nodes (the other finds them in its scans), and
// forgotten once done.
func TestAfterSendAcrossNodes(t *testing.T) {
	c := newCluster(t, "tester")
	ctx := context.Background()
	sa, a := c.node("a", owners("tester"), 0)
	c.node("b", owners("tester"), 0)
	var ids []string
	for i := range 10 {
		at := time.Now()
		m, err := c.store.Put(ctx, storage.PutRequest{
			Mailbox: ref, Folder: storage.Sent, At: at,
			Frontmatter: storage.Frontmatter{
				MessageID: "sent" + string(rune('a'+i)) + "@a.test", From: mailbox, To: []string{"bob@x.test"},
				Subject: "sent", Date: at.UTC().Format(time.RFC3339), DeliveryStatus: "delivered",
			},
			Body: "sent\n",
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := sa.RecordAfterSend(ctx, hooks.AfterSend{Mailbox: mailbox, ID: m.ID, Round: 1, Status: "delivered"}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, hooks.JobID(hooks.EventAfterSend, mailbox, m.ID, "s1", 1))
	}
	waitDone(t, a, ids...)
	time.Sleep(300 * time.Millisecond)
	counts := c.runCounts()
	for _, id := range ids {
		if counts[id] != 1 {
			t.Errorf("after_send job %s ran %d times, want once", id, counts[id])
		}
	}
	recs, err := a.AfterSend(ctx)
	if err != nil || len(recs) != 0 {
		t.Errorf("after_send rounds left: %d, %v; want none", len(recs), err)
	}
}
