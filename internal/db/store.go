package db

import (
	"database/sql"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

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
		AppID:          r.Appid,
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
		Snoozed:        r.Snoozed == 1,
		SeriesAt:       nullInstant(r.SeriesAt),
		EventID:        r.EventID.String,
		Lead:           r.Lead,
		Alternatives:   alternativesOf(r.Alternatives),
		ExternalRef:    r.ExternalRef.String,
	}
}

// alternativesOf reads the alternatives column (valid JSON by its CHECK).
func alternativesOf(s string) []store.Alternative {
	alts, _ := store.DecodeAlternatives(s)
	return alts
}

// consentFromRow maps a consents row to the domain's Consent.
func consentFromRow(r dbsqlc.Consent) store.Consent {
	return store.Consent{AppID: r.Appid, OpenID: r.Openid, TemplateID: r.TemplateID, Credits: r.Credits, Status: store.ConsentStatus(r.Status),
		LongTerm: r.LongTerm == 1, UpdatedAt: instant(r.UpdatedAt), ZeroedAt: zeroedAt(r.ZeroedAt),
		Setting: store.ConsentStatus(r.Setting.String), Audio: r.Audio == 1}
}

// zeroedAt is the instant of consents.zeroed_at, whose "never" is 0.
func zeroedAt(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return instant(ms)
}

// deliveryFromRow maps a deliveries row to the domain's Delivery.
func deliveryFromRow(r dbsqlc.Delivery) store.Delivery {
	return store.Delivery{ID: r.ID, ReminderID: r.ReminderID, OccurrenceAt: instant(r.OccurrenceAt), Attempt: r.Attempt,
		Status: store.DeliveryStatus(r.Status), ErrCode: r.Errcode.Int64, HasErrCode: r.Errcode.Valid, ErrMsg: r.Errmsg,
		MsgID: r.Msgid.Int64, HasMsgID: r.Msgid.Valid, StartedAt: instant(r.StartedAt), FinishedAt: nullInstant(r.FinishedAt),
		Latency: time.Duration(r.LatencyMs.Int64) * time.Millisecond, HasLatency: r.LatencyMs.Valid,
		Delivered: r.Delivered.Int64 == 1, HasDelivered: r.Delivered.Valid, EventStatus: r.EventStatus,
		PossibleDuplicate: r.PossibleDuplicate == 1}
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

// jsonArg encodes a batch argument of a query (the statements that take a
// whole batch read it with json_each) as JSON. Its strings must pass
// jsonSafe, which makes the encoding infallible.
func jsonArg(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("db: jsonArg: " + err.Error()) // only a non-encodable type gets here: a bug
	}
	return string(b)
}

// jsonSafe reports whether the strings reach SQLite unchanged through
// jsonArg and json_each: JSON turns invalid UTF-8 into U+FFFD, and SQLite's
// string functions stop at a NUL inside a text. Only a hand-edited row has
// such keys; they take the one-row statements.
func jsonSafe(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return false
		}
	}
	return true
}
