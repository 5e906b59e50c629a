package db

import (
	"database/sql"
	"time"

	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// DB is the SQLite driver of the store.
var _ store.Store = (*DB)(nil)

// reminderFromRow maps a reminders row to the domain's Reminder: the one
// place a row becomes a value callers see.
func reminderFromRow(r dbsqlc.Reminder) store.Reminder {
	return store.Reminder{
		ID:             r.ID,
		OpenID:         r.Openid,
		TemplateID:     r.TemplateID,
		Status:         store.Status(r.Status),
		Reason:         store.Reason(r.Reason.String),
		FireAt:         instant(r.FireAt),
		DueAt:          instant(r.DueAt),
		ExpiresAt:      nullInstant(r.ExpiresAt),
		Window:         time.Duration(r.WindowMs.Int64) * time.Millisecond,
		HasWindow:      r.WindowMs.Valid,
		Recurrence:     r.Recurrence.String,
		Timezone:       r.Timezone,
		Data:           r.Data,
		Page:           r.Page,
		Attempts:       r.Attempts,
		LeaseUntil:     nullInstant(r.LeaseUntil),
		LeaseOwner:     r.LeaseOwner.String,
		IdempotencyKey: r.IdempotencyKey.String,
		RequestHash:    r.RequestHash.String,
		CreatedAt:      instant(r.CreatedAt),
		UpdatedAt:      instant(r.UpdatedAt),
		CreditHeld:     r.CreditHeld == 1,
		UnknownAt:      nullInstant(r.UnknownAt),
		Delivery:       store.Report(r.Delivery),
	}
}

// remindersFromRows maps rows with reminderFromRow.
func remindersFromRows(rows []dbsqlc.Reminder) []store.Reminder {
	out := make([]store.Reminder, len(rows))
	for i, r := range rows {
		out[i] = reminderFromRow(r)
	}
	return out
}

// instant is the time of a unix-millisecond column.
func instant(ms int64) time.Time { return time.UnixMilli(ms) }

// nullInstant is the time of a nullable unix-millisecond column: the zero
// time for NULL.
func nullInstant(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMilli(v.Int64)
}

// msOrNull is the column value of an optional instant: NULL for the zero
// time.
func msOrNull(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

// strOrNull is the column value of an optional string: NULL for "".
func strOrNull(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}
