// Package batch is the group commit of concurrent callers' requests: a
// Batcher runs the requests waiting at once in one call (one transaction,
// one commit for many), each caller getting its own request's result. Both
// database drivers record outcomes through it.
package batch

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Batcher group-commits the requests of concurrent callers (leader/follower):
// the first caller to arrive while no batch runs runs everything pending,
// up to max, in one call of run; the others wait, and the next batch forms
// meanwhile. One write transaction per batch instead of one per caller: a
// SQLite commit writes every changed page to the WAL, and concurrent
// callers mostly change the same pages; run may also write the batch with
// a few statements instead of a few per request.
type Batcher[T any] struct {
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
func (b *Batcher[T]) Gather(linger time.Duration, expected func() int, added func(T)) {
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

// New returns a Batcher whose batches of at most max requests are
// written by run, which returns one error per request (nil: committed).
func New[T any](max int, run func(ctx context.Context, batch []T) []error) *Batcher[T] {
	b := &Batcher[T]{run: run, max: max}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// Do adds v to the next batch and returns its error once the batch is
// written. The leader's cancellation does not fail the others' writes.
func (b *Batcher[T]) Do(ctx context.Context, v T) error {
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
func (b *Batcher[T]) gather() {
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
func (b *Batcher[T]) runBatch(ctx context.Context, vs []T) (errs []error, panicked any) {
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
