package service

import (
	"context"
	"errors"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// Waker is told when a reminder becomes due at t (the scheduler's Wake).
type Waker interface{ Wake(t time.Time) }

// MaxBulk bounds the reminders one bulk action changes.
const MaxBulk = 5000

// Reminders changes reminders' states for every surface: a cancel or a
// retry is the same compare-and-set, with the same explanation of a
// refusal, whether the mini-program, the admin API or the admin page asked.
type Reminders struct {
	store store.ReminderStore
	wake  Waker
	now   func() time.Time
}

// NewReminders returns the reminder service over st; wake is told of every
// retry, now is the clock.
func NewReminders(st store.ReminderStore, wake Waker, now func() time.Time) *Reminders {
	return &Reminders{store: st, wake: wake, now: now}
}

// Own loads reminder id of owner; anyone else's reminder is not found, as
// one that does not exist.
func (s *Reminders) Own(ctx context.Context, id, owner string) (store.Reminder, error) {
	rem, err := s.store.GetReminder(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && rem.OpenID != owner) {
		return store.Reminder{}, notFound("reminder " + id)
	}
	return rem, err
}

// Cancel cancels a scheduled reminder (a compare-and-set on its status).
// A non-empty owner must own it. A reminder that is not scheduled is a
// conflict that says what it is instead.
func (s *Reminders) Cancel(ctx context.Context, id, owner string) error {
	if owner != "" {
		if _, err := s.Own(ctx, id, owner); err != nil {
			return err
		}
	}
	err := s.store.CancelReminder(ctx, id, s.now())
	if se := stateError(err); se != nil {
		if se.Status == store.StatusSending {
			return conflict("reminder %s is being sent right now; try again in a moment", id)
		}
		return conflict("reminder %s is already %s", id, se.Status)
	}
	return err
}

// Update changes a scheduled reminder to u (validated by the caller) and
// wakes the engine for its new fire_at. A reminder that stopped being
// scheduled since it was read is a conflict.
func (s *Reminders) Update(ctx context.Context, u store.ReminderUpdate) error {
	err := s.store.UpdateScheduled(ctx, u, s.now())
	if stateError(err) != nil || errors.Is(err, store.ErrNotFound) {
		return conflict("reminder %s is no longer scheduled (it started sending or was canceled)", u.ID)
	}
	if err != nil {
		return err
	}
	s.wake.Wake(u.FireAt)
	return nil
}

// Retry schedules a failed or skipped reminder again, now, and wakes the
// engine. Anything else is a conflict that says what it is.
func (s *Reminders) Retry(ctx context.Context, id string) error {
	now := s.now()
	err := s.store.RetryReminder(ctx, id, now)
	if se := stateError(err); se != nil {
		return conflict("reminder %s is %s; only a failed or skipped reminder can be retried", id, se.Status)
	}
	if errors.Is(err, store.ErrNotFound) {
		return notFound("reminder " + id)
	}
	if err != nil {
		return err
	}
	s.wake.Wake(now)
	return nil
}

// stateError is the *store.StateError in err, or nil.
func stateError(err error) *store.StateError {
	var se *store.StateError
	if errors.As(err, &se) {
		return se
	}
	return nil
}

// CancelCounts is what a bulk cancel did, per outcome.
type CancelCounts = store.CancelCounts

// RetryCounts is what a bulk retry did, per outcome; Permanent counts the
// reminders left alone because a retry cannot fix their reason.
type RetryCounts = store.RetryCounts

// CancelMany cancels the scheduled ones among ids, in one transaction.
func (s *Reminders) CancelMany(ctx context.Context, ids []string) (CancelCounts, error) {
	return s.store.CancelReminders(ctx, ids, s.now())
}

// RetryMany schedules again, now, the failed and skipped ones among ids
// whose reason a retry can fix (permanent reasons are counted, not
// retried), in one transaction, and wakes the engine when it retried any.
func (s *Reminders) RetryMany(ctx context.Context, ids []string) (RetryCounts, error) {
	now := s.now()
	c, err := s.store.RetryReminders(ctx, ids, now)
	if err == nil && c.Retried > 0 {
		s.wake.Wake(now)
	}
	return c, err
}

// Select lists the ids of the reminders q matches, in (fire_at, id) order,
// up to max (a bulk action's selection by filter); more reports that there
// were more than max.
func (s *Reminders) Select(ctx context.Context, q store.ListQuery, max int) (ids []string, more bool, err error) {
	q.Limit, q.After = 500, nil
	for {
		page, err := s.store.ListReminders(ctx, q)
		if err != nil {
			return nil, false, err
		}
		for _, r := range page.Reminders {
			if len(ids) == max {
				return ids, true, nil
			}
			ids = append(ids, r.ID)
		}
		if page.Next == nil {
			return ids, false, nil
		}
		q.After = page.Next
	}
}
