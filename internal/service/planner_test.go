package service

import (
	"slices"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func need(key string, minutes int, templates ...string) Need {
	return Need{Key: key, Due: t0.Add(time.Duration(minutes) * time.Minute), Templates: templates}
}

func oneTime(ids ...string) map[string]TemplateInfo {
	out := map[string]TemplateInfo{}
	for _, id := range ids {
		out[id] = TemplateInfo{Kind: wechat.OneTime, Title: "title of " + id}
	}
	return out
}

func TestCoverSharesCreditsMostUrgentFirst(t *testing.T) {
	needs := []Need{need("late", 30, "A"), need("early", 10, "A"), need("alt", 20, "B", "A"), need("lt", 40, "L")}
	got := Cover(needs, Ledger{"A": {Credits: 1}, "B": {Credits: 0}, "L": {LongTerm: true}})
	// early takes A's only credit; alt has no credit on B nor A left; late none.
	if want := []bool{false, true, false, true}; !slices.Equal(got, want) {
		t.Fatalf("Cover = %v, want %v", got, want)
	}
	got = Cover(needs, Ledger{"A": {Credits: 2}, "B": {Credits: 1}})
	// alt goes through B, its first alternative, and leaves A's second credit to late.
	if want := []bool{true, true, true, false}; !slices.Equal(got, want) {
		t.Fatalf("Cover = %v, want %v", got, want)
	}
}

func TestPlanOneTapCoversThreeNeedsThroughAlternatives(t *testing.T) {
	// Three leads of one event, each sendable through any of three
	// templates: accepting three templates covers all three.
	needs := []Need{need("d1", 10, "T1", "T2", "T3"), need("d2", 20, "T1", "T2", "T3"), need("d3", 30, "T1", "T2", "T3")}
	p := PlanPrompt(needs, Ledger{}, oneTime("T1", "T2", "T3"), true)
	if want := []string{"T1", "T2", "T3"}; !slices.Equal(p.TemplateIDs, want) {
		t.Fatalf("template_ids %v, want %v", p.TemplateIDs, want)
	}
	// With T1 accepted once already, d1 is covered: two more ids cover
	// the other two, and a third would cover nothing.
	p = PlanPrompt(needs, Ledger{"T1": {Credits: 1}}, oneTime("T1", "T2", "T3"), true)
	if want := []string{"T1", "T2"}; !slices.Equal(p.TemplateIDs, want) {
		t.Fatalf("template_ids %v, want %v", p.TemplateIDs, want)
	}
}

func TestPlanPrefersTheTemplateOnlyANeedCanUse(t *testing.T) {
	// a can go through Y or X (Y preferred), b only through X: Y covers
	// a, then X covers b; one tap covers both.
	needs := []Need{need("a", 10, "Y", "X"), need("b", 20, "X")}
	p := PlanPrompt(needs, Ledger{}, oneTime("X", "Y"), true)
	if want := []string{"Y", "X"}; !slices.Equal(p.TemplateIDs, want) {
		t.Fatalf("template_ids %v, want %v", p.TemplateIDs, want)
	}
	covered := Cover(needs, Ledger{"X": {Credits: 1}, "Y": {Credits: 1}})
	if !covered[0] || !covered[1] {
		t.Fatalf("after the plan's accepts: covered %v", covered)
	}
}

func TestPlanMostCoverageBeatsUrgencyAndKeepsOneKind(t *testing.T) {
	templates := oneTime("O")
	templates["L"] = TemplateInfo{Kind: wechat.LongTerm, Title: "long"}
	templates["L2"] = TemplateInfo{Kind: wechat.LongTerm, Title: "long 2"}
	needs := []Need{need("o", 5, "O"), need("l1", 10, "L"), need("l2", 20, "L"), need("l3", 30, "L"), need("m", 40, "L2")}
	p := PlanPrompt(needs, Ledger{}, templates, true)
	// L covers three at once; O (one-time) cannot share the call.
	if want := []string{"L", "L2"}; !slices.Equal(p.TemplateIDs, want) {
		t.Fatalf("template_ids %v, want %v", p.TemplateIDs, want)
	}
	// Once L is granted, the one-time template is next.
	p = PlanPrompt(needs, Ledger{"L": {LongTerm: true}, "L2": {LongTerm: true}}, templates, true)
	if want := []string{"O"}; !slices.Equal(p.TemplateIDs, want) {
		t.Fatalf("template_ids %v, want %v", p.TemplateIDs, want)
	}
}

func TestPlanUrgencyBreaksTies(t *testing.T) {
	needs := []Need{need("c", 30, "C"), need("a", 10, "A"), need("d", 40, "D"), need("b", 20, "B")}
	p := PlanPrompt(needs, Ledger{}, oneTime("A", "B", "C", "D"), true)
	if want := []string{"A", "B", "C"}; !slices.Equal(p.TemplateIDs, want) {
		t.Fatalf("template_ids %v, want the 3 most urgent %v", p.TemplateIDs, want)
	}
}

func TestPlanNeverAsksForBlockedTemplates(t *testing.T) {
	needs := []Need{need("a", 10, "A"), need("b", 20, "B"), need("c", 30, "C"), need("d", 40, "D", "A")}
	ledger := Ledger{
		"A": {Setting: store.ConsentReject},                           // always reject
		"B": {Status: store.ConsentBan},                               // last report ban
		"C": {Setting: store.ConsentBan, Status: store.ConsentAccept}, // banned by WeChat
		"E": {Status: store.ConsentReject},                            // one reject: ask again
	}
	p := PlanPrompt(needs, ledger, oneTime("A", "B", "C", "D", "E"), true)
	if want := []string{"D"}; !slices.Equal(p.TemplateIDs, want) {
		t.Fatalf("template_ids %v, want %v", p.TemplateIDs, want)
	}
	if want := []string{"A", "B", "C"}; !slices.Equal(p.Blocked, want) {
		t.Fatalf("blocked %v, want %v", p.Blocked, want)
	}
}

func TestPlanNeverTwoTemplatesOfOneTitle(t *testing.T) {
	templates := oneTime("A", "B", "C")
	templates["B"] = TemplateInfo{Kind: wechat.OneTime, Title: templates["A"].Title}
	needs := []Need{need("a", 10, "A"), need("b", 20, "B"), need("c", 30, "C")}
	p := PlanPrompt(needs, Ledger{}, templates, true)
	if want := []string{"A", "C"}; !slices.Equal(p.TemplateIDs, want) {
		t.Fatalf("template_ids %v, want %v (B has A's title)", p.TemplateIDs, want)
	}
}

// Silent ones first: a template the user set to always accept is picked
// before any other (it costs the tap no popup), even when the others are
// more urgent and only three fit; the ids are answered most urgent first.
func TestPlanSilentOnesFirst(t *testing.T) {
	needs := []Need{need("a", 10, "A"), need("b", 20, "B"), need("c", 30, "C"), need("d", 40, "D")}
	p := PlanPrompt(needs, Ledger{"D": {Setting: store.ConsentAccept}}, oneTime("A", "B", "C", "D"), true)
	if want := []string{"A", "B", "D"}; !slices.Equal(p.TemplateIDs, want) {
		t.Fatalf("template_ids %v, want %v (D silent, then the most urgent, most urgent first)", p.TemplateIDs, want)
	}
	if want := []string{"D"}; !slices.Equal(p.Silent, want) {
		t.Fatalf("silent %v, want %v", p.Silent, want)
	}
	// Between two templates covering the same need, the silent one wins.
	p = PlanPrompt([]Need{need("a", 10, "A", "S")}, Ledger{"S": {Setting: store.ConsentAccept}}, oneTime("A", "S"), true)
	if want := []string{"S"}; !slices.Equal(p.TemplateIDs, want) {
		t.Fatalf("template_ids %v, want %v", p.TemplateIDs, want)
	}
}

func TestPlanMainSwitchOffAsksNothing(t *testing.T) {
	p := PlanPrompt([]Need{need("a", 10, "A")}, Ledger{"B": {Setting: store.ConsentReject}}, oneTime("A", "B"), false)
	if len(p.TemplateIDs) != 0 || len(p.Silent) != 0 || p.MainSwitch {
		t.Fatalf("plan %+v, want nothing to ask", p)
	}
	if want := []string{"B"}; !slices.Equal(p.Blocked, want) {
		t.Fatalf("blocked %v, want %v", p.Blocked, want)
	}
}

func TestPlanSharedCreditsAndNothingCovered(t *testing.T) {
	// Two reminders on A with one credit: one is uncovered, A is asked.
	p := PlanPrompt([]Need{need("a1", 10, "A"), need("a2", 20, "A")}, Ledger{"A": {Credits: 1}}, oneTime("A"), true)
	if want := []string{"A"}; !slices.Equal(p.TemplateIDs, want) {
		t.Fatalf("template_ids %v, want %v", p.TemplateIDs, want)
	}
	// Everything covered, or unknown templates only: nothing to ask.
	p = PlanPrompt([]Need{need("a1", 10, "A"), need("z", 5, "Z")}, Ledger{"A": {Credits: 1}}, oneTime("A"), true)
	if len(p.TemplateIDs) != 0 {
		t.Fatalf("template_ids %v, want none", p.TemplateIDs)
	}
}
