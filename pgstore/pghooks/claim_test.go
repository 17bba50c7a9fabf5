package pghooks_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/hooks"
	"github.com/aimx-dev/aimx/internal/pgtest"
	"github.com/aimx-dev/aimx/pgstore/pghooks"
)

// TestClaimRace: nodes racing for the same jobs get exactly one claim per
// job, and the start is counted once.
func TestClaimRace(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	const nodes, jobs = 4, 50
	states := make([]*pghooks.State, nodes)
	for i := range states {
		states[i] = pghooks.New(openDB(t, dsn, string(rune('a'+i))), pghooks.Options{})
	}
	won := make([][]string, nodes)
	var wg sync.WaitGroup
	for i, st := range states {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				id := hooks.JobID(hooks.EventOnReceive, "a@x.test", "m", "h", j)
				_, status, err := st.ClaimJob(ctx, id, hooks.Claim{Start: true, At: time.Now()})
				if err != nil {
					t.Error(err)
					return
				}
				if status == hooks.ClaimTaken {
					won[i] = append(won[i], id)
				} else if status != hooks.ClaimHeld {
					t.Errorf("node %d job %d: status %v, want taken or held", i, j, status)
				}
			}
		}()
	}
	wg.Wait()
	seen := map[string]int{}
	for _, ids := range won {
		for _, id := range ids {
			seen[id]++
		}
	}
	if len(seen) != jobs {
		t.Fatalf("%d jobs claimed, want %d", len(seen), jobs)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("job %s claimed %d times", id, n)
		}
		if js, err := states[0].Job(ctx, id); err != nil || js.Attempts != 1 {
			t.Errorf("job %s: %+v, %v; want 1 attempt", id, js, err)
		}
	}
}

// TestClaimLifecycle walks one job through the claim outcomes: a live
// claim holds off other nodes but not its own; a dead incarnation's claim
// is taken over; starts stop at MaxAttempts; a webhook claim counts
// nothing; a done job is not claimed.
func TestClaimLifecycle(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	a1 := pghooks.New(openDB(t, dsn, "a"), pghooks.Options{})
	b := pghooks.New(openDB(t, dsn, "b"), pghooks.Options{})
	const id = "00000000000000aa"
	start := hooks.Claim{Start: true, At: time.Now()}
	step := func(name string, st *pghooks.State, c hooks.Claim, want hooks.ClaimStatus, attempts int) {
		t.Helper()
		js, got, err := st.ClaimJob(ctx, id, c)
		if err != nil || got != want || js.Attempts != attempts {
			t.Fatalf("%s: ClaimJob = %+v, %v, %v; want %v with %d attempts", name, js, got, err, want, attempts)
		}
	}
	step("first start on a", a1, start, hooks.ClaimTaken, 1)
	step("b while a runs", b, start, hooks.ClaimHeld, 1)
	// a restarts: a new incarnation of the same node name.
	a2 := pghooks.New(openDB(t, dsn, "a"), pghooks.Options{})
	step("b after a restarted", b, start, hooks.ClaimTaken, 2)
	step("b again (its own claim)", b, hooks.Claim{At: time.Now()}, hooks.ClaimTaken, 2)
	step("a2 while b runs", a2, start, hooks.ClaimHeld, 2)
	// b's lease runs out: a node with a short lease sees b's claim dead.
	short := pghooks.New(openDB(t, dsn, "c"), pghooks.Options{Lease: time.Millisecond})
	time.Sleep(10 * time.Millisecond)
	step("c after b's lease ended, starts used up", short, start, hooks.ClaimExhausted, 2)
	step("c as a webhook (no cap)", short, hooks.Claim{At: time.Now()}, hooks.ClaimTaken, 2)
	if err := a2.PutJob(ctx, id, hooks.JobState{Attempts: 2, Done: true, Outcome: hooks.OutcomeRan, UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	step("a2 on a done job", a2, hooks.Claim{At: time.Now()}, hooks.ClaimDone, 2)
	if _, _, err := pghooks.New(openDBUnregistered(t, dsn, "d"), pghooks.Options{}).ClaimJob(ctx, id, start); err == nil {
		t.Fatal("an unregistered node took a claim")
	}
}

func TestJobsDone(t *testing.T) {
	ctx := context.Background()
	st := pghooks.New(openDB(t, pgtest.DSN(t), "a"), pghooks.Options{})
	now := time.Now()
	for id, js := range map[string]hooks.JobState{
		"00000000000000d1": {Attempts: 1, Done: true, Outcome: hooks.OutcomeRan, UpdatedAt: now},
		"00000000000000d2": {Done: true, Outcome: hooks.OutcomeSkipped, UpdatedAt: now},
		"00000000000000a1": {Attempts: 1, UpdatedAt: now},
	} {
		if err := st.PutJob(ctx, id, js); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.JobsDone(ctx, []string{"00000000000000d1", "00000000000000a1", "00000000000000n1", "00000000000000d2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got["00000000000000d1"] || !got["00000000000000d2"] {
		t.Fatalf("JobsDone = %v, want d1 and d2", got)
	}
	// Past one batch: the done job at the end is found too.
	many := make([]string, 2500)
	for i := range many {
		many[i] = fmt.Sprintf("%016x", i+1<<20)
	}
	many = append(many, "00000000000000d2")
	if got, err := st.JobsDone(ctx, many); err != nil || len(got) != 1 || !got["00000000000000d2"] {
		t.Fatalf("JobsDone of %d ids = %v, %v; want d2", len(many), got, err)
	}
}
