package db

import (
	"context"
	"sync"
)

// groupCommit batches the writes of concurrent callers into one transaction
// (leader/follower): the first caller to arrive while no commit runs
// commits everything pending; the others wait, and the next group forms
// meanwhile. One caller's failure rolls back only its own writes (see
// WithTxEach: the group is then run again, each caller alone). One commit per group instead of
// one per caller: a SQLite commit writes every changed page to the WAL, and
// concurrent callers mostly change the same pages.
type groupCommit struct {
	mu      sync.Mutex
	cond    *sync.Cond
	pending []*groupReq
	busy    bool
}

type groupReq struct {
	fn   func(*Queries) error
	err  error
	done bool
}

// maxGroup bounds one group's transaction.
const maxGroup = 256

// Group runs fn in a write transaction shared with other concurrent
// callers and returns once that transaction has committed (fn's error if
// fn failed, the commit's error if the commit failed). fn must be quick,
// must not call WeChat, and must be safe to run again: if another caller's
// fn fails, the group is rolled back and every fn runs again alone.
func (d *DB) Group(ctx context.Context, fn func(q *Queries) error) error {
	g := &d.group
	req := &groupReq{fn: fn}
	g.mu.Lock()
	if g.cond == nil {
		g.cond = sync.NewCond(&g.mu)
	}
	g.pending = append(g.pending, req)
	for !req.done && g.busy {
		g.cond.Wait()
	}
	if !req.done {
		g.busy = true
		n := min(len(g.pending), maxGroup)
		batch := g.pending[:n:n]
		g.pending = g.pending[n:]
		g.mu.Unlock()
		// The leader's own cancellation must not fail the others' writes.
		errs := d.WithTxEach(context.WithoutCancel(ctx), len(batch), func(i int, q *Queries) error { return batch[i].fn(q) })
		g.mu.Lock()
		for i, b := range batch {
			b.err, b.done = errs[i], true
		}
		g.busy = false
		g.cond.Broadcast()
		for !req.done {
			g.cond.Wait()
		}
	}
	g.mu.Unlock()
	return req.err
}
