// Package hookstatetest is the conformance suite of hooks.StateStore
// (book/architecture.md, "The interfaces a backend implements"): every
// implementation (hooks.FileState, the postgres backend's pghooks.State)
// runs the same tests, so the scheduler may rely on the behaviour they
// assert and not on one implementation.
package hookstatetest

import (
	"context"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/hooks"
)

// Run runs the conformance suite. open returns a new, empty state for each
// subtest (a fresh directory, a fresh database); the suite never shares
// one between subtests.
func Run(t *testing.T, open func(t *testing.T) hooks.StateStore) {
	t.Run("NewStateHasNoCheckpoint", func(t *testing.T) { testNewState(t, open(t)) })
	t.Run("JobRoundTrip", func(t *testing.T) { testJobRoundTrip(t, open(t)) })
	t.Run("PruneJobs", func(t *testing.T) { testPruneJobs(t, open(t)) })
	t.Run("AfterSend", func(t *testing.T) { testAfterSend(t, open(t)) })
	t.Run("Checkpoint", func(t *testing.T) { testCheckpoint(t, open(t)) })
}

// at is a fixed instant with microseconds, the finest precision every
// store keeps.
var at = time.Date(2026, 11, 23, 12, 30, 45, 123456000, time.UTC)

func testNewState(t *testing.T, st hooks.StateStore) {
	ctx := context.Background()
	if cp, ok, err := st.Checkpoint(ctx); err != nil || ok {
		t.Fatalf("Checkpoint of a new state = %v, %v, %v; want ok false and no error", cp, ok, err)
	}
	js, err := st.Job(ctx, "0123456789abcdef")
	if err != nil {
		t.Fatalf("Job of a job never started: %v", err)
	}
	if js != (hooks.JobState{}) {
		t.Fatalf("Job of a job never started = %+v, want the zero JobState", js)
	}
	recs, err := st.AfterSend(ctx)
	if err != nil || len(recs) != 0 {
		t.Fatalf("AfterSend of a new state = %v, %v; want none", recs, err)
	}
}

func testJobRoundTrip(t *testing.T, st hooks.StateStore) {
	ctx := context.Background()
	cases := []struct {
		name string
		id   string
		js   hooks.JobState
	}{
		{"started", "1000000000000001", hooks.JobState{Attempts: 1, UpdatedAt: at}},
		{"ran", "1000000000000002", hooks.JobState{Attempts: 2, Done: true, Outcome: hooks.OutcomeRan, ExitCode: 3, TimedOut: true, UpdatedAt: at}},
		{"skipped", "1000000000000003", hooks.JobState{Done: true, Outcome: hooks.OutcomeSkipped, Reason: "hook_deleted", UpdatedAt: at}},
		{"negative exit", "1000000000000004", hooks.JobState{Attempts: 1, Done: true, Outcome: hooks.OutcomeRan, ExitCode: -1, UpdatedAt: at}},
		{"webhook retrying", "1000000000000005", hooks.JobState{
			Attempts: 3, Status: 503, UpdatedAt: at,
			FirstAttemptAt: at.Add(-time.Hour), NextAttemptAt: at.Add(30 * time.Minute),
		}},
		{"webhook delivered", "1000000000000006", hooks.JobState{
			Attempts: 1, Done: true, Outcome: hooks.OutcomeDelivered, Status: 204, UpdatedAt: at, FirstAttemptAt: at,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := st.PutJob(ctx, c.id, c.js); err != nil {
				t.Fatal(err)
			}
			got, err := st.Job(ctx, c.id)
			if err != nil {
				t.Fatal(err)
			}
			if !sameJob(got, c.js) {
				t.Fatalf("Job after PutJob = %+v\nwant %+v", got, c.js)
			}
		})
	}
	// PutJob replaces: fields of the old record do not survive.
	id := cases[4].id
	final := hooks.JobState{Attempts: 4, Done: true, Outcome: hooks.OutcomeAbandoned, Reason: "gave_up", UpdatedAt: at.Add(time.Minute)}
	if err := st.PutJob(ctx, id, final); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Job(ctx, id); err != nil || !sameJob(got, final) {
		t.Fatalf("Job after a replacing PutJob = %+v, %v\nwant %+v", got, err, final)
	}
}

// sameJob compares two JobStates, their times by instant.
func sameJob(a, b hooks.JobState) bool {
	if !a.UpdatedAt.Equal(b.UpdatedAt) || !a.FirstAttemptAt.Equal(b.FirstAttemptAt) || !a.NextAttemptAt.Equal(b.NextAttemptAt) {
		return false
	}
	a.UpdatedAt, a.FirstAttemptAt, a.NextAttemptAt = time.Time{}, time.Time{}, time.Time{}
	b.UpdatedAt, b.FirstAttemptAt, b.NextAttemptAt = time.Time{}, time.Time{}, time.Time{}
	return a == b
}

func testPruneJobs(t *testing.T, st hooks.StateStore) {
	ctx := context.Background()
	cutoff := at.Add(-hooks.JobRetention)
	old, recent := cutoff.Add(-time.Hour), cutoff.Add(time.Hour)
	cases := []struct {
		id      string
		js      hooks.JobState
		keep    bool
		removed bool
	}{
		{"aa00000000000001", hooks.JobState{Attempts: 1, Done: true, Outcome: hooks.OutcomeRan, UpdatedAt: old}, false, true},
		{"aa00000000000002", hooks.JobState{Attempts: 1, Done: true, Outcome: hooks.OutcomeRan, UpdatedAt: recent}, false, false},
		{"aa00000000000003", hooks.JobState{Attempts: 1, Done: true, Outcome: hooks.OutcomeRan, UpdatedAt: cutoff}, false, false},
		{"bb00000000000004", hooks.JobState{Attempts: 1, UpdatedAt: old}, false, false},
		{"cc00000000000005", hooks.JobState{Attempts: 1, Done: true, Outcome: hooks.OutcomeSkipped, UpdatedAt: old}, true, false},
		{"dd00000000000006", hooks.JobState{Done: true, Outcome: hooks.OutcomeSkipped, Reason: "mailbox_deleted", UpdatedAt: old}, false, true},
	}
	keep := map[string]bool{}
	want := 0
	for _, c := range cases {
		if err := st.PutJob(ctx, c.id, c.js); err != nil {
			t.Fatal(err)
		}
		if c.keep {
			keep[c.id] = true
		}
		if c.removed {
			want++
		}
	}
	n, err := st.PruneJobs(ctx, cutoff, keep)
	if err != nil || n != want {
		t.Fatalf("PruneJobs = %d, %v; want %d removed", n, err, want)
	}
	for _, c := range cases {
		got, err := st.Job(ctx, c.id)
		if err != nil {
			t.Fatal(err)
		}
		gone := got == (hooks.JobState{})
		if gone != c.removed {
			t.Errorf("job %s (%+v, keep %v): removed %v, want %v", c.id, c.js, c.keep, gone, c.removed)
		}
	}
	if n, err := st.PruneJobs(ctx, cutoff, keep); err != nil || n != 0 {
		t.Fatalf("a second PruneJobs = %d, %v; want 0", n, err)
	}
}

func testAfterSend(t *testing.T, st hooks.StateStore) {
	ctx := context.Background()
	recs := []hooks.AfterSendRecord{
		{Mailbox: "a@x.test", ID: "m1", Round: 1, Status: "delivered", Hooks: []string{"h1", "webhook:w"}, RecordedAt: at},
		{Mailbox: "a@x.test", ID: "m1", Round: 2, Status: "failed", Hooks: []string{"h1"}, RecordedAt: at.Add(time.Hour)},
		{Mailbox: "b@x.test", ID: "m1", Round: 1, Status: "partial", Hooks: []string{"h2"}, RecordedAt: at},
	}
	for _, r := range recs {
		added, err := st.AddAfterSend(ctx, r)
		if err != nil || !added {
			t.Fatalf("AddAfterSend(%s %s %d) = %v, %v; want added", r.Mailbox, r.ID, r.Round, added, err)
		}
	}
	// The same round again changes nothing, even with other fields.
	again := recs[0]
	again.Status, again.Hooks = "failed", []string{"other"}
	if added, err := st.AddAfterSend(ctx, again); err != nil || added {
		t.Fatalf("AddAfterSend of a recorded round = %v, %v; want false", added, err)
	}
	assertRounds(t, st, recs)

	if err := st.RemoveAfterSend(ctx, "a@x.test", "m1", 1); err != nil {
		t.Fatal(err)
	}
	if err := st.RemoveAfterSend(ctx, "a@x.test", "m1", 1); err != nil {
		t.Fatalf("removing a round no longer recorded: %v", err)
	}
	if err := st.RemoveAfterSend(ctx, "never@x.test", "m9", 7); err != nil {
		t.Fatalf("removing a round never recorded: %v", err)
	}
	assertRounds(t, st, recs[1:])
	// A removed round may be recorded again.
	if added, err := st.AddAfterSend(ctx, recs[0]); err != nil || !added {
		t.Fatalf("AddAfterSend after RemoveAfterSend = %v, %v; want added", added, err)
	}
	assertRounds(t, st, recs)
}

func assertRounds(t *testing.T, st hooks.StateStore, want []hooks.AfterSendRecord) {
	t.Helper()
	got, err := st.AfterSend(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	key := func(r hooks.AfterSendRecord) string {
		return r.Mailbox + "\x00" + r.ID + "\x00" + string(rune('0'+r.Round))
	}
	sort.Slice(got, func(i, j int) bool { return key(got[i]) < key(got[j]) })
	want = slices.Clone(want)
	sort.Slice(want, func(i, j int) bool { return key(want[i]) < key(want[j]) })
	if len(got) != len(want) {
		t.Fatalf("AfterSend = %d records %+v, want %d", len(got), got, len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Mailbox != w.Mailbox || g.ID != w.ID || g.Round != w.Round || g.Status != w.Status ||
			!slices.Equal(g.Hooks, w.Hooks) || !g.RecordedAt.Equal(w.RecordedAt) {
			t.Errorf("AfterSend record %d = %+v, want %+v", i, g, w)
		}
	}
}

func testCheckpoint(t *testing.T, st hooks.StateStore) {
	ctx := context.Background()
	for _, cp := range []time.Time{
		time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 23, 12, 1, 0, 0, time.FixedZone("x", 3600)),
		time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC), // a checkpoint may move back
	} {
		if err := st.SetCheckpoint(ctx, cp); err != nil {
			t.Fatal(err)
		}
		got, ok, err := st.Checkpoint(ctx)
		if err != nil || !ok || !got.Equal(cp) {
			t.Fatalf("Checkpoint after SetCheckpoint(%v) = %v, %v, %v", cp, got, ok, err)
		}
	}
}
