package service

import "github.com/reminderd/reminderd/internal/store"

// maxNeeds bounds the pending reminders one plan or coverage reads.
const maxNeeds = 5000

// needsOf turns a user's pending reminders that hold no credit (most
// urgent first) into the planner's needs: one need per reminder, with its
// template, or an event's lead with its alternatives in their order of
// preference (the order the claim tries them in).
func needsOf(pending []store.Prompted) []Need {
	out := make([]Need, len(pending))
	for i, p := range pending {
		ts := p.Alternatives
		if len(ts) == 0 {
			ts = []string{p.TemplateID}
		}
		out[i] = Need{Key: p.ID, Due: p.FireAt, Templates: ts}
	}
	return out
}

// ledgerOf is the planner's view of a user's consent rows.
func ledgerOf(rows []store.Consent) Ledger {
	out := make(Ledger, len(rows))
	for _, c := range rows {
		out[c.TemplateID] = Holding{Credits: c.Credits, LongTerm: c.LongTerm, Status: c.Status, Setting: c.Setting}
	}
	return out
}
