package hooks

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func TestPruneJobsKeepsWhatRecoveryNeeds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := OpenFileState(filepath.Join(t.TempDir(), "hooks"), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	old, recent := now.Add(-10*24*time.Hour), now.Add(-time.Hour)
	jobs := map[string]JobState{
		"aa00000000000001": {Attempts: 1, Done: true, Outcome: OutcomeRan, UpdatedAt: old},    // pruned
		"aa00000000000002": {Attempts: 1, Done: true, Outcome: OutcomeRan, UpdatedAt: recent}, // too new
		"bb00000000000003": {Attempts: 1, UpdatedAt: old},                                     // interrupted: never pruned
		"cc00000000000004": {Attempts: 1, Done: true, Outcome: OutcomeRan, UpdatedAt: old},    // kept: its round is recorded
	}
	for id, js := range jobs {
		if err := st.PutJob(ctx, id, js); err != nil {
			t.Fatal(err)
		}
	}
	n, err := st.PruneJobs(ctx, now.Add(-JobRetention), map[string]bool{"cc00000000000004": true})
	if err != nil || n != 1 {
		t.Fatalf("PruneJobs = %d, %v; want 1 removed", n, err)
	}
	for id, js := range jobs {
		got, err := st.Job(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		gone := got.Attempts == 0
		if wantGone := id == "aa00000000000001"; gone != wantGone {
			t.Errorf("job %s (%+v): removed %v, want %v", id, js, gone, wantGone)
		}
	}
}
