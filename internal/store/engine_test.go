package store_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/reminderd/reminderd/internal/store"
)

// The claim's credit rule, as both drivers apply it: due order first, the
// k-th reminder the k-th credit, long-term covered if granted, an unknown
// attempt's credit used, an unknown template uncovered.
func TestPlanCredits(t *testing.T) {
	kind := func(_, id string) (store.TemplateKind, bool) {
		switch id {
		case "one":
			return store.KindOneTime, true
		case "long":
			return store.KindLongTerm, true
		}
		return "", false
	}
	due := []store.Due{
		{ID: "a1", OpenID: "a", TemplateID: "one"},
		{ID: "b1", OpenID: "b", TemplateID: "one"},
		{ID: "a2", OpenID: "a", TemplateID: "one"},
		{ID: "a3", OpenID: "a", TemplateID: "one"}, // a has two credits: not covered
		{ID: "b2", OpenID: "b", TemplateID: "one", UnknownAttempt: true},
		{ID: "c1", OpenID: "c", TemplateID: "long"},
		{ID: "d1", OpenID: "d", TemplateID: "long"}, // not granted
		{ID: "e1", OpenID: "e", TemplateID: "gone"},
	}
	ledger := map[store.UserTemplate]store.Ledger{
		{OpenID: "a", TemplateID: "one"}:  {Credits: 2},
		{OpenID: "b", TemplateID: "one"}:  {Credits: 1},
		{OpenID: "c", TemplateID: "long"}: {LongTerm: true},
		{OpenID: "e", TemplateID: "gone"}: {Credits: 5},
	}
	p := store.PlanCredits(due, kind, ledger)
	if want := []string{"a1", "b1", "a2"}; !slices.Equal(p.Held, want) {
		t.Errorf("held %v, want %v", p.Held, want)
	}
	var covered []string
	for _, id := range slices.Sorted(maps.Keys(p.Covered)) {
		if p.Covered[id] {
			covered = append(covered, id)
		}
	}
	if want := []string{"a1", "a2", "b1", "b2", "c1"}; !slices.Equal(covered, want) {
		t.Errorf("covered %v, want %v", covered, want)
	}
	a, b := store.UserTemplate{OpenID: "a", TemplateID: "one"}, store.UserTemplate{OpenID: "b", TemplateID: "one"}
	if !slices.Equal(p.Order, []store.UserTemplate{a, b}) || p.Take[a] != 2 || p.Take[b] != 1 || len(p.Take) != 2 {
		t.Errorf("take %v in order %v, want a:2 then b:1", p.Take, p.Order)
	}
}
