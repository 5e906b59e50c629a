package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// The admin pause: an operator stops all sending until they resume it. It is
// the pause named "admin" whose until is store.PauseIndefinite (its
// presence is the pause; there is no end time), its reason as given, and
// updated_at the instant it began. The engine reads it at start (New), so a
// pause survives a restart, and re-reads it at the start of a due scan at
// most once a second (quotaReadEvery, like the quota pause, fleet.go), so a
// Pause or Resume on another process of the fleet holds on this one within
// about a second; its own Pause and Resume take effect at once. While paused the due scan
// claims nothing (paused), so due reminders stay scheduled, use no attempt
// and no credit, and are sent once sending resumes (skipped as expired if
// their window closed meanwhile). Sends already in flight when the pause
// begins finish and are recorded.

// pauseAdmin names the persisted admin pause.
const pauseAdmin = "admin"

type adminPause struct {
	since  time.Time
	reason string
}

func (e *Engine) loadAdminPause(ctx context.Context) error {
	p, err := e.store.Pause(ctx, pauseAdmin)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("scheduler: read the admin pause: %w", err)
	}
	e.admin.Store(&adminPause{since: p.Since, reason: p.Reason})
	return nil
}

// readAdminPause takes up a Pause or Resume another process recorded: at
// most once per quotaReadEvery. An error keeps what is in memory (the next
// scan reads again).
func (e *Engine) readAdminPause(ctx context.Context) {
	now := e.now()
	last := e.adminReadAt.Load()
	if n := now.UnixMilli(); n >= last && n < last+quotaReadEvery.Milliseconds() {
		return
	}
	e.adminReadAt.Store(now.UnixMilli())
	e.adminMu.Lock()
	defer e.adminMu.Unlock()
	p, err := e.store.Pause(ctx, pauseAdmin)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if e.admin.Swap(nil) != nil {
			e.log.Warn("sending resumed by an admin on another process")
		}
	case err != nil:
		e.log.Warn("read the admin pause", "error", err)
	default:
		if e.admin.Swap(&adminPause{since: p.Since, reason: p.Reason}) == nil {
			e.log.Warn("sending paused by an admin on another process", "reason", p.Reason)
		}
	}
}

// Pause stops sending until Resume, durably. Pausing again keeps the first
// instant and takes the new reason.
func (e *Engine) Pause(ctx context.Context, reason string) error {
	e.adminMu.Lock()
	defer e.adminMu.Unlock()
	since := e.now()
	if p := e.admin.Load(); p != nil {
		since = p.since
	}
	if err := e.store.SetPause(ctx, store.Pause{Name: pauseAdmin, Until: store.PauseIndefinite, Reason: reason, Since: since}); err != nil {
		return fmt.Errorf("pause sending: %w", err)
	}
	e.admin.Store(&adminPause{since: since, reason: reason})
	e.log.Warn("sending paused by an admin", "reason", reason)
	return nil
}

// Resume ends an admin pause and scans for what fell due meanwhile.
func (e *Engine) Resume(ctx context.Context) error {
	e.adminMu.Lock()
	defer e.adminMu.Unlock()
	if err := e.store.ClearPause(ctx, pauseAdmin); err != nil {
		return fmt.Errorf("resume sending: %w", err)
	}
	if e.admin.Swap(nil) != nil {
		e.log.Warn("sending resumed by an admin")
	}
	e.Wake(time.Time{})
	return nil
}

// AdminPaused reports the admin pause: since when, and why.
func (e *Engine) AdminPaused() (since time.Time, reason string, paused bool) {
	p := e.admin.Load()
	if p == nil {
		return time.Time{}, "", false
	}
	return p.since, p.reason, true
}
