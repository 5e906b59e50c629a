package db

import "context"

// ListRemindersPage lists reminders in (fire_at, id) order after a cursor:
// one user's through that user's own index when p.Openid is set (a page
// never reads other users' rows), everyone's otherwise.
func (q *Queries) ListRemindersPage(ctx context.Context, p ListUserRemindersParams) ([]Reminder, error) {
	if p.Openid != "" {
		return q.ListUserReminders(ctx, p)
	}
	return q.ListReminders(ctx, ListRemindersParams{Status: p.Status, TemplateID: p.TemplateID, FromMs: p.FromMs, ToMs: p.ToMs,
		AfterFireAt: p.AfterFireAt, AfterID: p.AfterID, MaxRows: p.MaxRows})
}
