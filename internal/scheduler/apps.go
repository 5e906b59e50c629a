package scheduler

import (
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// notServedDelay is how long a reminder of an app no longer served waits
// before it is looked at again.
const notServedDelay = time.Minute

// appNotServed defers a reminder whose app is not served (Config.Serves).
func (e *Engine) appNotServed(r store.Reminder, now time.Time) (result, bool) {
	if e.cfg.Serves == nil || e.cfg.Serves(r.AppID) {
		return result{}, false
	}
	return result{verdict: vDefer, errmsg: "app " + r.AppID + " is not served: not sent", deferUntil: now.Add(notServedDelay)}, true
}
