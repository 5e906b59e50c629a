// The claim: due reminders taken in batches, each with a lease and its
// consent credit, by the store's ClaimDue in one write transaction (from
// engine.go's scanBatch, scanMu held). It waits on the store only: never on
// WeChat, a send slot or a user's lock.

package scheduler

import (
	"context"

	"github.com/reminderd/reminderd/internal/store"
)

// claim claims up to want due reminders for this process. aborted: sending
// was paused while the claim waited for the writer, and it was rolled back
// (its reminders would only be deferred).
func (e *Engine) claim(ctx context.Context, want int) (claimed []store.Claim, aborted bool, err error) {
	now := e.now()
	// A fleet's engine takes the user's send lease before every send,
	// which marks the send started (fleet.go): its rescuer can tell a
	// claim that never started from one WeChat may have. A process that
	// holds the sole-sender lease takes none, and marks nothing; one
	// whose fleet has another sole sender claims nothing (sole.go).
	mark := e.store.SharedByProcesses()
	if mark {
		var ok bool
		if ok, mark = e.sole.claimMode(now); !ok {
			return nil, false, nil
		}
	}
	defer func() {
		for i := range claimed {
			claimed[i].StartsUnmarked = !mark
		}
	}()
	claimed, err = e.store.ClaimDue(ctx, store.ClaimParams{Now: now, LeaseUntil: now.Add(e.cfg.Lease), Owner: e.cfg.Owner,
		Max: want, Kind: TemplateKinds(e.cfg.Templates),
		MarkStarts: mark,
		// Asked again before the commit: the wait for the writer can be
		// long under load, and the breaker may open meanwhile.
		Abort: func() bool {
			aborted = e.paused(e.now())
			return aborted
		}})
	return claimed, aborted, err
}

// TemplateKinds is the ClaimParams.Kind of the templates tpl knows, each
// app's in its own catalog when tpl is an AppTemplates (for reminderd bench
// too, which times the claim).
func TemplateKinds(tpl Templates) func(appID, templateID string) (store.TemplateKind, bool) {
	return func(appID, id string) (store.TemplateKind, bool) {
		t, ok := templateOf(tpl, appID, id)
		if !ok {
			return "", false
		}
		return store.TemplateKind(t.Kind), true
	}
}
