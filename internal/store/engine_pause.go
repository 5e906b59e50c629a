package store

import (
	"math"
	"time"
)

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
