package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db/pgtest"
)

// One batch of send leases may ask for one user twice (two holders of the
// fleet's tests share a driver; the upsert cannot touch one row twice): it
// is taken in rounds, once, with no error, and the other users in the same
// batch get theirs.
func TestAcquireBatchWithOneUserTwice(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, pgtest.Database(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	reqs := []*leaseReq{
		{openID: "u2", holder: "h1", now: t0, until: t0.Add(time.Minute)},
		{openID: "u1", holder: "h1", now: t0, until: t0.Add(time.Minute)},
		{openID: "u1", holder: "h2", now: t0, until: t0.Add(time.Minute)},
		{openID: "u3", holder: "h2", now: t0, until: t0.Add(time.Minute)},
		{openID: "u1", holder: "h1", now: t0, until: t0.Add(2 * time.Minute)},
	}
	for i, err := range d.acquireBatch(ctx, reqs) {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if !reqs[0].got || !reqs[3].got {
		t.Fatalf("u2 %v, u3 %v: want both granted", reqs[0].got, reqs[3].got)
	}
	// u1: h1 first (the batch keeps the callers' order per user), h2
	// refused, h1 again granted (its own lease, extended).
	if !reqs[1].got || reqs[2].got || !reqs[4].got {
		t.Fatalf("u1 by h1, h2, h1: %v %v %v; want granted, refused, granted", reqs[1].got, reqs[2].got, reqs[4].got)
	}
	var holder string
	var until int64
	if err := d.pool.QueryRow(ctx, `SELECT holder, until FROM user_sends WHERE openid = 'u1'`).Scan(&holder, &until); err != nil {
		t.Fatal(err)
	}
	if holder != "h1" || until != t0.Add(2*time.Minute).UnixMilli() {
		t.Fatalf("u1's lease %s until %d; want h1's, extended", holder, until)
	}
}
