package store

import (
	"context"
	"sync/atomic"
	"time"
)

// EngineStore is what the scheduler asks of the store: claims, outcomes,
// the rescue of expired leases, pauses, unknown outcomes, periodic jobs.
type EngineStore interface {
	ReminderCreator

	// ClaimDue claims up to p.Max due reminders, in due order, for p.Owner
	// until p.LeaseUntil. Two claims never return the same
	// reminder, and a claimed reminder is not claimed again until it is
	// recorded or its lease is rescued.
	ClaimDue(ctx context.Context, p ClaimParams) ([]Claim, error)
	// RecordOutcome writes what the engine decided of one claim
	// as a compare-and-set on the claim, in one
	// transaction, and reports what was written. Concurrent calls may share
	// one commit; each gets its own result and error.
	RecordOutcome(ctx context.Context, o Outcome) (Recorded, error)
	// ExpectOutcomes is the record wait: a commit of outcomes lingers up to
	// linger while inFlight is above zero (sends still at WeChat), so that
	// their records share it. An Outcome with Counted set was counted in
	// inFlight: the store takes it off as the outcome joins the commit's
	// queue. A linger ≤ 0 or a nil inFlight turns the wait off. A store
	// that commits each outcome alone may ignore it.
	ExpectOutcomes(linger time.Duration, inFlight *atomic.Int64)
	// RescueExpiredLeases returns the reminders whose lease ran out before
	// now to scheduled, each as an attempt of unknown outcome (an abandoned
	// delivery, its held credit counted used), due once unknownWait since
	// its claim is over. It returns how many it rescued.
	RescueExpiredLeases(ctx context.Context, now time.Time, unknownWait time.Duration) (int, error)
	// NextDueAt is the earliest due instant of a scheduled reminder (zero:
	// none).
	NextDueAt(ctx context.Context) (time.Time, error)

	// Pauses.
	SetPause(ctx context.Context, p Pause) error
	ClearPause(ctx context.Context, name string) error
	// Pause returns the pause named name, or ErrNotFound.
	Pause(ctx context.Context, name string) (Pause, error)

	// Unknown outcomes: what a claim of an occurrence
	// with an attempt of unknown outcome looks at.
	//
	// OccurrenceSent reports whether the occurrence (the reminder's fire_at
	// at) has a delivery recorded sent.
	OccurrenceSent(ctx context.Context, reminderID string, occurrence time.Time) (bool, error)
	// PendingSentEvent is the earliest sent event parked for the user and
	// template of app appID (pushed to that app) received at or after
	// since, or ErrNotFound.
	PendingSentEvent(ctx context.Context, appID, openID, templateID string, since time.Time) (SentEvent, error)
	// LastUnknownAttempt is when the occurrence's latest attempt of unknown
	// outcome started (zero: none).
	LastUnknownAttempt(ctx context.Context, reminderID string, occurrence time.Time) (time.Time, error)
	// OccurrenceFirstAttempt is the first attempt number recorded for the
	// occurrence (0: none yet).
	OccurrenceFirstAttempt(ctx context.Context, reminderID string, occurrence time.Time) (int64, error)

	// Periodic jobs.
	//
	// Retain deletes what is past its use (Retention's cutoffs).
	Retain(ctx context.Context, r Retention) error
	// Templates returns the templates of the last sync, in its order.
	Templates(ctx context.Context) ([]Template, error)
	// SyncTemplates replaces the templates with list, synced at at: one
	// change, which readers see whole.
	SyncTemplates(ctx context.Context, list []Template, at time.Time) error
	// LoadToken returns the stored access token, or ErrNotFound.
	LoadToken(ctx context.Context) (Token, error)
	// SaveToken stores the access token, replacing the last (and bumping
	// the version).
	SaveToken(ctx context.Context, t Token, at time.Time) error

	// The fleet: what several processes on one database share (fleet.go
	// of each driver).
	//
	// The access token is fetched by one process for all: a process takes
	// the fetch lease before it fetches, and the others wait for its save.
	// AcquireTokenFetch takes the fetch lease for holder until until,
	// unless another holder has it past now; it reports whether holder has
	// it (again, for the holder that had it).
	AcquireTokenFetch(ctx context.Context, holder string, now, until time.Time) (bool, error)
	// ReleaseTokenFetch gives the fetch lease up, if holder has it.
	ReleaseTokenFetch(ctx context.Context, holder string) error
	// SaveFetchedToken stores the token holder fetched, bumping the
	// version, and releases holder's fetch lease; it returns the new
	// version.
	SaveFetchedToken(ctx context.Context, t Token, holder string, at time.Time) (int64, error)
	// InvalidateToken drops the stored token if it is still at version (a
	// compare-and-set: a token another process saved since is kept); it
	// reports whether it dropped it. LoadToken then answers ErrNotFound.
	InvalidateToken(ctx context.Context, version int64, at time.Time) (bool, error)
	// AcquireUserSend takes openID's send lease for holder until until,
	// unless another holder has it past now: at most one send to a user in
	// flight across the processes. It reports whether holder has it. With
	// the lease, in the same transaction, it marks the send of holder's
	// claim of reminderID at attempt started (ClaimParams.MarkStarts); a
	// claim no longer holder's at that attempt (rescued, or rescued and
	// claimed again) is not marked: the lease is given back and it reports
	// false.
	AcquireUserSend(ctx context.Context, openID, holder string, now, until time.Time, reminderID string, attempt int64) (bool, error)
	// ReleaseUserSend gives openID's send lease up, if holder has it.
	ReleaseUserSend(ctx context.Context, openID, holder string) error
	// SharedByProcesses reports whether several processes may share the
	// store. When it is false (SQLite: one process) the engine's
	// in-process per-user lock is the guarantee and the engine takes no
	// send lease; the operations above work all the same.
	SharedByProcesses() bool

	// ApplyPushEvent applies one message push event, in one transaction
	// with the record of the pushes applied.
	ApplyPushEvent(ctx context.Context, e PushEvent) (PushApplied, error)

	// The fleet: the leader lease and the live processes (docs/engine.md,
	// "Several processes"). A driver judges the instants on one clock for
	// every process: SQLite (one process) uses the now passed in;
	// PostgreSQL ignores it and uses the database's now(), so that the
	// clocks of the fleet's machines need not agree.
	//
	// ElectLeader is elect-if-expired and reelect-if-holder in one
	// compare-and-set: holder takes the lease named name when no one holds
	// it or its lease expired at or before now, or renews it when holder
	// holds it; either way it then lasts ttl. It reports whether holder
	// holds the lease (false: another holder's lease is live).
	ElectLeader(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
	// ResignLeader gives the lease named name up if holder holds it (a
	// no-op otherwise), so that another candidate is elected at once.
	ResignLeader(ctx context.Context, name, holder string) error
	// Heartbeat records in as seen at now (its StartedAt is kept from its
	// first heartbeat) and deletes the rows of processes not seen for
	// forget.
	Heartbeat(ctx context.Context, in Instance, now time.Time, forget time.Duration) error
	// LeaveFleet deletes the row of the process id (its shutdown).
	LeaveFleet(ctx context.Context, id string) error
	// Instances lists the processes seen within stale before now, oldest
	// first, each with Leader set when it holds the live lease named
	// leaderName.
	Instances(ctx context.Context, leaderName string, now time.Time, stale time.Duration) ([]Instance, error)

	// SoleSender is one tick of the fleet's sole-sender lease for the
	// process in (docs/engine.md, "A process alone on the database"), in
	// one transaction with in's heartbeat. A process that holds it sends
	// without the per-send lease; every other process sends nothing while
	// it is live. In the order judged:
	//   - held by in and want false: given up (SoleFree);
	//   - held by in and another process may be sending (an instance other
	//     than in seen within window, or another holder's live user send
	//     lease): kept, not renewed (SoleYielding);
	//   - held by in: renewed for ttl (SoleHeld);
	//   - held by another, whose lease ended less than grace ago or not at
	//     all: SoleOther (its sends started before its lease ended may still
	//     be in flight for grace);
	//   - free, want true and no other process may be sending: taken for
	//     ttl (SoleHeld); else SoleFree.
	// The tick of a process that appears (its heartbeat, then the lease
	// read) and the take of one that believes itself alone are serialised
	// on the lease's row, so that the newcomer is seen or sees the holder.
	SoleSender(ctx context.Context, in Instance, want bool, now time.Time, ttl, grace, window time.Duration) (SoleState, error)
}

// SoleState is the fleet's sole-sender lease as one process sees it
// (EngineStore.SoleSender).
type SoleState int

const (
	// SoleFree: no process holds it: every process sends with the
	// per-send lease.
	SoleFree SoleState = iota
	// SoleHeld: this process holds it, renewed: it may send without the
	// per-send lease.
	SoleHeld
	// SoleYielding: this process holds it, not renewed, as another process
	// is live: it sends with the per-send lease, and gives it up once its
	// sends without one are done.
	SoleYielding
	// SoleOther: another process holds it: this process must not send.
	SoleOther
)

// SoleSenderName is the leader row (ElectLeader's table) of the sole-sender lease.
const SoleSenderName = "sole_sender"

// TemplateKind is how a user's accept of a template may be used (the
// templates.kind column).
type TemplateKind string

const (
	// KindOneTime: one send per accept; a claim reserves a credit.
	KindOneTime TemplateKind = "one_time"
	// KindLongTerm: any number of sends after one accept.
	KindLongTerm TemplateKind = "long_term"
)

// ClaimParams are a due scan's claim.
type ClaimParams struct {
	// Now is the claim's instant: reminders due at or before it are claimed.
	Now time.Time
	// LeaseUntil ends the claims' lease; Owner names the claiming process.
	LeaseUntil time.Time
	Owner      string
	// Max bounds the claim.
	Max int
	// Kind says the kind of app appID's template; false: not a known
	// template (the claim is then not covered, and the send fails it). A
	// template id is one account's: another app's template of the same id
	// may be of the other kind.
	Kind func(appID, templateID string) (TemplateKind, bool)
	// Abort, if set, is asked just before the claim commits: true rolls it
	// back and ClaimDue returns no claims (sending was paused meanwhile).
	Abort func() bool
	// MarkStarts marks the claims not started: AcquireUserSend marks a
	// claim's send started, and the rescuer gives a claim still unstarted
	// back as never sent rather than as an attempt of unknown outcome. Only
	// for an engine that takes the user's send lease before every send.
	MarkStarts bool
}

// Claim is a reminder claimed for a send: status sending, one more
// attempt, the lease (Reminder.LeaseUntil, LeaseOwner) and, for a one-time
// template, a reserved credit (Reminder.CreditHeld).
type Claim struct {
	Reminder  Reminder
	ClaimedAt time.Time // the claim's instant: the delivery's started_at
	// Covered: a consent covered the send when claimed (a held credit, the
	// long-term grant, or the credit an earlier attempt of unknown outcome
	// used).
	Covered bool
	// StartsUnmarked: claimed without ClaimParams.MarkStarts (set by the
	// engine), so a rescue takes it as possibly sent whatever happens. Only
	// such a claim may be sent without the user's send lease: one claimed
	// marked unstarted and sent without the lease (which marks it started)
	// would be given back by a rescue as never sent.
	StartsUnmarked bool
}

// Outcome is what the engine decided of one claim; RecordOutcome writes it.
// Exactly one of Complete and Reschedule is set.
type Outcome struct {
	Claim Claim
	At    time.Time // the record's instant
	// Counted: this outcome was counted in ExpectOutcomes' inFlight.
	Counted bool
	// ReleaseUserSend names the holder of the user's send lease taken for
	// this claim (AcquireUserSend; "" for none): the record gives the lease
	// up in its own transaction, so that giving it up costs no commit of
	// its own.
	ReleaseUserSend string

	// Delivery is the attempt's record (nil: none, as for a claim that
	// settles an attempt of unknown outcome by its sent event). Of its
	// fields a record writes Status (a sent attempt of an occurrence
	// recorded sent already is written duplicate), ErrCode, ErrMsg, MsgID,
	// Latency and PossibleDuplicate; the store fills in the rest.
	Delivery *Delivery
	// Complete ends the reminder; Reschedule puts it back to scheduled.
	Complete   *Completion
	Reschedule *Reschedule
	// Credit settles the credit of the claim.
	Credit CreditAction
	// Pause, if set, is persisted (the daily quota's).
	Pause *Pause
	// Settle, if set, turns the occurrence's first attempt of unknown
	// outcome into its send.
	Settle *Settle
}

// Completion ends the claimed reminder.
type Completion struct {
	Status Status // sent, failed or skipped
	Reason Reason
	// Report, if not empty, is what is known of the delivery.
	Report Report
}

// Reschedule puts the claimed reminder back to scheduled: a retry, a
// deferral, a wait for a sent event, or a series' next occurrence (a new
// FireAt: its unknown attempt and report are cleared).
type Reschedule struct {
	FireAt, DueAt time.Time
	ExpiresAt     time.Time // zero: none
	Attempts      int64
	// UnknownAt, if set, marks an attempt of unknown outcome at it (the
	// occurrence's first such instant is kept).
	UnknownAt time.Time
}

// CreditAction is what a record does with the claim's credit.
type CreditAction int

const (
	// CreditKeep leaves the ledger as it is: a send that used its held
	// credit (or a long-term grant), an attempt of unknown outcome.
	CreditKeep CreditAction = iota
	// CreditConsume takes a credit now: a send whose claim held none. Not
	// done when the lease was lost (the rescuer counted it used).
	CreditConsume
	// CreditRefund gives the held credit back: a claim that ended without a
	// send. Not done when the lease was lost, nor when the ledger was
	// emptied since the claim.
	CreditRefund
	// CreditZero empties the ledger as refused: WeChat answered 43101.
	CreditZero
)

// Settle turns the occurrence's first attempt of unknown outcome into its
// send, unless the occurrence is recorded sent already.
type Settle struct {
	ErrMsg string
	// Event is the sent event that settled it (HasEvent false: a 43101
	// answered to the resend did); it is taken off the parked events.
	Event    SentEvent
	HasEvent bool
}

// Recorded is what RecordOutcome wrote.
type Recorded struct {
	// Lost: the claim's lease was taken over (rescued) before the outcome;
	// the reminder was left as it was, the rescuer's abandoned record of
	// the attempt took the outcome.
	Lost bool
	// Status is the delivery status written (Delivery's, or duplicate).
	Status DeliveryStatus
	// NoCredit: CreditConsume found no credit left in the ledger.
	NoCredit bool
	// Unsettled: Settle found no attempt of unknown outcome to settle (the
	// occurrence was recorded sent meanwhile).
	Unsettled bool
	// EventGone: Settle's sent event was no longer parked when the outcome
	// was written (the send it belonged to had its outcome recorded, and
	// took it, after the claim looked): nothing was settled, and the claim
	// was recorded as EventGoneOutcome says instead.
	EventGone bool
}

// LostLeaseNote is the errmsg of a delivery whose outcome came after its
// claim's lease ran out (Recorded.Lost): the rescuer had counted the attempt
// abandoned, and meanwhile its user was free to another send (the user's
// send lease may have run out too), whose unknown outcome this send's sent
// event may have settled. The note keeps that visible on the row.
func LostLeaseNote(errmsg string, lost bool) string {
	const note = "recorded after its lease ran out (the rescuer had counted it abandoned)"
	switch {
	case !lost:
		return errmsg
	case errmsg == "":
		return note
	}
	return errmsg + "; " + note
}

// EventGoneOutcome is what a driver records instead of o when o settles
// with a sent event that is no longer parked: the event was some other
// send's, so the occurrence is still of unknown outcome. The reminder is
// due again at once (not an attempt: the counter goes back), keeps its
// unknown instant and its credit, and its next claim decides afresh. Both
// drivers check the parked event and apply this under the msgid's lock, in
// the record's transaction.
func EventGoneOutcome(o Outcome) Outcome {
	r := o.Claim.Reminder
	return Outcome{Claim: o.Claim, At: o.At, Counted: o.Counted, Credit: CreditKeep, Pause: o.Pause,
		Reschedule: &Reschedule{FireAt: r.FireAt, DueAt: o.At, ExpiresAt: r.ExpiresAt, Attempts: r.Attempts - 1, UnknownAt: r.UnknownAt}}
}

// PushEvent is one message-push event, as ApplyPushEvent applies it.
type PushEvent struct {
	At time.Time
	// BodyHash identifies the message: one applied before is a duplicate.
	BodyHash string
	// Query, for a plaintext push, is its signed query (timestamp:nonce):
	// it admits one body only ("" for an encrypted push).
	Query string
	// AppID is the app the push came in for (/wechat/push/{appid}): its
	// answers and unsubscribes are that app's ledger's, and its parked sent
	// events settle or wake only that app's reminders.
	AppID  string
	OpenID string
	// Answers are a popup's answers (subscribe_msg_popup_event), for known
	// templates.
	Answers []ConsentAnswer
	// Unsubscribed are the templates a change event turned off.
	Unsubscribed []string
	// Sent are the sent events (subscribe_msg_sent_event).
	Sent []SentEvent
}

// ConsentAnswer is one template's answer in a popup.
type ConsentAnswer struct {
	TemplateID string
	LongTerm   bool
	Accept     bool // false: rejected
}

// SentEvent is WeChat's word on one sent message.
type SentEvent struct {
	MsgID      int64
	Delivered  bool
	Status     string // WeChat's ErrorStatus
	TemplateID string
}

// PushApplied is what ApplyPushEvent did.
type PushApplied struct {
	// Duplicate: the message was applied before; Replayed: a plaintext
	// push's query came with another body. Nothing was written then.
	Duplicate, Replayed bool
	// Woken: a reminder waiting out an unknown outcome is due now.
	Woken bool
}

// Due is a due reminder as a claim sees it, in due order.
type Due struct {
	// AppID is the reminder's app: its credit is that app's ledger's.
	ID, AppID, OpenID, TemplateID string
	// UnknownAttempt: the occurrence has an attempt of unknown outcome,
	// whose credit counts as used.
	UnknownAttempt bool
	// Alternatives are the templates the reminder may be sent through, in
	// order (nil: only TemplateID).
	Alternatives []string
}

// Ledger is an (app, user, template) ledger row as a claim reads it.
type Ledger struct {
	Credits  int64
	LongTerm bool
}

// UserTemplate names a ledger row: a user of an app and a template.
type UserTemplate struct{ AppID, OpenID, TemplateID string }

// CreditPlan is what a claim of a batch reserves, by PlanCredits: the one
// rule both drivers apply, whatever statements they write it with.
type CreditPlan struct {
	// Covered: the reminder's send is covered (a credit held, the
	// long-term grant, or the credit an attempt of unknown outcome used).
	Covered map[string]bool
	// Held are the reminders that reserve a one-time credit, in due order.
	Held []string
	// Take is how many credits each ledger row gives, its rows in the
	// order first taken from.
	Take  map[UserTemplate]int64
	Order []UserTemplate
	// Chosen is the template a reminder with alternatives is sent through
	// when it is not its current TemplateID.
	Chosen map[string]string
}

// PlanCredits reserves in due order: a user's earlier reminder of a
// one-time template gets a credit first, the k-th reminder of the batch
// the k-th credit, while the ledger has them; a long-term template is
// covered if granted and holds nothing; an occurrence with an attempt of
// unknown outcome takes none (that attempt used it); a template kind
// does not know is not covered. A template's kind is the reminder's app's. A reminder with alternatives takes the
// first of them that covers it by that rule (Chosen when it is not its
// current template); covered by none, it stays on its template.
func PlanCredits(due []Due, kind func(appID, templateID string) (TemplateKind, bool), ledger map[UserTemplate]Ledger) CreditPlan {
	p := CreditPlan{Covered: make(map[string]bool, len(due)), Held: []string{}, Take: map[UserTemplate]int64{},
		Chosen: map[string]string{}}
	for _, r := range due {
		if r.UnknownAttempt {
			// The attempt of unknown outcome used its template's credit.
			_, p.Covered[r.ID] = kind(r.AppID, r.TemplateID)
			continue
		}
		for _, tid := range CandidateTemplates(r) {
			if p.cover(r, tid, kind, ledger) {
				if tid != r.TemplateID {
					p.Chosen[r.ID] = tid
				}
				break
			}
		}
	}
	return p
}

// CandidateTemplates are the templates r may be sent through, in order.
func CandidateTemplates(r Due) []string {
	if len(r.Alternatives) > 0 {
		return r.Alternatives
	}
	return []string{r.TemplateID}
}

// cover plans r's send through template tid and reports whether it is
// covered: a one-time credit left in the ledger (reserved), or the
// long-term grant.
func (p *CreditPlan) cover(r Due, tid string, kind func(appID, templateID string) (TemplateKind, bool), ledger map[UserTemplate]Ledger) bool {
	ut := UserTemplate{r.AppID, r.OpenID, tid}
	k, ok := kind(r.AppID, tid)
	switch {
	case !ok:
	case k == KindOneTime && ledger[ut].Credits > p.Take[ut]:
		if p.Take[ut] == 0 {
			p.Order = append(p.Order, ut)
		}
		p.Take[ut]++
		p.Held = append(p.Held, r.ID)
		p.Covered[r.ID] = true
	case k == KindLongTerm:
		p.Covered[r.ID] = ledger[ut].LongTerm
	}
	return p.Covered[r.ID]
}
