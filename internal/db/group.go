package db

import (
	"context"

	"github.com/reminderd/reminderd/internal/db/dbsqlc"
)

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
