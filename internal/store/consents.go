package store

import (
	"context"
	"time"
)

// Consent is a user's ledger row for one template: the one-time credits
// left, the long-term grant, the last answer.
type Consent struct {
	OpenID     string
	TemplateID string
	Credits    int64
	Status     ConsentStatus
	LongTerm   bool
	UpdatedAt  time.Time
	// ZeroedAt is when the ledger was last emptied (an unsubscribe, a
	// 43101); zero when never.
	ZeroedAt time.Time
}

// GrantSource says who reported an accept: the mini-program's report of
// wx.requestSubscribeMessage, or WeChat's popup event.
type GrantSource string

const (
	SourceClient GrantSource = "client"
	SourceEvent  GrantSource = "event"
)

// PairWindow is how far apart a client report and a popup event may be and
// still describe the same accept.
const PairWindow = 120 * time.Second

// Prompted is a pending reminder as the consent prompt planner sees it.
type Prompted struct {
	TemplateID string
	FireAt     time.Time
}

// Consents are the operations on the consent ledger.
type Consents interface {
	// RecordAccept records one accept of (openID, templateID) reported by
	// source. An accept of the other source within PairWindow not yet
	// paired describes the same accept: the two are paired and nothing is
	// added. Otherwise one credit is added (one-time) or the template
	// granted (longTerm). It reports whether the accept added to the ledger.
	RecordAccept(ctx context.Context, openID, templateID string, longTerm bool, source GrantSource, now time.Time) (counted bool, err error)
	// SetConsentStatus records a reject, ban or filter answer: the status
	// changes, the credits stay.
	SetConsentStatus(ctx context.Context, openID, templateID string, status ConsentStatus, now time.Time) error
	// GetConsent returns the user's row for a template; ErrNotFound when
	// the user never answered for it.
	GetConsent(ctx context.Context, openID, templateID string) (Consent, error)
	// ListConsents returns the user's rows, by template id.
	ListConsents(ctx context.Context, openID string) ([]Consent, error)
	// ListPrompted returns up to max of the user's pending reminders that
	// hold no credit, most urgent (FireAt, then ID) first.
	ListPrompted(ctx context.Context, openID string, max int) ([]Prompted, error)
}
