package hooks

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// TestSchedulerRunsOnceWithMessage: an enqueued job runs once as the hook,
// with the .md on stdin and the message's variables, and is then done; a
// second enqueue of the same message (as a bug upstream might do) does not
// run it again.
func TestSchedulerRunsOnceWithMessage(t *testing.T) {
	t.Parallel()
	e := newSchedEnv(t, testConfig(onReceive("h1", "/bin/echo", "x")), "")
	s := e.start()
	st := e.put("hello", time.Now(), "h1")
	s.Enqueue(received(st))
	r := e.exec.next(t)
	md, err := os.ReadFile(e.mdPath(st))
	if err != nil {
		t.Fatal(err)
	}
	wantID := JobID(EventOnReceive, testMailbox, st.ID, "h1", 0)
	if r.HookName != "h1" || r.JobID != wantID || r.Event != EventOnReceive || r.Argv[0] != "/bin/echo" ||
		r.Env.Subject != "hello" || r.Env.ID != st.ID || r.Env.FilePath != e.mdPath(st) || r.Env.MessageID != "hello@x.test" ||
		r.Env.Trusted != "true" || r.Env.Mailbox != testMailbox || r.Owner.Name != "tester" || r.Timeout != 5*time.Second {
		t.Errorf("run %+v", r.Run)
	}
	if r.stdin != string(md) {
		t.Errorf("stdin is not the .md")
	}
	// Enqueue again and then a second message: with one worker the
	// second message's run proves the repeat was handled first.
	s.Enqueue(received(st))
	st2 := e.put("second", time.Now(), "h1")
	s.Enqueue(received(st2))
	if r2 := e.exec.next(t); r2.Env.ID != st2.ID {
		t.Fatalf("ran %s again, want only the second message", r2.Env.ID)
	}
	e.stop()
	if n := len(e.exec.all()); n != 2 {
		t.Errorf("%d runs, want 2", n)
	}
	js := e.job(wantID)
	if !js.Done || js.Attempts != 1 || js.Outcome != OutcomeRan {
		t.Errorf("job state %+v", js)
	}
}

// TestSchedulerRecovery: after a restart, due jobs run, an interrupted job
// runs once more with the same job id, a job interrupted twice is given up,
// and done jobs never run again (book/hooks.md).
func TestSchedulerRecovery(t *testing.T) {
	t.Parallel()
	e := newSchedEnv(t, testConfig(onReceive("h1")), "")
	state := e.state() // not fresh: the scheduler scans from the checkpoint
	base := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	if err := state.SetCheckpoint(context.Background(), base.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	done := e.put("done", base, "h1")
	interrupted := e.put("interrupted", base.Add(time.Second), "h1")
	twice := e.put("twice", base.Add(2*time.Second), "h1")
	due := e.put("due", base.Add(3*time.Second), "h1")
	e.put("nohooks", base.Add(4*time.Second))
	old := e.put("before-checkpoint", base.Add(-time.Hour), "h1")
	jid := func(msg string) string { return JobID(EventOnReceive, testMailbox, msg, "h1", 0) }
	for msg, js := range map[string]JobState{
		done.ID:        {Attempts: 1, Done: true, Outcome: OutcomeRan},
		interrupted.ID: {Attempts: 1},
		twice.ID:       {Attempts: 2},
	} {
		if err := state.PutJob(context.Background(), jid(msg), js); err != nil {
			t.Fatal(err)
		}
	}
	e.start()
	if r := e.exec.next(t); r.Env.ID != interrupted.ID || r.JobID != jid(interrupted.ID) {
		t.Fatalf("first recovered run %s (%s), want the interrupted one", r.Env.ID, r.JobID)
	}
	if r := e.exec.next(t); r.Env.ID != due.ID {
		t.Fatalf("second recovered run %s, want the due one", r.Env.ID)
	}
	e.stop()
	if n := len(e.exec.all()); n != 2 {
		t.Errorf("%d runs, want 2: %v", n, e.exec.all())
	}
	if js := e.job(jid(interrupted.ID)); !js.Done || js.Attempts != 2 {
		t.Errorf("interrupted job %+v, want done after its second attempt", js)
	}
	if js := e.job(jid(twice.ID)); !js.Done || js.Outcome != OutcomeAbandoned {
		t.Errorf("twice-interrupted job %+v, want abandoned", js)
	}
	if !strings.Contains(e.log.String(), "interrupted twice") {
		t.Errorf("no error line for the abandoned job:\n%s", e.log.String())
	}
	if js := e.job(jid(old.ID)); js.Attempts != 0 {
		t.Errorf("mail before the checkpoint was scanned: %+v", js)
	}
}

// TestSchedulerFreshStateSkipsOldMail: the first start (no state dir) does
// not fire hooks for mail already stored, even with hooks_due.
func TestSchedulerFreshStateSkipsOldMail(t *testing.T) {
	t.Parallel()
	e := newSchedEnv(t, testConfig(onReceive("h1")), "")
	old := e.put("old", time.Now().Add(-time.Minute), "h1")
	s := e.start()
	st := e.put("new", time.Now(), "h1")
	s.Enqueue(received(st))
	if r := e.exec.next(t); r.Env.ID != st.ID {
		t.Fatalf("ran %s, want only the new message (old %s)", r.Env.ID, old.ID)
	}
	e.stop()
	if n := len(e.exec.all()); n != 1 {
		t.Errorf("%d runs, want 1", n)
	}
}

// TestSchedulerShutdownInterrupts: a run stopped by shutdown is not done,
// and the next start runs it again with the same job id.
func TestSchedulerShutdownInterrupts(t *testing.T) {
	t.Parallel()
	e := newSchedEnv(t, testConfig(onReceive("h1")), "")
	e.exec.hold = make(chan struct{})
	s := e.start()
	st := e.put("slow", time.Now(), "h1")
	s.Enqueue(received(st))
	first := e.exec.next(t)
	e.stop()
	if js := e.job(first.JobID); js.Done || js.Attempts != 1 {
		t.Fatalf("after shutdown the job is %+v, want started once and not done", js)
	}
	e2 := newSchedEnv(t, testConfig(onReceive("h1")), e.data)
	e2.start()
	second := e2.exec.next(t)
	if second.JobID != first.JobID || second.Env.ID != st.ID {
		t.Errorf("re-run %s/%s, want the same job %s", second.JobID, second.Env.ID, first.JobID)
	}
	e2.stop()
	if js := e2.job(first.JobID); !js.Done || js.Attempts != 2 {
		t.Errorf("job %+v, want done after 2 attempts", js)
	}
}

// TestSchedulerQueueFullRecovers: a full queue never blocks Enqueue; the
// dropped jobs are found again by the rescan from hooks_due.
func TestSchedulerQueueFullRecovers(t *testing.T) {
	t.Parallel()
	e := newSchedEnv(t, testConfig(onReceive("h1")), "")
	e.opts.QueueSize = 1
	e.exec.hold = make(chan struct{})
	s := e.start()
	var ids []string
	first := e.put("m0", time.Now(), "h1")
	s.Enqueue(received(first))
	e.exec.next(t) // the worker holds m0; the queue is empty again
	for i := 1; i <= 4; i++ {
		st := e.put(fmt.Sprintf("m%d", i), time.Now(), "h1")
		ids = append(ids, st.ID)
		s.Enqueue(received(st)) // returns at once even though the queue is full
	}
	if !strings.Contains(e.log.String(), "hook queue full") {
		t.Fatalf("no drop was logged:\n%s", e.log.String())
	}
	close(e.exec.hold)
	seen := map[string]bool{}
	for len(seen) < 4 {
		r := e.exec.next(t)
		if seen[r.Env.ID] {
			t.Fatalf("%s ran twice", r.Env.ID)
		}
		seen[r.Env.ID] = true
	}
	for _, id := range ids {
		if !seen[id] {
			t.Errorf("%s never ran", id)
		}
	}
}

// TestSchedulerSkips: a job whose hook was deleted from the config, whose
// message is gone or whose owner no longer resolves is skipped with a log
// line and marked done, never run.
func TestSchedulerSkips(t *testing.T) {
	t.Parallel()
	e := newSchedEnv(t, testConfig(onReceive("h1"), onReceive("h2")), "")
	owners := map[string]bool{"tester": true}
	e.opts.LookupOwner = func(n string) (Owner, error) {
		if !owners[n] {
			return Owner{}, fmt.Errorf("user: unknown user %s", n)
		}
		return Owner{Name: n}, nil
	}
	s := e.start()
	gone := e.put("gone", time.Now(), "h2")
	e.reg.Swap(testConfig(onReceive("h1")))
	s.Enqueue(received(gone)) // h2 deleted meanwhile
	missing := e.put("missing", time.Now(), "h1")
	if err := os.Remove(e.mdPath(missing)); err != nil {
		t.Fatal(err)
	}
	s.Enqueue(received(missing))
	last := e.put("last", time.Now(), "h1")
	s.Enqueue(received(last))
	if r := e.exec.next(t); r.Env.ID != last.ID {
		t.Fatalf("ran %s, want only %s", r.Env.ID, last.ID)
	}
	for _, c := range []struct{ msg, hook, reason string }{{gone.ID, "h2", reasonHookGone}, {missing.ID, "h1", reasonMessageGone}} {
		js := e.job(JobID(EventOnReceive, testMailbox, c.msg, c.hook, 0))
		if !js.Done || js.Outcome != OutcomeSkipped || js.Reason != c.reason || js.Attempts != 0 {
			t.Errorf("%s: %+v, want skipped for %s", c.msg, js, c.reason)
		}
		if !strings.Contains(e.log.String(), `"reason":"`+c.reason+`"`) {
			t.Errorf("no log line for %s", c.reason)
		}
	}
	e.stop()
}

// TestSchedulerOwnerGoneAtRunTime: an owner that stopped resolving after
// the message was stored skips the hook with a warning.
func TestSchedulerOwnerGoneAtRunTime(t *testing.T) {
	t.Parallel()
	cfg := testConfig(onReceive("h1"))
	mb := cfg.Mailboxes[testMailbox]
	mb.Owner = "gone"
	cfg.Mailboxes[testMailbox] = mb
	e := newSchedEnv(t, cfg, "")
	e.opts.LookupOwner = func(n string) (Owner, error) { return Owner{}, fmt.Errorf("user: unknown user %s", n) }
	s := e.start()
	st := e.put("orphan", time.Now(), "h1")
	s.Enqueue(received(st))
	id := JobID(EventOnReceive, testMailbox, st.ID, "h1", 0)
	waitFor(t, func() bool { return e.job(id).Done })
	e.stop()
	if js := e.job(id); js.Reason != reasonOwnerUnknown || len(e.exec.all()) != 0 {
		t.Errorf("job %+v, runs %d: want skipped for the owner", js, len(e.exec.all()))
	}
	if !strings.Contains(e.log.String(), `"owner":"gone"`) {
		t.Errorf("warning does not name the owner:\n%s", e.log.String())
	}
}

// TestSchedulerAfterSend: a recorded delivery round runs each after_send
// hook once with the round's status and the sent .md, recording it again
// does nothing, and the record is removed when its jobs are done.
func TestSchedulerAfterSend(t *testing.T) {
	t.Parallel()
	after := domains.Hook{Name: "notify", Event: domains.EventAfterSend, Cmd: []string{"/bin/true"}, TimeoutSecs: 5}
	e := newSchedEnv(t, testConfig(onReceive("h1"), after), "")
	s := e.start()
	sent, err := e.store.Put(context.Background(), storageSentRequest())
	if err != nil {
		t.Fatal(err)
	}
	a := AfterSend{Mailbox: testMailbox, ID: sent.ID, Round: 1, Status: "delivered"}
	if err := s.RecordAfterSend(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	r := e.exec.next(t)
	if r.HookName != "notify" || r.Event != EventAfterSend || r.Env.SendStatus != "delivered" || r.Env.ID != sent.ID ||
		r.JobID != JobID(EventAfterSend, testMailbox, sent.ID, "notify", 1) || !strings.Contains(r.stdin, "outbound = true") {
		t.Errorf("after_send run %+v", r.Run)
	}
	if err := s.RecordAfterSend(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	// Round 2 is new work; with one worker, it running proves the repeat
	// of round 1 queued nothing before it.
	if err := s.RecordAfterSend(context.Background(), AfterSend{Mailbox: testMailbox, ID: sent.ID, Round: 2, Status: "failed"}); err != nil {
		t.Fatal(err)
	}
	if r := e.exec.next(t); r.Env.SendStatus != "failed" {
		t.Fatalf("second run status %q, want the round 2 run", r.Env.SendStatus)
	}
	e.stop()
	if n := len(e.exec.all()); n != 2 {
		t.Errorf("%d runs, want 2", n)
	}
	recs, err := e.state().AfterSend(context.Background())
	if err != nil || len(recs) != 0 {
		t.Errorf("after_send records left: %v %v", recs, err)
	}
	if err := s.RecordAfterSend(context.Background(), AfterSend{Mailbox: "nobody@a.test", ID: "x", Round: 1}); err == nil {
		t.Error("after_send work for an unknown mailbox was accepted")
	}
}

// TestSchedulerAfterSendRecovered: a recorded round whose hook never ran
// (crash before the worker took it) runs after a restart.
func TestSchedulerAfterSendRecovered(t *testing.T) {
	t.Parallel()
	after := domains.Hook{Name: "notify", Event: domains.EventAfterSend, Cmd: []string{"/bin/true"}, TimeoutSecs: 5}
	e := newSchedEnv(t, testConfig(after), "")
	sent, err := e.store.Put(context.Background(), storageSentRequest())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.state().AddAfterSend(context.Background(), AfterSendRecord{Mailbox: testMailbox, ID: sent.ID, Round: 1, Status: "deferred", Hooks: []string{"notify"}}); err != nil {
		t.Fatal(err)
	}
	e.start()
	if r := e.exec.next(t); r.Env.SendStatus != "deferred" || r.Env.ID != sent.ID {
		t.Errorf("recovered run %+v", r.Run)
	}
}

// TestSchedulerCheckpoint: the checkpoint never passes a pending job's
// receipt time and advances once the job is done.
func TestSchedulerCheckpoint(t *testing.T) {
	t.Parallel()
	e := newSchedEnv(t, testConfig(onReceive("h1")), "")
	now := time.Now().UTC().Add(2 * time.Hour)
	e.opts.Now = func() time.Time { return now }
	e.opts.CheckpointLag = time.Minute
	e.opts.Workers = 2
	e.opts.PerOwner = 2 // both jobs are one owner's
	e.exec.hold = make(chan struct{})
	oldAt := now.Add(-90 * time.Minute).Truncate(time.Second)
	initial := oldAt.Add(-time.Hour)
	if err := e.state().SetCheckpoint(context.Background(), initial); err != nil {
		t.Fatal(err)
	}
	e.put("slow", oldAt, "h1") // found by the recovery scan
	s := e.start()
	e.exec.next(t)
	fast := e.put("fast", now.Add(-30*time.Minute), "h1")
	// Finish another job while the slow one runs: the checkpoint may move
	// only up to the slow one's receipt time.
	e.exec.mu.Lock()
	e.exec.hold = nil
	e.exec.mu.Unlock()
	s.Enqueue(received(fast))
	e.exec.next(t)
	waitFor(t, func() bool { return s.Pending() == 1 })
	cp, ok, err := e.state().Checkpoint(context.Background())
	if err != nil || !ok || cp.After(oldAt) || !cp.After(initial) {
		t.Fatalf("checkpoint %v (%v %v): want advanced from %v but not past the running job received at %v", cp, ok, err, initial, oldAt)
	}
	e.stop()
}

// waitFor polls cond with a backstop; for state that has no event to wait on.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met")
		}
		time.Sleep(time.Millisecond)
	}
}

func storageSentRequest() storage.PutRequest {
	at := time.Now().UTC().Truncate(time.Second)
	return storage.PutRequest{
		Mailbox: testRef, Folder: storage.Sent, At: at,
		Frontmatter: storage.Frontmatter{
			MessageID: "sent@a.test", From: testMailbox, To: []string{"bob@x.test"}, Subject: "sent",
			Date: at.Format(time.RFC3339), DKIM: "none", SPF: "none", DMARC: "none", Trusted: "none",
			DeliveryStatus: "queued",
		},
		Body: "sent body\n",
	}
}
