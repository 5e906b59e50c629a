package service

import (
	"context"

	"github.com/reminderd/reminderd/internal/store"
)

// AppStats is Stats for one mini-program's reminders.
func (s *Reminders) AppStats(ctx context.Context, appID string) (Stats, error) {
	at := s.now()
	c, err := s.store.CountAppReminders(ctx, appID, at)
	return statsOf(at, c), err
}

// OwnIn is Own for a user of one mini-program: a reminder of another app
// is not found either, whoever its openid names.
func (s *Reminders) OwnIn(ctx context.Context, id, appID, owner string) (store.Reminder, error) {
	rem, err := s.Own(ctx, id, owner)
	if err == nil && rem.AppID != appID {
		return store.Reminder{}, notFound("reminder " + id)
	}
	return rem, err
}

// CancelIn is Cancel for a user of one mini-program.
func (s *Reminders) CancelIn(ctx context.Context, id, appID, owner string) error {
	if _, err := s.OwnIn(ctx, id, appID, owner); err != nil {
		return err
	}
	return s.Cancel(ctx, id, owner)
}
