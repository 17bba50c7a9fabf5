package hooks

import (
	"context"
	"sync"
)

// fairQueue holds the queued jobs per owner and hands them to the workers
// in rotation, with at most perOwner of one owner's jobs running at once,
// so one owner's backlog never delays another owner's next start by more
// than one run of the backlogged owner (book/hooks.md, "Fairness"). It
// bounds the jobs waiting (not running) to limit. It is safe for concurrent
// use.
type fairQueue struct {
	limit    int
	perOwner int

	mu     sync.Mutex
	owners map[string]*ownerJobs
	// ring lists the owners with jobs waiting, in turn order; turn is
	// the index of the owner whose turn comes next.
	ring   []string
	turn   int
	queued int
	// changed is closed and replaced whenever a job is queued, taken or
	// finished, waking whoever waits for room or for work.
	changed chan struct{}
}

// ownerJobs is one owner's waiting jobs, oldest first, and how many of its
// jobs are running.
type ownerJobs struct {
	jobs    []job
	running int
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
		o = &ownerJobs{}
		q.owners[j.owner] = o
	}
	if len(o.jobs) == 0 {
		q.ring = append(q.ring, j.owner)
	}
	o.jobs = append(o.jobs, j)
	q.queued++
	q.broadcastLocked()
}

// pop waits until a job may start and takes it: the oldest job of the
// first owner, in rotation from the one whose turn it is, that has jobs
// waiting and fewer than perOwner running. false means ctx ended.
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
	n := len(q.ring)
	for k := range n {
		i := (q.turn + k) % n
		o := q.owners[q.ring[i]]
		if o.running >= q.perOwner {
			continue
		}
		j := o.jobs[0]
		o.jobs[0] = job{}
		o.jobs = o.jobs[1:]
		o.running++
		q.queued--
		if len(o.jobs) == 0 {
			// Out of the rotation; the owner after it moves into
			// index i and has the next turn.
			q.ring = append(q.ring[:i], q.ring[i+1:]...)
			q.turn = i
		} else {
			q.turn = i + 1
		}
		if len(q.ring) > 0 {
			q.turn %= len(q.ring)
		} else {
			q.turn = 0
		}
		q.broadcastLocked()
		return j, true
	}
	return job{}, false
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
