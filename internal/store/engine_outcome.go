package store

import "time"

// Outcome is what the engine decided of one claim; RecordOutcome writes it.
// Exactly one of Complete and Reschedule is set.
type Outcome struct {
	Claim Claim
	At    time.Time // the record's instant
	// Counted: this outcome was counted in ExpectOutcomes' inFlight.
	Counted bool

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
}
