package store

import "time"

// ListQuery selects reminders for a listing: every filter left empty (or
// zero) matches everything.
type ListQuery struct {
	OpenID     string
	Status     Status
	TemplateID string
	// Text is found inside the data JSON, as the data is stored.
	Text string
	// Delivery filters by WeChat's sent-event report.
	Delivery Report
	// From and To bound FireAt: From ≤ FireAt < To.
	From, To time.Time
	// After is where the page starts (nil: at the beginning).
	After *Cursor
	// Limit is the page's size (at least 1).
	Limit int
}

// Cursor is a place in (FireAt, ID) order.
type Cursor struct {
	FireAt time.Time
	ID     string
}

// Page is one page of a listing.
type Page struct {
	Reminders []Reminder
	// Next is where the next page starts; nil on the last page. A page
	// filtered by template or text without a user may stop short of Limit
	// after reading WalkLimit entries and still have a Next.
	Next *Cursor
	// WalkLimit is the most entries such a page reads.
	WalkLimit int64
}
