package db

import (
	"context"
	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"math"
)

// MaxWalk bounds the index entries an admin listing filtered by template
// reads for one page (a variable for tests).
var MaxWalk int64 = 5000

// position is a place in (fire_at, id) order: where a listing's next page
// starts.
type position struct {
	FireAt int64
	ID     string
}

// listRemindersPage lists up to p.MaxRows reminders in (fire_at, id) order
// after a cursor: one user's through that user's own index when p.Openid is
// set (a page never reads other users' rows), one status's through the
// status index when p.Status is set, everyone's otherwise.
//
// Without a user, a template filter and a text search (p.Text, matched in
// the data JSON) are applied while walking the index, so that a template
// with few reminders among many would read the whole table for one page. Such a page reads at most MaxWalk index entries: when it
// stops there short of p.MaxRows rows, resume is where it stopped, and the
// next page starts after it. resume is nil when the page reached the end
// of its range or filled up.
func listRemindersPage(ctx context.Context, q *dbsqlc.Queries, p dbsqlc.ListUserRemindersParams) (rows []dbsqlc.Reminder, resume *position, err error) {
	if p.Openid != "" {
		rows, err = q.ListUserReminders(ctx, p)
		return rows, nil, err
	}
	until := position{FireAt: math.MaxInt64} // no bound: fire_at < p.ToMs already
	bounded := false
	if p.TemplateID != "" || p.Text != "" || p.Appid != "" {
		var ends []position
		if p.Status != "" {
			var rs []dbsqlc.ListStatusRemindersWalkEndRow
			rs, err = q.ListStatusRemindersWalkEnd(ctx, dbsqlc.ListStatusRemindersWalkEndParams{Status: p.Status, FromMs: p.FromMs,
				ToMs: p.ToMs, AfterFireAt: p.AfterFireAt, AfterID: p.AfterID, Skip: MaxWalk - 1})
			for _, r := range rs {
				ends = append(ends, position(r))
			}
		} else {
			var rs []dbsqlc.ListRemindersWalkEndRow
			rs, err = q.ListRemindersWalkEnd(ctx, dbsqlc.ListRemindersWalkEndParams{FromMs: p.FromMs, ToMs: p.ToMs,
				AfterFireAt: p.AfterFireAt, AfterID: p.AfterID, Skip: MaxWalk - 1})
			for _, r := range rs {
				ends = append(ends, position(r))
			}
		}
		if err != nil {
			return nil, nil, err
		}
		// With fewer than two, the range ends within the walk (or with its
		// last entry): the page reads to the end, and is the last one.
		if len(ends) == 2 {
			until, bounded = ends[0], true
		}
	}
	if p.Status != "" {
		rows, err = q.ListStatusReminders(ctx, dbsqlc.ListStatusRemindersParams{Status: p.Status, TemplateID: p.TemplateID, Appid: p.Appid, Text: p.Text, FromMs: p.FromMs,
			ToMs: p.ToMs, AfterFireAt: p.AfterFireAt, AfterID: p.AfterID, UntilFireAt: until.FireAt, UntilID: until.ID, MaxRows: p.MaxRows})
	} else {
		rows, err = q.ListReminders(ctx, dbsqlc.ListRemindersParams{TemplateID: p.TemplateID, Appid: p.Appid, Text: p.Text, FromMs: p.FromMs, ToMs: p.ToMs,
			AfterFireAt: p.AfterFireAt, AfterID: p.AfterID, UntilFireAt: until.FireAt, UntilID: until.ID, MaxRows: p.MaxRows})
	}
	if err != nil {
		return nil, nil, err
	}
	if bounded && int64(len(rows)) < p.MaxRows {
		return rows, &until, nil
	}
	return rows, nil, nil
}

// nextPage trims rows, listed with MaxRows one more than limit, to limit,
// and returns where the next page starts: after the last row kept when
// more followed, else resume (nil on the last page).
func nextPage(rows []dbsqlc.Reminder, limit int, resume *position) ([]dbsqlc.Reminder, *position) {
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[len(rows)-1]
		return rows, &position{FireAt: last.FireAt, ID: last.ID}
	}
	return rows, resume
}
