package store

import "time"

// Retention are the cutoffs of the retention job: what is older is deleted.
type Retention struct {
	Sessions   time.Time // sessions that expired before it
	Grants     time.Time // accept reports received before it (too old to pair)
	Deliveries time.Time // delivery records of sends started before it
	SentEvents time.Time // sent events parked before it (their outcome never came)
	Pushes     time.Time // the record of pushes applied before it
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

// Token is the WeChat access token.
type Token struct {
	Value     string
	ExpiresAt time.Time
}
