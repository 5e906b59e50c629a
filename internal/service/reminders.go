package service

import (
	"context"
	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"time"

	"github.com/reminderd/reminderd/internal/db"
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
	db   *db.DB
	wake Waker
	now  func() time.Time
}

// NewReminders returns the reminder service over d; wake is told of every
// retry, now is the clock.
func NewReminders(d *db.DB, wake Waker, now func() time.Time) *Reminders {
	return &Reminders{db: d, wake: wake, now: now}
}

// Own loads reminder id of owner, on the writer (it precedes a change);
// anyone else's reminder is not found, as one that does not exist.
func (s *Reminders) Own(ctx context.Context, id, owner string) (dbsqlc.Reminder, error) {
	rem, err := s.db.Write.GetReminder(ctx, id)
	if db.IsNotFound(err) || (err == nil && rem.Openid != owner) {
		return dbsqlc.Reminder{}, notFound("reminder " + id)
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
	n, err := s.db.Write.CancelReminder(ctx, dbsqlc.CancelReminderParams{ID: id, Now: s.now().UnixMilli()})
	if err != nil || n == 1 {
		return err
	}
	rem, err := s.db.Write.GetReminder(ctx, id)
	if err != nil {
		return db.NotFound(err, "reminder "+id)
	}
	if store.Status(rem.Status) == store.StatusSending {
		return conflict("reminder %s is being sent right now; try again in a moment", id)
	}
	return conflict("reminder %s is already %s", id, rem.Status)
}

// Update changes a scheduled reminder to p (validated by the caller; p.Now
// is set here) and wakes the engine for its new fire_at. A reminder that
// stopped being scheduled since it was read is a conflict.
func (s *Reminders) Update(ctx context.Context, p dbsqlc.UpdateScheduledReminderParams) error {
	p.Now = s.now().UnixMilli()
	n, err := s.db.Write.UpdateScheduledReminder(ctx, p)
	if err != nil {
		return err
	}
	if n == 0 {
		return conflict("reminder %s is no longer scheduled (it started sending or was canceled)", p.ID)
	}
	s.wake.Wake(time.UnixMilli(p.FireAt))
	return nil
}

// Retry schedules a failed or skipped reminder again, now, and wakes the
// engine. Anything else is a conflict that says what it is.
func (s *Reminders) Retry(ctx context.Context, id string) error {
	now := s.now()
	n, err := s.db.Write.RetryReminder(ctx, dbsqlc.RetryReminderParams{ID: id, Now: now.UnixMilli()})
	if err != nil {
		return err
	}
	if n == 0 {
		rem, err := s.db.Write.GetReminder(ctx, id)
		if db.IsNotFound(err) {
			return notFound("reminder " + id)
		}
		if err != nil {
			return err
		}
		return conflict("reminder %s is %s; only a failed or skipped reminder can be retried", id, rem.Status)
	}
	s.wake.Wake(now)
	return nil
}

// CancelCounts is what a bulk cancel did, per outcome.
type CancelCounts struct{ Matched, Canceled, Conflict, NotFound int }

// RetryCounts is what a bulk retry did, per outcome; Permanent counts the
// reminders left alone because a retry cannot fix their reason.
type RetryCounts struct{ Matched, Retried, Conflict, Permanent, NotFound int }

// CancelMany cancels the scheduled ones among ids, in one transaction.
func (s *Reminders) CancelMany(ctx context.Context, ids []string) (CancelCounts, error) {
	c := CancelCounts{Matched: len(ids)}
	now := s.now().UnixMilli()
	err := s.db.WithTx(ctx, func(q *dbsqlc.Queries) error {
		c = CancelCounts{Matched: len(ids)}
		for _, id := range ids {
			n, err := q.CancelReminder(ctx, dbsqlc.CancelReminderParams{ID: id, Now: now})
			if err != nil {
				return err
			}
			if n == 1 {
				c.Canceled++
				continue
			}
			if _, err := q.GetReminder(ctx, id); db.IsNotFound(err) {
				c.NotFound++
			} else if err != nil {
				return err
			} else {
				c.Conflict++
			}
		}
		return nil
	})
	return c, err
}

// RetryMany schedules again, now, the failed and skipped ones among ids
// whose reason a retry can fix (permanent reasons are counted, not
// retried), in one transaction, and wakes the engine when it retried any.
func (s *Reminders) RetryMany(ctx context.Context, ids []string) (RetryCounts, error) {
	var c RetryCounts
	now := s.now()
	err := s.db.WithTx(ctx, func(q *dbsqlc.Queries) error {
		c = RetryCounts{Matched: len(ids)}
		for _, id := range ids {
			rem, err := q.GetReminder(ctx, id)
			switch {
			case db.IsNotFound(err):
				c.NotFound++
				continue
			case err != nil:
				return err
			case !store.Status(rem.Status).Ended():
				c.Conflict++
				continue
			case store.Reason(rem.Reason.String).Permanent():
				c.Permanent++
				continue
			}
			n, err := q.RetryReminder(ctx, dbsqlc.RetryReminderParams{ID: id, Now: now.UnixMilli()})
			if err != nil {
				return err
			}
			if n == 1 {
				c.Retried++
			} else {
				c.Conflict++
			}
		}
		return nil
	})
	if err == nil && c.Retried > 0 {
		s.wake.Wake(now)
	}
	return c, err
}

// Select lists the ids of the reminders p matches, in (fire_at, id) order,
// up to max (a bulk action's selection by filter); more reports that there
// were more than max.
func (s *Reminders) Select(ctx context.Context, p dbsqlc.ListUserRemindersParams, max int) (ids []string, more bool, err error) {
	const page = 500
	p.MaxRows = page + 1
	for {
		rows, resume, err := db.ListRemindersPage(ctx, s.db.Read, p)
		if err != nil {
			return nil, false, err
		}
		rows, next := db.NextPage(rows, page, resume)
		for _, r := range rows {
			if len(ids) == max {
				return ids, true, nil
			}
			ids = append(ids, r.ID)
		}
		if next == nil {
			return ids, false, nil
		}
		p.AfterFireAt, p.AfterID = next.FireAt, next.ID
	}
}
