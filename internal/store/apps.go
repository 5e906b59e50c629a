package store

import (
	"context"
	"time"
)

// Apps are the store's operations across mini-programs. A reminder and a
// session carry their app's AppID; the ledger's rows belong to their
// openid's app (WeChat names a user by a different openid in each
// mini-program), so they carry none.
type Apps interface {
	// AdoptRows gives appID every session and reminder written before
	// apps existed (AppID ""): the configured app of a deployment that
	// upgraded. It returns how many rows it changed.
	AdoptRows(ctx context.Context, appID string) (int64, error)
	// CountRemindersByApp counts every app's reminders by status.
	CountRemindersByApp(ctx context.Context) (map[string]map[Status]int64, error)
	// CountAppReminders is CountReminders for one app's reminders.
	CountAppReminders(ctx context.Context, appID string, now time.Time) (Counts, error)
}
