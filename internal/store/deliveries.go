package store

import (
	"context"
	"time"
)

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

// Deliveries are the reads of the delivery records.
type Deliveries interface {
	// ListDeliveries returns a reminder's deliveries, oldest first.
	ListDeliveries(ctx context.Context, reminderID string) ([]Delivery, error)
	// DeliveriesPerHour counts the deliveries that ended (or started)
	// since, per hour and status, in hour then status order. slack is the
	// longest a delivery's end may follow its start by (a lease): a driver
	// may read by record order from that much before since.
	DeliveriesPerHour(ctx context.Context, since time.Time, slack time.Duration) ([]TrendBucket, error)
}
