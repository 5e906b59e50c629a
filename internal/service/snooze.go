package service

import (
	"context"
	"errors"
	"time"

	"github.com/reminderd/reminderd/internal/recur"
	"github.com/reminderd/reminderd/internal/store"
)

// ErrSnoozePastSeries refuses a snooze of a recurring reminder to, or
// past, the series' next occurrence: the extra occurrence would overtake
// an occurrence of the series (which a snooze leaves as it is).
var ErrSnoozePastSeries = errors.New("snooze reaches the series' next occurrence")

// SnoozeRequest is a snooze of reminder ID of OpenID in app AppID to At,
// validated by the caller (At after now), with the consent answers given at
// the tap and an optional idempotency key and its request's hash (both the
// app's ledger's).
type SnoozeRequest struct {
	ID, AppID, OpenID string
	At                time.Time
	Answers           []store.Answer
	Key, Hash         string
}

// SnoozeResult is the snoozed reminder; SeriesAt is the series' next
// occurrence when ErrSnoozePastSeries refused it.
type SnoozeResult struct {
	Reminder store.Reminder
	Replayed bool
	SeriesAt time.Time
}

// Snooze makes a sent, skipped or scheduled reminder of the caller due
// again at req.At, recording req.Answers in the same transaction, and wakes
// the engine. A one-off reminder simply moves; a recurring one gets one
// extra occurrence, after which its series goes on where it was (or stays
// ended). A key seen before with the same request answers the reminder as
// it is, with another request (or reminder) a conflict.
func (s *Reminders) Snooze(ctx context.Context, req SnoozeRequest) (SnoozeResult, error) {
	rem, err := s.Own(ctx, req.ID, req.OpenID)
	if err != nil {
		return SnoozeResult{}, err
	}
	req.AppID = rem.AppID // the key and the answers are the reminder's app's
	if seen, err := s.SnoozeSeen(ctx, req); seen || err != nil {
		return SnoozeResult{Reminder: rem, Replayed: seen}, err
	}
	switch rem.Status {
	case store.StatusSent, store.StatusSkipped, store.StatusScheduled:
	default:
		return SnoozeResult{}, conflict("reminder %s is %s; only a sent, skipped or scheduled reminder can be snoozed", req.ID, rem.Status)
	}
	snoozed, seriesAt, err := snoozePlan(rem, s.now())
	if err != nil {
		return SnoozeResult{}, err
	}
	if !seriesAt.IsZero() && !req.At.Before(seriesAt) {
		return SnoozeResult{SeriesAt: seriesAt}, ErrSnoozePastSeries
	}
	done, err := s.store.SnoozeReminder(ctx, store.Snooze{ID: req.ID, AppID: rem.AppID, OpenID: req.OpenID, WasFireAt: rem.FireAt, FireAt: req.At,
		Snoozed: snoozed, SeriesAt: seriesAt, Answers: req.Answers, IdempotencyKey: req.Key, RequestHash: req.Hash, Now: s.now()})
	if se := stateError(err); se != nil {
		return SnoozeResult{}, conflict("reminder %s is %s; only a sent, skipped or scheduled reminder can be snoozed", req.ID, se.Status)
	}
	if errors.Is(err, store.ErrConflict) {
		return SnoozeResult{}, conflict("reminder %s changed while it was being snoozed (it was sent or moved); read it and try again", req.ID)
	}
	if err != nil {
		return SnoozeResult{}, err
	}
	if !done.Replayed {
		s.wake.Wake(req.At)
	}
	return SnoozeResult{Reminder: done.Reminder, Replayed: done.Replayed}, nil
}

// SnoozeSeen reports whether req's key was seen with the same request (a
// repeat, which changes nothing); a key seen with another request (or for
// another reminder) is a conflict.
func (s *Reminders) SnoozeSeen(ctx context.Context, req SnoozeRequest) (bool, error) {
	if req.Key == "" {
		return false, nil
	}
	hash, id, err := s.store.SnoozeKey(ctx, req.AppID, req.OpenID, req.Key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	case hash != req.Hash || id != req.ID:
		return false, conflict("Idempotency-Key %q was used with a different request", req.Key)
	}
	return true, nil
}

// snoozePlan says where rem's series resumes after a snooze's extra
// occurrence: a one-off has no series; an ended series (sent, skipped)
// stays ended (zero); a scheduled series resumes at its pending occurrence,
// or, when that one is already due (being retried), at the one after it:
// the snooze replaces it. A reminder snoozed before keeps its resumption.
func snoozePlan(rem store.Reminder, now time.Time) (snoozed bool, seriesAt time.Time, err error) {
	switch {
	case rem.Recurrence == "":
		return false, time.Time{}, nil
	case rem.Snoozed && rem.Status == store.StatusScheduled:
		return true, rem.SeriesAt, nil
	case rem.Status != store.StatusScheduled:
		return true, time.Time{}, nil
	case rem.FireAt.After(now):
		return true, rem.FireAt, nil
	}
	loc, err := recur.LoadZone(rem.Timezone)
	if err != nil {
		return false, time.Time{}, err
	}
	sched, err := recur.Parse(rem.Recurrence, loc)
	if err != nil {
		return false, time.Time{}, err
	}
	next := sched.Next(rem.FireAt)
	for !next.IsZero() && !next.After(now) {
		next = sched.Next(next)
	}
	return true, next, nil
}
