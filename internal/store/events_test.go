package store_test

import (
	"slices"
	"testing"

	"github.com/reminderd/reminderd/internal/store"
)

// A reminder with alternatives takes the first template that covers it:
// the credits of earlier reminders count, a long-term grant covers, and
// with none it stays on its template, uncovered.
func TestPlanCreditsAlternatives(t *testing.T) {
	kind := func(_, id string) (store.TemplateKind, bool) {
		switch id {
		case "one", "two":
			return store.KindOneTime, true
		case "long":
			return store.KindLongTerm, true
		}
		return "", false
	}
	alts := []string{"gone", "one", "two"}
	due := []store.Due{
		{ID: "a1", OpenID: "a", TemplateID: "gone", Alternatives: alts}, // one's credit
		{ID: "a2", OpenID: "a", TemplateID: "gone", Alternatives: alts}, // one is spent: two
		{ID: "a3", OpenID: "a", TemplateID: "gone", Alternatives: alts}, // none left
		{ID: "a4", OpenID: "a", TemplateID: "one"},                      // ordinary, after the event's
		{ID: "b1", OpenID: "b", TemplateID: "one", Alternatives: []string{"one", "long"}},
		{ID: "c1", OpenID: "c", TemplateID: "two", Alternatives: []string{"two", "one"}, UnknownAttempt: true},
	}
	ledger := map[store.UserTemplate]store.Ledger{
		{OpenID: "a", TemplateID: "one"}:  {Credits: 1},
		{OpenID: "a", TemplateID: "two"}:  {Credits: 1},
		{OpenID: "b", TemplateID: "long"}: {LongTerm: true},
	}
	p := store.PlanCredits(due, kind, ledger)
	if want := []string{"a1", "a2"}; !slices.Equal(p.Held, want) {
		t.Errorf("held %v, want %v", p.Held, want)
	}
	for id, want := range map[string]bool{"a1": true, "a2": true, "a3": false, "a4": false, "b1": true, "c1": true} {
		if p.Covered[id] != want {
			t.Errorf("%s covered %v, want %v", id, p.Covered[id], want)
		}
	}
	want := map[string]string{"a1": "one", "a2": "two", "b1": "long"}
	if len(p.Chosen) != len(want) {
		t.Errorf("chosen %v, want %v", p.Chosen, want)
	}
	for id, tid := range want {
		if p.Chosen[id] != tid {
			t.Errorf("%s chosen %q, want %q", id, p.Chosen[id], tid)
		}
	}
}
