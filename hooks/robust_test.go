package hooks

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/internal/panics"
	"github.com/aimx-dev/aimx/storage"
)

// stuckExec is a hook run that ignores shutdown until released.
type stuckExec struct {
	entered chan struct{}
	release chan struct{}
}

func (x *stuckExec) Execute(context.Context, Run) Result {
	x.entered <- struct{}{}
	<-x.release
	return Result{}
}

// TestShutdown_SchedulerStopHonoursDeadline: Stop returns when its
// context's deadline passes although a run ignores the shutdown, leaving
// the job to the next start's recovery.
func TestShutdown_SchedulerStopHonoursDeadline(t *testing.T) {
	t.Parallel()
	e := newSchedEnv(t, testConfig(onReceive("h1")), "")
	x := &stuckExec{entered: make(chan struct{}, 1), release: make(chan struct{})}
	e.opts.Runner = x
	s := e.start()
	t.Cleanup(func() { close(x.release) }) // runs before the stop start registered
	st := e.put("stuck", time.Now(), "h1")
	s.Enqueue(received(st))
	<-x.entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := s.Stop(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop = %v, want the deadline's error", err)
	}
	select {
	case <-x.release:
		t.Fatal("the run was released; the test proves nothing")
	default:
	}
	if js := e.job(JobID(EventOnReceive, testMailbox, st.ID, "h1", 0)); js.Done || js.Attempts != 1 {
		t.Errorf("job %+v, want started and not done (an interrupted run)", js)
	}
}

// panicExec panics on its first run.
type panicExec struct {
	once sync.Once
	fake *fakeExec
}

func (x *panicExec) Execute(ctx context.Context, run Run) Result {
	x.once.Do(func() { panic("boom in a hook run") })
	return x.fake.Execute(ctx, run)
}

// TestPanics_WorkerPanicIsLoggedAndCounted: a panic in a hook worker is
// recovered with its stack logged and counted, and the worker goes on.
func TestPanics_WorkerPanicIsLoggedAndCounted(t *testing.T) {
	t.Parallel()
	e := newSchedEnv(t, testConfig(onReceive("h1")), "")
	var pc panics.Counter
	e.opts.Panics = &pc
	e.opts.Runner = &panicExec{fake: e.exec}
	s := e.start()
	s.Enqueue(received(e.put("first", time.Now(), "h1")))
	second := e.put("second", time.Now(), "h1")
	s.Enqueue(received(second))
	if r := e.exec.next(t); r.Env.ID != second.ID {
		t.Fatalf("ran %s, want the job after the panic", r.Env.ID)
	}
	if pc.Count() != 1 {
		t.Errorf("counted %d panics, want 1", pc.Count())
	}
	logs := e.log.String()
	if !strings.Contains(logs, `"where":"hook worker"`) || !strings.Contains(logs, "boom in a hook run") ||
		!strings.Contains(logs, `"stack":`) || !strings.Contains(logs, "runSafe") {
		t.Errorf("no panic line with its stack:\n%s", logs)
	}
}

// panicListStore panics when the recovery scan lists a folder.
type panicListStore struct{ storage.MessageStore }

func (panicListStore) List(context.Context, storage.ListQuery) (*storage.ListResult, error) {
	panic("boom in a scan")
}

// TestPanics_ScanPanicIsCounted: a panic in the recovery scan is counted.
func TestPanics_ScanPanicIsCounted(t *testing.T) {
	t.Parallel()
	e := newSchedEnv(t, testConfig(onReceive("h1")), "")
	var pc panics.Counter
	e.opts.Panics = &pc
	e.opts.Store = panicListStore{e.store}
	e.start()
	// The count goes up just before the line is written: wait for both.
	waitFor(t, func() bool {
		return pc.Count() == 1 && strings.Contains(e.log.String(), `"where":"hook recovery scan"`)
	})
}

// TestDurableDirs_MkdirDurableSyncsEachParent: every directory created is
// followed by an fsync of its parent, outermost first; an existing one
// costs nothing.
func TestDurableDirs_MkdirDurableSyncsEachParent(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	var synced []string
	sync := func(d string) error { synced = append(synced, d); return nil }
	target := filepath.Join(root, "a", "b", "c")
	if err := mkdirDurable(target, 0o700, sync); err != nil {
		t.Fatal(err)
	}
	want := []string{root, filepath.Join(root, "a"), filepath.Join(root, "a", "b")}
	if strings.Join(synced, ",") != strings.Join(want, ",") {
		t.Errorf("synced %v, want %v", synced, want)
	}
	if fi, err := os.Stat(target); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("target %v %v", fi, err)
	}
	synced = nil
	if err := mkdirDurable(target, 0o700, sync); err != nil || len(synced) != 0 {
		t.Errorf("existing dir: err %v, synced %v", err, synced)
	}
	if err := os.WriteFile(filepath.Join(root, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := mkdirDurable(filepath.Join(root, "file", "x"), 0o700, sync); err == nil {
		t.Error("a path through a file was accepted")
	}
	failing := func(string) error { return errors.New("disk gone") }
	if err := mkdirDurable(filepath.Join(root, "d"), 0o700, failing); err == nil {
		t.Error("a failed parent fsync was not reported")
	}
}

// TestDurableDirs_StateDirsAndJobShards: opening a fresh state and writing
// a job into a new shard fsync the parent of each directory created,
// before the record is published there.
func TestDurableDirs_StateDirsAndJobShards(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	data := t.TempDir()
	dir := filepath.Join(data, ".spool", "hooks")
	var mu sync.Mutex
	var steps []string
	w := &storage.Writer{Fault: func(step storage.Step, path string) error {
		mu.Lock()
		defer mu.Unlock()
		if step == storage.StepSyncDir || step == storage.StepPublish {
			steps = append(steps, step.String()+" "+path)
		}
		return nil
	}}
	st, err := OpenFileState(dir, w)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if _, ok, err := st.Checkpoint(ctx); ok || err != nil {
		t.Fatalf("a new state has a checkpoint (%v) or an error: %v", ok, err)
	}
	for _, d := range []string{data, filepath.Join(data, ".spool"), dir} {
		if !contains(steps, "sync-dir "+d) {
			t.Errorf("no fsync of %s after creating a dir in it: %v", d, steps)
		}
	}
	steps = nil
	id := JobID(EventOnReceive, testMailbox, "m", "h", 0)
	if err := st.PutJob(ctx, id, JobState{Attempts: 1}); err != nil {
		t.Fatal(err)
	}
	shardParent := "sync-dir " + filepath.Join(dir, "jobs")
	i := index(steps, shardParent)
	j := index(steps, "publish "+st.jobPath(id))
	if i < 0 || j < 0 || i > j {
		t.Errorf("steps %v: want %q before the record's publish", steps, shardParent)
	}
}

func contains(list []string, s string) bool { return index(list, s) >= 0 }

func index(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// TestH1_OversizedStateFilesAreRefused: a sparse 1 GiB job record or
// checkpoint is refused by size, never read whole, and prune leaves it.
func TestH1_OversizedStateFilesAreRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := OpenFileState(filepath.Join(t.TempDir(), "hooks"), nil)
	if err != nil {
		t.Fatal(err)
	}
	id := JobID(EventOnReceive, testMailbox, "m", "h", 0)
	if err := st.PutJob(ctx, id, JobState{Done: true, Outcome: OutcomeRan}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{st.jobPath(id), filepath.Join(st.Dir(), "checkpoint")} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(p, 1<<30); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Job(ctx, id); !errors.Is(err, errStateFileTooLarge) {
		t.Errorf("Job = %v, want too large", err)
	}
	if _, _, err := st.Checkpoint(ctx); !errors.Is(err, errStateFileTooLarge) {
		t.Errorf("Checkpoint = %v, want too large", err)
	}
	if n, err := st.PruneJobs(ctx, time.Now().Add(time.Hour), nil); n != 0 || err != nil {
		t.Errorf("prune removed %d (%v)", n, err)
	}
}

// TestM1_StateFileFIFOOrSymlinkIsRefused: a FIFO or a symlink where a job
// record belongs is refused at once, without blocking or following it.
func TestM1_StateFileFIFOOrSymlinkIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := OpenFileState(filepath.Join(t.TempDir(), "hooks"), nil)
	if err != nil {
		t.Fatal(err)
	}
	fifoID := JobID(EventOnReceive, testMailbox, "fifo", "h", 0)
	linkID := JobID(EventOnReceive, testMailbox, "link", "h", 0)
	for _, id := range []string{fifoID, linkID} {
		if err := mkdirDurable(filepath.Dir(st.jobPath(id)), 0o700, func(string) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(st.jobPath(fifoID), 0o600); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "done.json")
	if err := os.WriteFile(target, []byte(`{"attempts":1,"done":true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, st.jobPath(linkID)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Job(ctx, fifoID); !errors.Is(err, errStateNotRegular) {
		t.Errorf("FIFO record: %v, want not regular", err)
	}
	if js, err := st.Job(ctx, linkID); err == nil {
		t.Errorf("symlinked record followed: %+v", js)
	}
}
