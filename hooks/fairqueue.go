package hooks

import (
	"context"
	"sync"
)

// fairQueue holds the queued jobs per owner and hands them to the workers
// fairly: the next job goes to the owner with the fewest jobs running, and
// among those to the one served longest ago, and no owner has more than
// perOwner jobs running at once. So one owner's backlog never delays
// another owner's next start by more than one run (book/hooks.md,
// "Fairness"). It bounds the jobs waiting (not running) to limit. It is
// safe for concurrent use.
type fairQueue struct {
	limit    int
	perOwner int

	mu     sync.Mutex
	owners map[string]*ownerJobs
	// waiting lists the owners with jobs waiting.
	waiting []string
	queued  int
	// seq numbers owner arrivals and job starts, oldest lowest.
	seq uint64
	// changed is closed and replaced whenever a job is queued, taken or
	// finished, waking whoever waits for room or for work.
	changed chan struct{}
}

// ownerJobs is one owner's waiting jobs, oldest first, how many of its
// jobs are running, when it was last served (0: not yet) and when it
// arrived.
type ownerJobs struct {
	jobs    []job
	running int
	served  uint64
	arrived uint64
}

func newFairQueue(limit, perOwner int) *fairQueue {
	return &fairQueue{
		limit:    limit,
		perOwner: max(perOwner, 1),
		owners:   map[string]*ownerJobs{},
		changed:  make(chan struct{}),
	}
}

// push queues j unless limit jobs are waiting already; it never blocks.
func (q *fairQueue) push(j job) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.queued >= q.limit {
		return false
	}
	q.addLocked(j)
	return true
}

// pushWait queues j, waiting for room until ctx ends.
func (q *fairQueue) pushWait(ctx context.Context, j job) error {
	for {
		q.mu.Lock()
		if q.queued < q.limit {
			q.addLocked(j)
			q.mu.Unlock()
			return nil
		}
		ch := q.changed
		q.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (q *fairQueue) addLocked(j job) {
	o := q.owners[j.owner]
	if o == nil {
		q.seq++
		o = &ownerJobs{arrived: q.seq}
		q.owners[j.owner] = o
	}
	if len(o.jobs) == 0 {
		q.waiting = append(q.waiting, j.owner)
	}
	o.jobs = append(o.jobs, j)
	q.queued++
	q.broadcastLocked()
}

// pop waits until a job may start and takes it: the oldest job of the
// owner, among those with jobs waiting and fewer than perOwner running,
// that has the fewest running and was served longest ago. false means ctx
// ended.
func (q *fairQueue) pop(ctx context.Context) (job, bool) {
	for {
		q.mu.Lock()
		if j, ok := q.takeLocked(); ok {
			q.mu.Unlock()
			return j, true
		}
		ch := q.changed
		q.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return job{}, false
		}
	}
}

func (q *fairQueue) takeLocked() (job, bool) {
	best := -1
	var bo *ownerJobs
	for i, name := range q.waiting {
		o := q.owners[name]
		if o.running >= q.perOwner {
			continue
		}
		if bo == nil || before(o, bo) {
			best, bo = i, o
		}
	}
	if bo == nil {
		return job{}, false
	}
	j := bo.jobs[0]
	bo.jobs[0] = job{}
	bo.jobs = bo.jobs[1:]
	bo.running++
	q.seq++
	bo.served = q.seq
	q.queued--
	if len(bo.jobs) == 0 {
		q.waiting = append(q.waiting[:best], q.waiting[best+1:]...)
	}
	q.broadcastLocked()
	return j, true
}

// before reports whether a has priority over b: fewer running, then
// served longer ago (never is longest), then arrived earlier.
func before(a, b *ownerJobs) bool {
	if a.running != b.running {
		return a.running < b.running
	}
	if a.served != b.served {
		return a.served < b.served
	}
	return a.arrived < b.arrived
}

// done records that a job pop returned has left its worker.
func (q *fairQueue) done(j job) {
	q.mu.Lock()
	defer q.mu.Unlock()
	o := q.owners[j.owner]
	if o == nil {
		return
	}
	o.running--
	if o.running <= 0 && len(o.jobs) == 0 {
		delete(q.owners, j.owner)
	}
	q.broadcastLocked()
}

func (q *fairQueue) broadcastLocked() {
	close(q.changed)
	q.changed = make(chan struct{})
}
