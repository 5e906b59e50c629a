package store

// The vocabulary: the values of the columns the schema restricts
// with CHECK (… IN (…)), listed once here. The sqlc models carry them as
// plain strings; code outside the store compares and writes them through
// these constants, and vocab_test.go holds each list to schema.sql.

// Status is a reminder's status (reminders.status).
type Status string

const (
	StatusScheduled Status = "scheduled"
	StatusSending   Status = "sending"
	StatusSent      Status = "sent"
	StatusFailed    Status = "failed"
	StatusSkipped   Status = "skipped"
	StatusCanceled  Status = "canceled"
)

// Statuses lists every reminder status, in the schema's order (the order
// the stats, the metrics and the admin page's tabs show them in).
func Statuses() []Status {
	return []Status{StatusScheduled, StatusSending, StatusSent, StatusFailed, StatusSkipped, StatusCanceled}
}

// Pending reports whether a reminder in status s is still to be sent:
// scheduled, or being sent.
func (s Status) Pending() bool { return s == StatusScheduled || s == StatusSending }

// Ended reports whether s is failed or skipped: the statuses a retry
// schedules again.
func (s Status) Ended() bool { return s == StatusFailed || s == StatusSkipped }

// Reason says why a reminder failed or was skipped (reminders.reason, set
// exactly when the status is failed or skipped).
type Reason string

const (
	ReasonNoConsent        Reason = "no_consent"
	ReasonExpired          Reason = "expired"
	ReasonUserRefused      Reason = "user_refused"
	ReasonInvalidData      Reason = "invalid_data"
	ReasonTemplateInvalid  Reason = "template_invalid"
	ReasonOpenIDInvalid    Reason = "openid_invalid"
	ReasonPageInvalid      Reason = "page_invalid"
	ReasonContentRejected  Reason = "content_rejected"
	ReasonBanned           Reason = "banned"
	ReasonRetriesExhausted Reason = "retries_exhausted"
)

// Reasons lists every reason, in the schema's order.
func Reasons() []Reason {
	return []Reason{ReasonNoConsent, ReasonExpired, ReasonUserRefused, ReasonInvalidData, ReasonTemplateInvalid,
		ReasonOpenIDInvalid, ReasonPageInvalid, ReasonContentRejected, ReasonBanned, ReasonRetriesExhausted}
}

// Permanent reports whether a retry cannot fix r: the same send would fail
// the same way until someone changes the data, the template, the page or
// the account.
func (r Reason) Permanent() bool {
	switch r {
	case ReasonInvalidData, ReasonTemplateInvalid, ReasonOpenIDInvalid, ReasonPageInvalid, ReasonContentRejected, ReasonBanned:
		return true
	}
	return false
}

// Consent reports whether r is a lack of the user's consent, which a retry
// fixes once the user has a credit (or the long-term grant) again.
func (r Reason) Consent() bool { return r == ReasonNoConsent || r == ReasonUserRefused }

// DeliveryStatus is the status of one delivery attempt (deliveries.status).
type DeliveryStatus string

const (
	DeliverySending   DeliveryStatus = "sending"
	DeliverySent      DeliveryStatus = "sent"
	DeliveryFailed    DeliveryStatus = "failed"
	DeliveryRetry     DeliveryStatus = "retry"
	DeliveryDeferred  DeliveryStatus = "deferred"
	DeliverySkipped   DeliveryStatus = "skipped"
	DeliveryAbandoned DeliveryStatus = "abandoned"
	DeliveryUnknown   DeliveryStatus = "unknown"
	DeliveryDuplicate DeliveryStatus = "duplicate"
)

// DeliveryStatuses lists every delivery status, in the schema's order.
func DeliveryStatuses() []DeliveryStatus {
	return []DeliveryStatus{DeliverySending, DeliverySent, DeliveryFailed, DeliveryRetry, DeliveryDeferred,
		DeliverySkipped, DeliveryAbandoned, DeliveryUnknown, DeliveryDuplicate}
}

// Report is what WeChat's sent event said of a reminder's latest send
// (reminders.delivery); the column is empty until then.
type Report string

const (
	ReportDelivered Report = "delivered"
	ReportFailed    Report = "failed"
	ReportUnknown   Report = "unknown"
)

// Reports lists every report (without the empty value of a reminder that
// has none), in the schema's order.
func Reports() []Report { return []Report{ReportDelivered, ReportFailed, ReportUnknown} }

// ConsentStatus is a consent ledger row's status (consents.status).
type ConsentStatus string

const (
	ConsentAccept       ConsentStatus = "accept"
	ConsentReject       ConsentStatus = "reject"
	ConsentBan          ConsentStatus = "ban"
	ConsentFilter       ConsentStatus = "filter"
	ConsentUnsubscribed ConsentStatus = "unsubscribed"
	ConsentRefused      ConsentStatus = "refused"
)

// ConsentStatuses lists every consent status, in the schema's order:
// the answers of wx.requestSubscribeMessage, unsubscribed (turned off in
// WeChat's settings) and refused (WeChat answered 43101 to a send).
func ConsentStatuses() []ConsentStatus {
	return []ConsentStatus{ConsentAccept, ConsentReject, ConsentBan, ConsentFilter, ConsentUnsubscribed, ConsentRefused}
}

// Strings converts a list of one of the types above to strings, for
// validation messages and maps keyed by the models' string fields.
func Strings[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}
