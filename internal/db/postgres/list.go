package postgres

import (
	"context"
	"math"

	"github.com/reminderd/reminderd/internal/db/postgres/pgsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// MaxWalk bounds the index entries an admin listing filtered by template or
// text without a user reads for one page (a variable for tests): such a
// filter is applied while walking (fire_at, id) order, so a rare template
// among many reminders would otherwise read the whole table for one page.
var MaxWalk int64 = 5000

// The bounds of an unbounded listing, in unix milliseconds.
const (
	minMS = -1 << 62
	maxMS = 1 << 62
)

// position is a place in (fire_at, id) order.
type position struct {
	FireAt int64
	ID     string
}

// listParams is a listing's parameters, whichever query serves it.
type listParams struct {
	appID, openID, status, templateID, text, delivery string
	externalRef                                       string
	fromMS, toMS, afterFireAt                         int64
	afterID                                           string
	maxRows                                           int32
}

// ListReminders returns one page in (fire_at, id) order: keyset pages
// (the cursor is a row-value comparison), one row more than the limit read
// to know whether a next page follows. One user's page goes through the
// user's index, a delivery report's through its partial index, a status's
// through the status index, everyone's through (fire_at, id); without a
// user, a template or text filter reads at most MaxWalk entries a page.
func (d *DB) ListReminders(ctx context.Context, lq store.ListQuery) (store.Page, error) {
	limit := max(lq.Limit, 1)
	p := listParams{appID: lq.AppID, openID: lq.OpenID, status: string(lq.Status), templateID: lq.TemplateID, text: lq.Text,
		delivery: string(lq.Delivery), externalRef: lq.ExternalRef, fromMS: minMS, toMS: maxMS, afterFireAt: minMS, maxRows: int32(min(limit, math.MaxInt32-1)) + 1}
	if !lq.From.IsZero() {
		p.fromMS = lq.From.UnixMilli()
	}
	if !lq.To.IsZero() {
		p.toMS = lq.To.UnixMilli()
	}
	if lq.After != nil {
		p.afterFireAt, p.afterID = lq.After.FireAt.UnixMilli(), lq.After.ID
	}
	rows, resume, err := d.listPage(ctx, p)
	if err != nil {
		return store.Page{}, storeErr(err, "list reminders")
	}
	var next *position
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[len(rows)-1]
		next = &position{FireAt: last.FireAt, ID: last.ID}
	} else {
		next = resume
	}
	page := store.Page{Reminders: remindersFromRows(rows), WalkLimit: MaxWalk}
	if next != nil {
		page.Next = &store.Cursor{FireAt: instant(next.FireAt), ID: next.ID}
	}
	return page, nil
}

// listPage lists up to p.maxRows rows after the cursor; resume is where a
// page cut short by the walk bound stopped (nil when it reached the end
// of its range or filled up).
func (d *DB) listPage(ctx context.Context, p listParams) (rows []pgsqlc.Reminder, resume *position, err error) {
	switch {
	case p.externalRef != "":
		rows, err = d.q.ListExternalRefReminders(ctx, pgsqlc.ListExternalRefRemindersParams{ExternalRef: &p.externalRef, Appid: p.appID,
			Openid: p.openID, Status: p.status, AfterFireAt: p.afterFireAt, AfterID: p.afterID, MaxRows: p.maxRows})
		return rows, nil, err
	case p.delivery != "":
		rows, err = d.q.ListDeliveryReminders(ctx, pgsqlc.ListDeliveryRemindersParams{Delivery: p.delivery,
			Appid: p.appID, Openid: p.openID, Status: p.status, TemplateID: p.templateID, Text: p.text, FromMs: p.fromMS, ToMs: p.toMS,
			AfterFireAt: p.afterFireAt, AfterID: p.afterID, MaxRows: p.maxRows})
		return rows, nil, err
	case p.openID != "":
		rows, err = d.q.ListUserReminders(ctx, pgsqlc.ListUserRemindersParams{Appid: p.appID, Openid: p.openID, Status: p.status,
			TemplateID: p.templateID, Text: p.text, FromMs: p.fromMS, ToMs: p.toMS,
			AfterFireAt: p.afterFireAt, AfterID: p.afterID, MaxRows: p.maxRows})
		return rows, nil, err
	}
	until := position{FireAt: math.MaxInt64} // no bound: fire_at < p.toMS already
	bounded := false
	if p.templateID != "" || p.text != "" || p.appID != "" {
		var ends []position
		skip := int32(min(MaxWalk, math.MaxInt32) - 1)
		if p.status != "" {
			var rs []pgsqlc.ListStatusRemindersWalkEndRow
			rs, err = d.q.ListStatusRemindersWalkEnd(ctx, pgsqlc.ListStatusRemindersWalkEndParams{Status: p.status,
				FromMs: p.fromMS, ToMs: p.toMS, AfterFireAt: p.afterFireAt, AfterID: p.afterID, Skip: skip})
			for _, r := range rs {
				ends = append(ends, position(r))
			}
		} else {
			var rs []pgsqlc.ListRemindersWalkEndRow
			rs, err = d.q.ListRemindersWalkEnd(ctx, pgsqlc.ListRemindersWalkEndParams{FromMs: p.fromMS, ToMs: p.toMS,
				AfterFireAt: p.afterFireAt, AfterID: p.afterID, Skip: skip})
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
	if p.status != "" {
		rows, err = d.q.ListStatusReminders(ctx, pgsqlc.ListStatusRemindersParams{Status: p.status, TemplateID: p.templateID, Appid: p.appID,
			Text: p.text, FromMs: p.fromMS, ToMs: p.toMS, AfterFireAt: p.afterFireAt, AfterID: p.afterID,
			UntilFireAt: until.FireAt, UntilID: until.ID, MaxRows: p.maxRows})
	} else {
		rows, err = d.q.ListReminders(ctx, pgsqlc.ListRemindersParams{TemplateID: p.templateID, Appid: p.appID, Text: p.text,
			FromMs: p.fromMS, ToMs: p.toMS, AfterFireAt: p.afterFireAt, AfterID: p.afterID,
			UntilFireAt: until.FireAt, UntilID: until.ID, MaxRows: p.maxRows})
	}
	if err != nil {
		return nil, nil, err
	}
	if bounded && int32(len(rows)) < p.maxRows {
		return rows, &until, nil
	}
	return rows, nil, nil
}
