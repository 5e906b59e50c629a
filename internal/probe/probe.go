// Package probe is the write probe's cache that both store drivers'
// Writable use: at most one probe per interval, whatever the rate of
// readiness checks, and a failure for want of space that stays until a
// probe has committed a write again.
package probe

import (
	"sync"
	"sync/atomic"
	"time"
)

// Cache holds the last probe's result. The zero value is ready to use.
type Cache struct {
	mu        sync.Mutex
	checkedAt time.Time
	err       error
	// full is set when a write failed for want of space; the next probe
	// then commits, so that only a real write clears it.
	full atomic.Bool
}

// NoteFull records that a write failed for want of space: the cached
// success is stale at once, and the next probe commits.
func (c *Cache) NoteFull() { c.full.Store(true) }

// Check returns the cached result if it is younger than every and nothing
// made it stale; else it runs probe (commit: the probe must commit a
// write, not roll it back) and caches its result, read at now() after it.
// isFull says whether a probe's error is a want of space.
func (c *Cache) Check(now func() time.Time, every time.Duration, probe func(commit bool) error, isFull func(error) bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	commit := c.full.Load()
	if !c.checkedAt.IsZero() && now().Sub(c.checkedAt) < every && (c.err != nil || !commit) {
		return c.err
	}
	err := probe(commit)
	c.checkedAt, c.err = now(), err
	switch {
	case err == nil && commit:
		c.full.Store(false)
	case err != nil && isFull(err):
		c.full.Store(true)
	}
	return err
}
