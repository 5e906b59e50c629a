package store

import (
	"context"
	"time"
)

// ConsentSettings are the consent operations of POST /v1/consents/settings,
// of a whole consent report, and of a snooze (which records a report in
// the transaction that re-schedules). Like Consents, each is one app's.
type ConsentSettings interface {
	// ReportConsents records the answers of one consent report in one
	// transaction: each accept as RecordAccept from the client (and its
	// variant, Answer.Audio), any other answer as SetConsentStatus.
	ReportConsents(ctx context.Context, appID, openID string, answers []Answer, now time.Time) error
	// SaveConsentSettings stores what wx.getSetting reported: the main
	// switch, and Items as the user's saved choices (Consent.Setting), which
	// replace the ones saved before in appID: a template not in Items has
	// none.
	SaveConsentSettings(ctx context.Context, appID, openID string, s Settings, now time.Time) error
	// MainSwitch returns the user's main switch in appID as last reported;
	// true when the user never reported one (subscriptions are on by
	// default).
	MainSwitch(ctx context.Context, appID, openID string) (bool, error)
	// SnoozeKey returns the request hash and reminder of openID's snooze in
	// appID made with key; ErrNotFound when the key was never used there.
	SnoozeKey(ctx context.Context, appID, openID, key string) (hash, reminderID string, err error)
	// SnoozeReminder makes reminder s.ID due again at s.FireAt, in one
	// transaction with s.Answers (as ReportConsents) and s's key: a
	// compare-and-set on s.WasFireAt and a status of sent, skipped or
	// scheduled (a *StateError for another status, ErrConflict when the
	// reminder moved meanwhile or the key was used with another hash). A key
	// used with the same hash changes nothing (Replayed).
	SnoozeReminder(ctx context.Context, s Snooze) (Snoozed, error)
}

// Answer is one template's answer in a consent report.
type Answer struct {
	TemplateID string
	LongTerm   bool
	Status     ConsentStatus // accept, reject, ban or filter
	Audio      bool          // the accept was acceptWithAudio
}

// Settings is wx.getSetting's subscriptionsSetting: the main switch and the
// saved choices (accept, reject or ban) by template id.
type Settings struct {
	MainSwitch bool
	Items      map[string]ConsentStatus
}

// Snooze is a snooze to apply.
type Snooze struct {
	// AppID is the user's app: the answers and the key are its ledger's.
	ID, AppID, OpenID string
	// WasFireAt is the FireAt the snooze was planned from.
	WasFireAt time.Time
	FireAt    time.Time
	// Snoozed and SeriesAt become the reminder's (Reminder.Snoozed).
	Snoozed                     bool
	SeriesAt                    time.Time
	Answers                     []Answer
	IdempotencyKey, RequestHash string
	Now                         time.Time
}

// Snoozed is what SnoozeReminder did: the reminder as it is after it.
type Snoozed struct {
	Reminder Reminder
	Replayed bool
}

// SettingStatus is the ledger status of a template the user never answered
// for, given a saved choice: accept, or reject for reject and ban. A saved
// ban is the setting's, not a report's: it blocks the template only while
// it is saved (the next settings report may lift it), so it is not
// written as the row's status, which a report's ban would block for good.
func SettingStatus(choice ConsentStatus) ConsentStatus {
	if choice == ConsentAccept {
		return ConsentAccept
	}
	return ConsentReject
}
