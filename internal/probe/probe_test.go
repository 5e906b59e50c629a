package probe

import (
	"errors"
	"testing"
	"time"
)

var errFull = errors.New("full")

// One probe per interval; a failure for want of space stays until a probe
// commits; a success is stale at once after a write failed for space.
func TestCache(t *testing.T) {
	var c Cache
	now := time.UnixMilli(1_800_000_000_000)
	clock := func() time.Time { return now }
	var probes []bool // the commit flag of each probe run
	answer := error(nil)
	probe := func(commit bool) error { probes = append(probes, commit); return answer }
	isFull := func(err error) bool { return errors.Is(err, errFull) }
	check := func() error { return c.Check(clock, time.Second, probe, isFull) }

	if err := check(); err != nil || len(probes) != 1 || probes[0] {
		t.Fatalf("first check: %v, probes %v; want one rolled-back probe", err, probes)
	}
	if check(); len(probes) != 1 {
		t.Fatalf("a check within the interval probed again: %v", probes)
	}
	c.NoteFull() // a write failed for want of space
	answer = errFull
	if err := check(); !errors.Is(err, errFull) || len(probes) != 2 || !probes[1] {
		t.Fatalf("after NoteFull: %v, probes %v; want a committing probe at once", err, probes)
	}
	if check(); len(probes) != 2 {
		t.Fatalf("a failed probe is cached for the interval too: %v", probes)
	}
	now = now.Add(time.Second)
	answer = nil
	if err := check(); err != nil || len(probes) != 3 || !probes[2] {
		t.Fatalf("after the interval: %v, probes %v; want a committing probe that succeeds", err, probes)
	}
	now = now.Add(time.Second)
	if check(); len(probes) != 4 || probes[3] {
		t.Fatalf("after a committed probe the next rolls back again: %v", probes)
	}
}
