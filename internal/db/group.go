package db

import (
	"context"
	"fmt"
	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"sync"
	"time"
)

// batcher group-commits the requests of concurrent callers (leader/follower):
// the first caller to arrive while no batch runs runs everything pending,
// up to max, in one call of run; the others wait, and the next batch forms
// meanwhile. One write transaction per batch instead of one per caller: a
// SQLite commit writes every changed page to the WAL, and concurrent
// callers mostly change the same pages; run may also write the batch with
// a few statements instead of a few per request.
type batcher[T any] struct {
	run     func(ctx context.Context, batch []T) []error
	max     int
	mu      sync.Mutex
	cond    *sync.Cond
	pending []*batchReq[T]
	busy    bool

	// Set by Gather: a leader waits up to linger for the expected requests.
	expected func() int
	added    func(T)
	linger   time.Duration
	arrived  chan struct{} // a request was added (capacity 1)
}

// Gather makes a leader wait, up to linger, before it takes its batch,
// while fewer requests are pending than the batch could hold and expected
// says that more are about to arrive. Fewer, larger batches: one commit and
// one set of statements for many requests, instead of a commit for
// whichever few happened to be waiting when the writer came free.
//
// expected and added (which may be nil) are called under the batcher's
// lock, so they must be quick: added with each request as it joins the
// queue, so that the caller's count of what is still to come can move to
// the queue in the same step as a leader sees it. Call before first use.
func (b *batcher[T]) Gather(linger time.Duration, expected func() int, added func(T)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if expected == nil {
		b.expected, b.added, b.linger, b.arrived = nil, nil, 0, nil
		return
	}
	b.expected, b.added, b.linger, b.arrived = expected, added, linger, make(chan struct{}, 1)
}

type batchReq[T any] struct {
	v    T
	err  error
	done bool
}

// newBatcher returns a batcher whose batches of at most max requests are
// written by run, which returns one error per request (nil: committed).
func newBatcher[T any](max int, run func(ctx context.Context, batch []T) []error) *batcher[T] {
	b := &batcher[T]{run: run, max: max}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// Do adds v to the next batch and returns its error once the batch is
// written. The leader's cancellation does not fail the others' writes.
func (b *batcher[T]) Do(ctx context.Context, v T) error {
	req := &batchReq[T]{v: v}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = append(b.pending, req)
	if b.added != nil {
		b.added(v)
	}
	if b.arrived != nil {
		select {
		case b.arrived <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
	// A leader whose own request did not fit in the batch it ran leads
	// again: the others may all be done.
	for !req.done {
		if b.busy {
			b.cond.Wait()
			continue
		}
		b.busy = true
		if b.expected != nil {
			b.gather()
		}
		n := min(len(b.pending), b.max)
		batch := b.pending[:n:n]
		b.pending = b.pending[n:]
		b.mu.Unlock()
		vs := make([]T, n)
		for i, r := range batch {
			vs[i] = r.v
		}
		errs, panicked := b.runBatch(context.WithoutCancel(ctx), vs)
		b.mu.Lock()
		for i, r := range batch {
			r.err, r.done = errs[i], true
		}
		b.busy = false
		b.cond.Broadcast()
		if panicked != nil && req.done {
			// The others got an error; the leader's own caller, whose
			// request was in the batch, gets the panic (the API turns it
			// into a 500). A leader whose request was not in it leads on.
			panic(panicked)
		}
	}
	return req.err
}

// gather waits, up to the linger, for the requests expected soon; it is
// called and returns with b.mu held, by a leader (b.busy).
func (b *batcher[T]) gather() {
	// Taken under the lock: Gather may change them meanwhile.
	expected, arrived, linger := b.expected, b.arrived, b.linger
	select {
	case <-arrived: // a wake-up for requests already in the queue
	default:
	}
	var timer *time.Timer
	for len(b.pending) < b.max && expected() > 0 {
		if timer == nil {
			timer = time.NewTimer(linger)
			defer timer.Stop()
		}
		b.mu.Unlock()
		select {
		case <-arrived:
			b.mu.Lock()
		case <-timer.C:
			b.mu.Lock()
			return
		}
	}
}

// runBatch calls run, turning a panic into an error for every request of
// the batch, so that a bug in one writer cannot leave the others waiting.
func (b *batcher[T]) runBatch(ctx context.Context, vs []T) (errs []error, panicked any) {
	defer func() {
		if p := recover(); p != nil {
			panicked = p
			errs = make([]error, len(vs))
			for i := range errs {
				errs[i] = fmt.Errorf("batch write panicked: %v", p)
			}
		}
	}()
	return b.run(ctx, vs), nil
}

// maxGroup bounds one group's transaction.
const maxGroup = 256

func (d *DB) runGroup(ctx context.Context, fns []func(*dbsqlc.Queries) error) []error {
	return d.withTxEach(ctx, len(fns), func(i int, q *dbsqlc.Queries) error { return fns[i](q) })
}

// inGroup runs fn in a write transaction shared with other concurrent
// callers and returns once that transaction has committed (fn's error if
// fn failed, the commit's error if the commit failed). fn must be quick,
// must not call WeChat, and must be safe to run again: if another caller's
// fn fails, the group is rolled back and every fn runs again alone
// (withTxEach).
func (d *DB) inGroup(ctx context.Context, fn func(q *dbsqlc.Queries) error) error {
	return d.group.Do(ctx, fn)
}
