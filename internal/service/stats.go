package service

import (
	"context"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// Stats is what the database says of the reminders at one instant: how
// many are in each status and how many are due and waiting. GET
// /admin/v1/stats, the admin page (its status tabs and engine page) and
// /metrics all read it, so they cannot disagree on how it is counted.
type Stats struct {
	// At is the instant the backlog was counted at.
	At time.Time
	// ByStatus holds every status of store.Statuses, 0 when none is in it.
	ByStatus map[store.Status]int64
	// Total is the sum of ByStatus.
	Total int64
	// DueBacklog counts the scheduled reminders due at At.
	DueBacklog int64
	// OldestDueAt is when the longest waiting of them was due (zero when
	// DueBacklog is 0).
	OldestDueAt time.Time
}

// OldestDueAge is how long the longest waiting due reminder has waited
// (0 when none is due).
func (st Stats) OldestDueAge() time.Duration {
	if st.DueBacklog == 0 {
		return 0
	}
	return st.At.Sub(st.OldestDueAt)
}

// Stats counts the reminders by status and the due backlog now.
func (s *Reminders) Stats(ctx context.Context) (Stats, error) {
	at := s.now()
	c, err := s.store.CountReminders(ctx, at)
	return statsOf(at, c), err
}

// statsOf is the Stats of the counts c made at at.
func statsOf(at time.Time, c store.Counts) Stats {
	st := Stats{At: at, ByStatus: make(map[store.Status]int64, len(store.Statuses()))}
	for _, status := range store.Statuses() {
		st.ByStatus[status] = 0
	}
	for status, n := range c.ByStatus {
		st.ByStatus[status] = n
		st.Total += n
	}
	st.DueBacklog, st.OldestDueAt = c.DueBacklog, c.OldestDueAt
	return st
}
