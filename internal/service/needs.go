package service

import "github.com/reminderd/reminderd/internal/store"

// maxNeeds bounds the pending reminders one plan or coverage reads.
const maxNeeds = 5000

// needsOf turns a user's pending reminders that hold no credit (most
// urgent first) into the planner's needs: today each is one need with one
// template. Reminders that offer alternatives (an event's templates) would
// list them here, in their order of preference.
func needsOf(pending []store.Prompted) []Need {
	out := make([]Need, len(pending))
	for i, p := range pending {
		out[i] = Need{Key: p.ID, Due: p.FireAt, Templates: []string{p.TemplateID}}
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
