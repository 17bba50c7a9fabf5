package hooks

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// twoOwnerConfig has alice@a.test owned by alice and bob@a.test owned by
// bob, each with one on_receive hook.
func twoOwnerConfig() *domains.Config {
	c := domains.Default("a.test")
	for _, o := range []string{"alice", "bob"} {
		name := o + "@a.test"
		c.Mailboxes[name] = domains.Mailbox{Name: name, Owner: o, Hooks: []domains.Hook{onReceive("h-" + o)}}
	}
	c.Mailboxes["*@a.test"] = domains.Mailbox{Name: "*@a.test", Owner: "alice"}
	return c
}

// putFor stores an inbound message for owner's mailbox and returns what
// inbound would enqueue for it.
func (e *schedEnv) putFor(owner, subject string) Received {
	e.t.Helper()
	mailbox := owner + "@a.test"
	ref := storage.MailboxRef{Domain: "a.test", Local: owner}
	at := time.Now()
	st, err := e.store.Put(context.Background(), storage.PutRequest{
		Mailbox: ref, Folder: storage.Inbox, At: at,
		Frontmatter: storage.Frontmatter{
			MessageID: subject + "@x.test", From: "x@x.test", To: []string{mailbox}, Subject: subject,
			Date: at.UTC().Format(time.RFC3339), ReceivedAt: at, DKIM: "none", SPF: "none", DMARC: "none",
			Trusted: "true", HooksDue: []string{"h-" + owner},
		},
		Body: "body\n",
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return Received{Mailbox: mailbox, Ref: ref, ID: st.ID, ReceivedAt: at, HooksDue: st.Frontmatter.HooksDue}
}

// TestM5_BacklogDelaysAnotherOwnerByOneRunAtMost: with one worker, alice
// queues three slow hooks and then bob one. Runs are released one at a
// time; bob's starts right after alice's first, not after all of hers (the
// old single FIFO ran a1 a2 a3 b1).
func TestM5_BacklogDelaysAnotherOwnerByOneRunAtMost(t *testing.T) {
	t.Parallel()
	e := newSchedEnv(t, twoOwnerConfig(), "")
	e.exec.step = make(chan struct{})
	s := e.start()
	var want []string
	for i := range 3 {
		m := e.putFor("alice", fmt.Sprintf("a%d", i+1))
		s.Enqueue(m)
		want = append(want, m.ID)
	}
	b := e.putFor("bob", "b1")
	s.Enqueue(b)
	want = append(want[:1], append([]string{b.ID}, want[1:]...)...)
	for i, id := range want {
		r := e.exec.next(t)
		if r.Env.ID != id {
			t.Fatalf("start %d ran %s (%s), want %s", i+1, r.Env.ID, r.Env.Mailbox, id)
		}
		e.exec.step <- struct{}{}
	}
}

// TestM5_OtherOwnerStartsWhileBacklogIsStuck: with two workers, alice's
// backlog holds at most one (the per-owner cap), so bob's hook starts
// while all of alice's are still blocked.
func TestM5_OtherOwnerStartsWhileBacklogIsStuck(t *testing.T) {
	t.Parallel()
	e := newSchedEnv(t, twoOwnerConfig(), "")
	e.opts.Workers = 2
	e.exec.hold = make(chan struct{})
	s := e.start()
	for i := range 5 {
		s.Enqueue(e.putFor("alice", fmt.Sprintf("a%d", i+1)))
	}
	b := e.putFor("bob", "b1")
	s.Enqueue(b)
	first := e.exec.next(t)
	second := e.exec.next(t)
	if first.Env.Mailbox != "alice@a.test" || second.Env.ID != b.ID {
		t.Fatalf("started %s then %s, want an alice hook then bob's %s", first.Env.ID, second.Env.ID, b.ID)
	}
	close(e.exec.hold)
}

// TestFairQueueRotation: owners with waiting jobs take turns, one job a
// turn, and the per-owner cap holds back an owner's further jobs until
// one of its running jobs is done.
func TestFairQueueRotation(t *testing.T) {
	t.Parallel()
	q := newFairQueue(100, 10)
	for _, s := range []string{"A1", "A2", "A3", "B1", "C1", "C2"} {
		if !q.push(job{id: s, owner: s[:1]}) {
			t.Fatal("queue full")
		}
	}
	ctx := context.Background()
	var got string
	for range 6 {
		j, _ := q.pop(ctx)
		got += j.id + " "
	}
	if want := "A1 B1 C1 A2 C2 A3 "; got != want {
		t.Errorf("order %q, want %q", got, want)
	}

	capped := newFairQueue(100, 1)
	capped.push(job{id: "A1", owner: "A"})
	capped.push(job{id: "A2", owner: "A"})
	a1, _ := capped.pop(ctx)
	short, cancel := context.WithCancel(ctx)
	cancel()
	if j, ok := capped.pop(short); ok {
		t.Fatalf("took %s while A1 runs, over the per-owner cap", j.id)
	}
	capped.done(a1)
	if j, ok := capped.pop(ctx); !ok || j.id != "A2" {
		t.Fatalf("after A1 is done took %v %v, want A2", j.id, ok)
	}
}

// TestFairQueueBound: push refuses over the limit and pushWait waits for
// room, which taking a job makes.
func TestFairQueueBound(t *testing.T) {
	t.Parallel()
	q := newFairQueue(1, 1)
	if !q.push(job{id: "1", owner: "A"}) || q.push(job{id: "2", owner: "B"}) {
		t.Fatal("limit 1 not kept")
	}
	done := make(chan error, 1)
	go func() { done <- q.pushWait(context.Background(), job{id: "3", owner: "B"}) }()
	if j, _ := q.pop(context.Background()); j.id != "1" {
		t.Fatalf("took %s", j.id)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if j, _ := q.pop(context.Background()); j.id != "3" {
		t.Fatalf("took %s, want the waiting push", j.id)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	q.push(job{id: "4", owner: "A"})
	if err := q.pushWait(ctx, job{id: "5", owner: "A"}); err == nil {
		t.Fatal("pushWait into a full queue returned without room")
	}
}
