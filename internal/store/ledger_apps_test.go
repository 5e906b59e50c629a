package store_test

import (
	"testing"

	"github.com/reminderd/reminderd/internal/store"
)

// The claim's credit rule reads each reminder's own app's ledger row: the
// same openid and template in two apps are two rows, and A's credits and
// grant cover A's reminders only.
func TestPlanCreditsPerApp(t *testing.T) {
	kind := func(_, id string) (store.TemplateKind, bool) {
		if id == "long" {
			return store.KindLongTerm, true
		}
		return store.KindOneTime, true
	}
	due := []store.Due{
		{ID: "b1", AppID: "B", OpenID: "o", TemplateID: "one"},
		{ID: "a1", AppID: "A", OpenID: "o", TemplateID: "one"},
		{ID: "b2", AppID: "B", OpenID: "o", TemplateID: "long"},
		{ID: "a2", AppID: "A", OpenID: "o", TemplateID: "long"},
		{ID: "a3", AppID: "A", OpenID: "o", TemplateID: "one"}, // A has one credit: the earlier reminder's
	}
	a := store.UserTemplate{AppID: "A", OpenID: "o", TemplateID: "one"}
	ledger := map[store.UserTemplate]store.Ledger{
		a: {Credits: 1},
		{AppID: "A", OpenID: "o", TemplateID: "long"}: {LongTerm: true},
	}
	p := store.PlanCredits(due, kind, ledger)
	for id, want := range map[string]bool{"a1": true, "a2": true, "a3": false, "b1": false, "b2": false} {
		if p.Covered[id] != want {
			t.Errorf("%s covered %v, want %v", id, p.Covered[id], want)
		}
	}
	if len(p.Order) != 1 || p.Order[0] != a || p.Take[a] != 1 || len(p.Held) != 1 || p.Held[0] != "a1" {
		t.Errorf("plan %+v: want one credit of A's row, held by a1", p)
	}
}

// A template's kind is its reminder's app's: "t" is one-time in A (a
// credit reserved) and long-term in B (the grant, nothing held), and an
// attempt of unknown outcome is covered where its app knows the template.
func TestPlanCreditsKindPerApp(t *testing.T) {
	kind := func(app, id string) (store.TemplateKind, bool) {
		switch {
		case id != "t":
		case app == "A":
			return store.KindOneTime, true
		case app == "B":
			return store.KindLongTerm, true
		}
		return "", false
	}
	due := []store.Due{
		{ID: "a", AppID: "A", OpenID: "o", TemplateID: "t"},
		{ID: "b", AppID: "B", OpenID: "o", TemplateID: "t"},
		{ID: "cu", AppID: "C", OpenID: "o", TemplateID: "t", UnknownAttempt: true},
		{ID: "bu", AppID: "B", OpenID: "o", TemplateID: "t", UnknownAttempt: true},
	}
	ledger := map[store.UserTemplate]store.Ledger{
		{AppID: "A", OpenID: "o", TemplateID: "t"}: {Credits: 1, LongTerm: true},
		{AppID: "B", OpenID: "o", TemplateID: "t"}: {Credits: 1, LongTerm: true},
	}
	p := store.PlanCredits(due, kind, ledger)
	for id, want := range map[string]bool{"a": true, "b": true, "cu": false, "bu": true} {
		if p.Covered[id] != want {
			t.Errorf("%s covered %v, want %v", id, p.Covered[id], want)
		}
	}
	a := store.UserTemplate{AppID: "A", OpenID: "o", TemplateID: "t"}
	if len(p.Held) != 1 || p.Held[0] != "a" || len(p.Order) != 1 || p.Order[0] != a {
		t.Errorf("plan %+v: want A's credit held by a only (B's kind holds nothing)", p)
	}
}
