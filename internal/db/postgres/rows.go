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
		AppID:          r.Appid,
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
		Snoozed:        r.Snoozed,
		SeriesAt:       nullInstant(r.SeriesAt),
		EventID:        deref(r.EventID),
		Lead:           r.Lead,
		Alternatives:   alternativesOf(r.Alternatives),
		ExternalRef:    deref(r.ExternalRef),
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

// consentFromRow maps a consents row to the domain's Consent.
func consentFromRow(r pgsqlc.Consent) store.Consent {
	c := store.Consent{AppID: r.Appid, OpenID: r.Openid, TemplateID: r.TemplateID, Credits: r.Credits, Status: store.ConsentStatus(r.Status),
		LongTerm: r.LongTerm, UpdatedAt: instant(r.UpdatedAt), Setting: store.ConsentStatus(deref(r.Setting)), Audio: r.Audio}
	if r.ZeroedAt != 0 { // consents.zeroed_at's "never" is 0
		c.ZeroedAt = instant(r.ZeroedAt)
	}
	return c
}

// deliveryFromRow maps a deliveries row to the domain's Delivery.
func deliveryFromRow(r pgsqlc.Delivery) store.Delivery {
	d := store.Delivery{ID: r.ID, ReminderID: r.ReminderID, OccurrenceAt: instant(r.OccurrenceAt), Attempt: r.Attempt,
		Status: store.DeliveryStatus(r.Status), ErrMsg: r.Errmsg, StartedAt: instant(r.StartedAt),
		FinishedAt: nullInstant(r.FinishedAt), EventStatus: r.EventStatus, PossibleDuplicate: r.PossibleDuplicate}
	if r.Errcode != nil {
		d.ErrCode, d.HasErrCode = *r.Errcode, true
	}
	if r.Msgid != nil {
		d.MsgID, d.HasMsgID = *r.Msgid, true
	}
	if r.LatencyMs != nil {
		d.Latency, d.HasLatency = time.Duration(*r.LatencyMs)*time.Millisecond, true
	}
	if r.Delivered != nil {
		d.Delivered, d.HasDelivered = *r.Delivered, true
	}
	return d
}

// deref is the value of a nullable text column: "" for NULL.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// alternativesOf reads the alternatives column (valid JSON by its CHECK).
func alternativesOf(s string) []store.Alternative {
	alts, _ := store.DecodeAlternatives(s)
	return alts
}
