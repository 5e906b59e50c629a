package store

import "time"

// PushEvent is one message-push event, as ApplyPushEvent applies it.
type PushEvent struct {
	At time.Time
	// BodyHash identifies the message: one applied before is a duplicate.
	BodyHash string
	// Query, for a plaintext push, is its signed query (timestamp:nonce):
	// it admits one body only ("" for an encrypted push).
	Query  string
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
