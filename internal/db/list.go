package db

import "context"

// ListRemindersPage lists reminders in (fire_at, id) order after a cursor:
// one user's through that user's own index when p.Openid is set (a page
// never reads other users' rows), one status's through the status index when
// p.Status is set, everyone's otherwise.
func (q *Queries) ListRemindersPage(ctx context.Context, p ListUserRemindersParams) ([]Reminder, error) {
	switch {
	case p.Openid != "":
		return q.ListUserReminders(ctx, p)
	case p.Status != "":
		return q.ListStatusReminders(ctx, ListStatusRemindersParams{Status: p.Status, TemplateID: p.TemplateID, FromMs: p.FromMs,
			ToMs: p.ToMs, AfterFireAt: p.AfterFireAt, AfterID: p.AfterID, MaxRows: p.MaxRows})
	}
	return q.ListReminders(ctx, ListRemindersParams{TemplateID: p.TemplateID, FromMs: p.FromMs, ToMs: p.ToMs,
		AfterFireAt: p.AfterFireAt, AfterID: p.AfterID, MaxRows: p.MaxRows})
}
