package store

import (
	"context"
	"time"
)

// Apps are the store's operations across mini-programs. A reminder, an
// event, a session and a consent ledger row carry their app's AppID
// (WeChat names a user by a different openid in each mini-program, but two
// apps may see the same string, and must not share a ledger).
type Apps interface {
	// AdoptRows gives appID (the first configured app of a deployment
	// that upgraded) every session, reminder, event, template and token
	// written before apps existed (AppID ""); each parked sent event and
	// ledger row (consents, main switches, accepts, snooze keys) of that
	// time goes to its user's app: that of the openid's newest reminder,
	// else of its newest session, else appID (a snooze key: its reminder's
	// app first). A ledger row whose app has one with its key already is
	// merged into it (docs/operations.md). It returns how many rows it
	// changed.
	AdoptRows(ctx context.Context, appID string) (int64, error)
	// CountRemindersByApp counts every app's reminders by status.
	CountRemindersByApp(ctx context.Context) (map[string]map[Status]int64, error)
	// CountAppReminders is CountReminders for one app's reminders.
	CountAppReminders(ctx context.Context, appID string, now time.Time) (Counts, error)
	AppViews
}

// TokenStore is one app's access token, shared by the processes on the
// database (EngineStore's token operations are app ""'s).
type TokenStore interface {
	LoadToken(ctx context.Context) (Token, error)
	SaveToken(ctx context.Context, t Token, at time.Time) error
	AcquireTokenFetch(ctx context.Context, holder string, now, until time.Time) (bool, error)
	ReleaseTokenFetch(ctx context.Context, holder string) error
	SaveFetchedToken(ctx context.Context, t Token, holder string, at time.Time) (int64, error)
	InvalidateToken(ctx context.Context, version int64, at time.Time) (bool, error)
}

// TemplateStore is one app's template list (EngineStore's Templates and
// SyncTemplates are app ""'s).
type TemplateStore interface {
	Templates(ctx context.Context) ([]Template, error)
	SyncTemplates(ctx context.Context, list []Template, at time.Time) error
}

// AppViews are the per-app views of the token and the templates.
type AppViews interface {
	// AppTokens is appID's access token row.
	AppTokens(appID string) TokenStore
	// AppTemplates is appID's template list.
	AppTemplates(appID string) TemplateStore
}
