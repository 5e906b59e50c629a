package postgres

import (
	"time"

	"github.com/reminderd/reminderd/internal/db/postgres/pgsqlc"
	"github.com/reminderd/reminderd/internal/store"
)

// reminderFromRow maps a reminders row to the store's Reminder: the one
// place a row becomes a value.
func reminderFromRow(r pgsqlc.Reminder) store.Reminder {
	out := store.Reminder{
		ID:             r.ID,
		OpenID:         r.Openid,
		TemplateID:     r.TemplateID,
		Status:         store.Status(r.Status),
		Reason:         store.Reason(deref(r.Reason)),
		FireAt:         instant(r.FireAt),
		DueAt:          instant(r.DueAt),
		ExpiresAt:      nullInstant(r.ExpiresAt),
		Recurrence:     deref(r.Recurrence),
		Timezone:       r.Timezone,
		Data:           r.Data,
		Page:           r.Page,
		Attempts:       r.Attempts,
		LeaseUntil:     nullInstant(r.LeaseUntil),
		LeaseOwner:     deref(r.LeaseOwner),
		IdempotencyKey: deref(r.IdempotencyKey),
		RequestHash:    deref(r.RequestHash),
		CreatedAt:      instant(r.CreatedAt),
		UpdatedAt:      instant(r.UpdatedAt),
		CreditHeld:     r.CreditHeld,
		UnknownAt:      nullInstant(r.UnknownAt),
		Delivery:       store.Report(r.Delivery),
	}
	if r.WindowMs != nil {
		out.Window, out.HasWindow = time.Duration(*r.WindowMs)*time.Millisecond, true
	}
	return out
}

// remindersFromRows maps rows with reminderFromRow.
func remindersFromRows(rows []pgsqlc.Reminder) []store.Reminder {
	out := make([]store.Reminder, len(rows))
	for i, r := range rows {
		out[i] = reminderFromRow(r)
	}
	return out
}

// deref is the value of a nullable text column: "" for NULL.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
