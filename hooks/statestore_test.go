package hooks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/storage"
)

// memState is a StateStore held in memory, as a database-backed one
// would be: it proves the scheduler needs nothing of the hook state but
// the interface.
type memState struct {
	mu           sync.Mutex
	jobs         map[string]JobState
	rounds       map[string]AfterSendRecord
	cp           time.Time
	hasCP        bool
	canceledEnds int // end-of-run records written with a canceled context
}

var _ StateStore = (*memState)(nil)

func newMemState() *memState {
	return &memState{jobs: map[string]JobState{}, rounds: map[string]AfterSendRecord{}}
}

func (m *memState) Job(ctx context.Context, id string) (JobState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.jobs[id], nil
}

func (m *memState) PutJob(ctx context.Context, id string, js JobState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if js.Done && ctx.Err() != nil {
		m.canceledEnds++
	}
	m.jobs[id] = js
	return nil
}

func (m *memState) PruneJobs(ctx context.Context, cutoff time.Time, keep map[string]bool) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id, js := range m.jobs {
		if !keep[id] && js.Done && js.UpdatedAt.Before(cutoff) {
			delete(m.jobs, id)
			n++
		}
	}
	return n, nil
}

func (m *memState) AddAfterSend(ctx context.Context, r AfterSendRecord) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := afterSendKey(r.Mailbox, r.ID, r.Round)
	if _, ok := m.rounds[k]; ok {
		return false, nil
	}
	m.rounds[k] = r
	return true, nil
}

func (m *memState) AfterSend(ctx context.Context) ([]AfterSendRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []AfterSendRecord
	for _, r := range m.rounds {
		out = append(out, r)
	}
	return out, nil
}

func (m *memState) RemoveAfterSend(ctx context.Context, mailbox, id string, round int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.rounds, afterSendKey(mailbox, id, round))
	return nil
}

func (m *memState) Checkpoint(ctx context.Context) (time.Time, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cp, m.hasCP, nil
}

func (m *memState) SetCheckpoint(ctx context.Context, t time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cp, m.hasCP = t, true
	return nil
}

// filelessStore serves messages as a store without files on this host
// would: its MessageFiles have no OSFile.
type filelessStore struct {
	storage.MessageStore
}

func (f filelessStore) OpenMD(ctx context.Context, ref storage.MailboxRef, folder storage.Folder, id string) (*storage.MessageFile, error) {
	md, err := f.MessageStore.OpenMD(ctx, ref, folder, id)
	if err != nil {
		return nil, err
	}
	defer md.Close()
	b, err := io.ReadAll(md.Reader())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", id, err)
	}
	return storage.NewMessageFile(bytes.NewReader(b), nil, int64(len(b))), nil
}

// TestSchedulerOnOtherBackends: with a StateStore that is not files (no
// StateDir at all) and a message store without files, a job runs once
// with the .md on stdin and an empty AIMX_FILEPATH; its state lands in
// that StateStore, and a restart on it runs nothing again.
func TestSchedulerOnOtherBackends(t *testing.T) {
	t.Parallel()
	e := newSchedEnv(t, testConfig(onReceive("h1")), "")
	state := newMemState()
	e.opts.State, e.opts.StateDir = state, ""
	e.opts.Store = filelessStore{e.store}
	s := e.start()
	st := e.put("elsewhere", time.Now(), "h1")
	s.Enqueue(received(st))
	r := e.exec.next(t)
	md, err := e.store.OpenMD(context.Background(), testRef, storage.Inbox, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := io.ReadAll(md.Reader())
	md.Close()
	if r.stdin != string(want) || r.Env.FilePath != "" || r.Env.ID != st.ID {
		t.Errorf("run: stdin %q (want the .md), AIMX_FILEPATH %q (want empty)", r.stdin, r.Env.FilePath)
	}
	e.stop()
	jid := JobID(EventOnReceive, testMailbox, st.ID, "h1", 0)
	if js, _ := state.Job(context.Background(), jid); !js.Done || js.Outcome != OutcomeRan {
		t.Errorf("job state %+v, want done in the StateStore", js)
	}
	if _, ok, _ := state.Checkpoint(context.Background()); !ok {
		t.Error("no checkpoint set in the StateStore at the first start")
	}
	if state.canceledEnds != 0 {
		t.Errorf("%d end-of-run records got a canceled context", state.canceledEnds)
	}

	// A restart on the same state: the job is done, nothing runs.
	e.exec = newFakeExec()
	e.opts.Runner = e.exec
	e.start()
	e.stop()
	if n := len(e.exec.all()); n != 0 {
		t.Errorf("%d runs after the restart, want none", n)
	}
}
