package service

import (
	"sort"
	"time"

	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat"
)

// Need is one send the user's consent must cover: due at Due, through the
// first of Templates (alternatives, in order of preference) that holds a
// credit for it when it fires. Key identifies it (a reminder's id).
type Need struct {
	Key       string
	Due       time.Time
	Templates []string
}

// Holding is what the user's ledger holds for one template, as the
// planner sees it.
type Holding struct {
	Credits  int64
	LongTerm bool                // granted for a long-term template: every send is covered
	Status   store.ConsentStatus // the last answer ("" when none)
	Setting  store.ConsentStatus // the saved choice ("" when none)
}

// Ledger is a user's holdings by template id.
type Ledger map[string]Holding

// TemplateInfo is what the planner knows of a template.
type TemplateInfo struct {
	Kind  wechat.TemplateKind
	Title string
}

// Cover is the coverage rule, the one the engine applies at send time:
// needs are served most urgent first (Due, then their order in needs),
// each through the first of its templates that is granted long-term or
// still has a credit left after the needs before it took theirs (credits
// are shared: two needs on one template take two). It returns, per need
// (in the order given), whether it is covered.
func Cover(needs []Need, ledger Ledger) []bool {
	via := CoverWith(needs, ledger)
	covered := make([]bool, len(via))
	for i, t := range via {
		covered[i] = t != ""
	}
	return covered
}

// CoverWith is Cover naming, per need, the template that covers it ("":
// none): the first of its templates granted long-term or with a credit left
// by the needs due before it, as the claim takes them (store.PlanCredits).
func CoverWith(needs []Need, ledger Ledger) []string {
	order := make([]int, len(needs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return needs[order[a]].Due.Before(needs[order[b]].Due) })
	left := make(map[string]int64, len(ledger))
	for id, h := range ledger {
		left[id] = h.Credits
	}
	via := make([]string, len(needs))
	for _, i := range order {
		for _, t := range needs[i].Templates {
			if ledger[t].LongTerm {
				via[i] = t
				break
			}
			if left[t] > 0 {
				left[t]--
				via[i] = t
				break
			}
		}
	}
	return via
}

// Plan is the plan of a user's next consent request (GET /v1/consents/prompt).
type Plan struct {
	// TemplateIDs are the ids to request at the next tap (at most
	// MaxPromptIDs, one kind, no two of one title), silent ones first.
	TemplateIDs []string
	// Silent are the ids among TemplateIDs the user set to always accept.
	Silent []string
	// Blocked are the ids it is pointless to ask for (always reject, ban).
	Blocked    []string
	MainSwitch bool
}

// Blocked reports whether asking for the template is pointless: the user
// set it to always reject, WeChat reports it banned, or their last answer
// was ban.
func (h Holding) Blocked() bool {
	return h.Setting == store.ConsentReject || h.Setting == store.ConsentBan || h.Status == store.ConsentBan
}

// PlanPrompt plans the next consent request for needs, given the user's
// ledger, the known templates and the main switch. It picks, one at a time,
// the template whose accept (one more credit, or the long-term grant) would
// make Cover cover the most needs not yet covered; ties go to the one that
// covers the most urgent need, then to a silent one, then to the first
// met. Silent ones first: the templates the user set to always accept are
// picked before any other that covers something (asking for them shows no
// popup, so they never cost the tap a place). It never picks a blocked or
// unknown template, a template of the other kind than the first pick
// (WeChat refuses a mix), nor a second template of one title (WeChat keeps
// one and answers filter for the others); it stops when no pick covers
// more. The ids are answered most urgent first (by the most urgent need
// each newly covers). With the main switch off it asks for nothing.
func PlanPrompt(needs []Need, ledger Ledger, templates map[string]TemplateInfo, mainSwitch bool) Plan {
	plan := Plan{TemplateIDs: []string{}, Silent: []string{}, Blocked: blockedOf(ledger), MainSwitch: mainSwitch}
	if !mainSwitch {
		return plan
	}
	have := cloneLedger(ledger)
	base := Cover(needs, have)
	titles := map[string]bool{}
	var kind wechat.TemplateKind
	type pick struct {
		id     string
		due    time.Time
		silent bool
	}
	var picks []pick
	picked := func(id string) bool {
		for _, p := range picks {
			if p.id == id {
				return true
			}
		}
		return false
	}
	for _, silentOnly := range []bool{true, false} {
		for len(picks) < MaxPromptIDs {
			best, bestGain, bestDue, bestSilent := "", 0, time.Time{}, false
			for _, id := range candidates(needs, base) {
				t, ok := templates[id]
				silent := have[id].Setting == store.ConsentAccept
				if !ok || have[id].Blocked() || titles[t.Title] || (kind != "" && t.Kind != kind) || picked(id) || (silentOnly && !silent) {
					continue
				}
				gain, due := gainOf(needs, base, have, id, t.Kind)
				if gain == 0 {
					continue
				}
				better := gain > bestGain ||
					(gain == bestGain && due.Before(bestDue)) ||
					(gain == bestGain && due.Equal(bestDue) && silent && !bestSilent)
				if best == "" || better {
					best, bestGain, bestDue, bestSilent = id, gain, due, silent
				}
			}
			if best == "" {
				break
			}
			t := templates[best]
			kind = t.Kind
			titles[t.Title] = true
			picks = append(picks, pick{best, bestDue, bestSilent})
			have[best] = granted(have[best], t.Kind)
			base = Cover(needs, have)
		}
	}
	sort.SliceStable(picks, func(i, j int) bool { return picks[i].due.Before(picks[j].due) })
	for _, p := range picks {
		plan.TemplateIDs = append(plan.TemplateIDs, p.id)
		if p.silent {
			plan.Silent = append(plan.Silent, p.id)
		}
	}
	return plan
}

// gainOf is how many more needs Cover covers when the template id is
// accepted once more, and the due of the most urgent of them.
func gainOf(needs []Need, base []bool, have Ledger, id string, kind wechat.TemplateKind) (int, time.Time) {
	with := cloneLedger(have)
	with[id] = granted(with[id], kind)
	after := Cover(needs, with)
	gain, due := 0, time.Time{}
	for i := range needs {
		if after[i] && !base[i] {
			if gain == 0 || needs[i].Due.Before(due) {
				due = needs[i].Due
			}
			gain++
		}
	}
	return gain, due
}

// granted is h after one accept of a template of kind.
func granted(h Holding, kind wechat.TemplateKind) Holding {
	if kind == wechat.LongTerm {
		h.LongTerm = true
	} else {
		h.Credits++
	}
	return h
}

// candidates are the templates of the needs not covered, in order of
// first appearance (most urgent need first).
func candidates(needs []Need, covered []bool) []string {
	order := make([]int, len(needs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return needs[order[a]].Due.Before(needs[order[b]].Due) })
	seen := map[string]bool{}
	var out []string
	for _, i := range order {
		if covered[i] {
			continue
		}
		for _, t := range needs[i].Templates {
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// blockedOf lists the ledger's blocked templates, by id.
func blockedOf(ledger Ledger) []string {
	out := []string{}
	for id, h := range ledger {
		if h.Blocked() {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

func cloneLedger(l Ledger) Ledger {
	out := make(Ledger, len(l))
	for k, v := range l {
		out[k] = v
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
