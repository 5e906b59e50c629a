package store

import (
	"math"
	"time"
)

// Reminder is one reminder: a message to one user through one template at
// an instant, once or on a recurrence. Zero instants and durations mean
// "none" (an unset column).
type Reminder struct {
	ID         string
	AppID      string // the mini-program it is sent through
	OpenID     string
	TemplateID string
	Status     Status
	Reason     Reason // set exactly when Status is failed or skipped
	// FireAt is the (current occurrence's) instant; DueAt when it is next
	// looked at (FireAt, or a retry's instant).
	FireAt time.Time
	DueAt  time.Time
	// ExpiresAt ends the current occurrence's window; Window is its width,
	// kept for each occurrence of a series (HasWindow false: the default).
	ExpiresAt  time.Time
	Window     time.Duration
	HasWindow  bool
	Recurrence string // a recurrence spec; "" for a one-off
	Timezone   string
	Data       string // the keyword values, a JSON object
	Page       string
	Attempts   int64
	// LeaseUntil and LeaseOwner are set exactly while Status is sending.
	LeaseUntil     time.Time
	LeaseOwner     string
	IdempotencyKey string
	RequestHash    string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// CreditHeld: the claim reserved a one-time credit for this send.
	CreditHeld bool
	// UnknownAt: the last attempt's outcome is unknown (the engine waits
	// for a sent event before it sends again).
	UnknownAt time.Time
	Delivery  Report // WeChat's sent event, when one arrived
	// Snoozed: the current occurrence is a snooze's extra one; the series
	// resumes at SeriesAt afterwards (zero: it had ended, or a one-off).
	Snoozed  bool
	SeriesAt time.Time
	// EventID and Lead name the event and lead the reminder is of ("":
	// an ordinary reminder).
	EventID string
	Lead    string
	// Alternatives are the templates the reminder may be sent through, in
	// order, each with its rendered data (nil: only TemplateID). A claim
	// sends it through the first the user holds a credit for and sets
	// TemplateID and Data to it.
	Alternatives []Alternative
	// ExternalRef is the app backend's own reference of a reminder it
	// created through the service API ("" for none).
	ExternalRef string
}

// Delivery is one attempt to send a reminder (one occurrence of it).
type Delivery struct {
	ID           int64
	ReminderID   string
	OccurrenceAt time.Time
	Attempt      int64
	Status       DeliveryStatus
	// ErrCode is WeChat's errcode (HasErrCode false: none was answered).
	ErrCode    int64
	HasErrCode bool
	ErrMsg     string
	// MsgID is WeChat's message id of a send (HasMsgID false: none).
	MsgID      int64
	HasMsgID   bool
	StartedAt  time.Time
	FinishedAt time.Time
	// Latency is the send's round trip (HasLatency false: not measured).
	Latency    time.Duration
	HasLatency bool
	// Delivered is what WeChat's sent event said (HasDelivered false: no
	// event yet); EventStatus its status text.
	Delivered    bool
	HasDelivered bool
	EventStatus  string
	// PossibleDuplicate: sent after an attempt of unknown outcome of the
	// same occurrence, which WeChat may have delivered too.
	PossibleDuplicate bool
}

// TrendBucket counts the deliveries of one status that ended (or, not
// ended, started) in one hour: Hour 0 is the hour starting at the since
// of DeliveriesPerHour.
type TrendBucket struct {
	Hour   int64
	Status DeliveryStatus
	N      int64
}

// Consent is a user's ledger row for one template: the one-time credits
// left, the long-term grant, the last answer.
type Consent struct {
	// AppID is the mini-program the user answered in: each app has its own
	// ledger (an openid is one app's name of a user).
	AppID      string
	OpenID     string
	TemplateID string
	Credits    int64
	Status     ConsentStatus
	LongTerm   bool
	UpdatedAt  time.Time
	// ZeroedAt is when the ledger was last emptied (an unsubscribe, a
	// 43101); zero when never.
	ZeroedAt time.Time
	// Setting is the user's saved choice for the template as wx.getSetting
	// last reported it (accept, reject or ban; "" when none is saved).
	Setting ConsentStatus
	// Audio: the last accept the client reported was acceptWithAudio.
	Audio bool
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
	ID         string
	TemplateID string
	FireAt     time.Time
	// Alternatives are the templates that would each cover it, in order
	// (nil: only TemplateID).
	Alternatives []string
}

// Session is a mini-program login: the hash of its bearer token (the token
// itself is never stored) and whose it is, until ExpiresAt.
type Session struct {
	TokenHash string
	OpenID    string
	// AppID is the mini-program the user logged into: the session reaches
	// that app's data only ("" on a row written before apps existed and
	// not yet adopted).
	AppID     string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Pause is a named pause of sending, persisted so that it outlives a
// restart: the daily quota's (until its reset) or an admin's (until
// resumed: Until is PauseIndefinite).
type Pause struct {
	Name   string
	Until  time.Time
	Reason string
	Since  time.Time // when it began (or last changed)
}

// PauseIndefinite is the Until of a pause that lasts until it is cleared.
var PauseIndefinite = time.UnixMilli(math.MaxInt64)

// Retention are the cutoffs of the retention job: what is older is deleted.
type Retention struct {
	Sessions   time.Time // sessions that expired before it
	Grants     time.Time // accept reports received before it (too old to pair)
	Deliveries time.Time // delivery records of sends started before it (and snooze keys used before it)
	SentEvents time.Time // sent events parked before it (their outcome never came)
	Pushes     time.Time // the record of pushes applied before it
	// WebhooksDelivered and WebhooksDead: outbox events delivered, or
	// dead (last changed), before them; zero keeps them.
	WebhooksDelivered, WebhooksDead time.Time
}

// Template is a subscribe-message template as last synced from WeChat.
type Template struct {
	ID       string
	Title    string
	Kind     TemplateKind
	Content  string
	Keywords []Keyword
}

// Keyword is one of a template's keywords.
type Keyword struct {
	Key, Type, Label string
	Enum             []string
}

// Token is the WeChat access token. Version counts the saves of the token
// row (LoadToken reports it, every save bumps it): an invalidation names the
// version it found rejected, a compare-and-set that leaves a newer token
// alone.
type Token struct {
	Value     string
	ExpiresAt time.Time
	Version   int64
}

// Instance is one live reminderd process of the fleet (GET
// /admin/v1/instances): its row in the instances table, heartbeated.
type Instance struct {
	ID         string
	Host       string
	StartedAt  time.Time
	LastSeenAt time.Time
	// Leader: the process holds the live leader lease (Instances).
	Leader bool
}
