package scheduler

import (
	"testing"

	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat"
)

// appTemplateMap is each app's templates by id.
type appTemplateMap map[string]templateMap

// Get is the first app's template of that id, as a lookup that does not
// know apps would answer.
func (m appTemplateMap) Get(id string) (*wechat.Template, bool) {
	for _, app := range []string{"A", "B"} {
		if t, ok := m[app][id]; ok {
			return t, true
		}
	}
	return nil, false
}

func (m appTemplateMap) GetIn(appID, id string) (*wechat.Template, bool) {
	t, ok := m[appID][id]
	return t, ok
}

// The claim's Kind asks the reminder's own app's catalog when the engine's
// templates know apps: "t" is one-time in A and long-term in B, and C does
// not have it. A catalog that does not know apps answers by id alone.
func TestTemplateKindsPerApp(t *testing.T) {
	tpl := appTemplateMap{
		"A": {"t": {ID: "t", Kind: wechat.OneTime}},
		"B": {"t": {ID: "t", Kind: wechat.LongTerm}},
	}
	kind := TemplateKinds(tpl)
	for _, c := range []struct {
		app  string
		want store.TemplateKind
		ok   bool
	}{{"A", store.KindOneTime, true}, {"B", store.KindLongTerm, true}, {"C", "", false}} {
		if k, ok := kind(c.app, "t"); k != c.want || ok != c.ok {
			t.Errorf("kind of %s's t: %q %v, want %q %v", c.app, k, ok, c.want, c.ok)
		}
	}
	plain := TemplateKinds(templateMap{"t": {ID: "t", Kind: wechat.LongTerm}})
	if k, ok := plain("B", "t"); k != store.KindLongTerm || !ok {
		t.Errorf("kind by id alone: %q %v", k, ok)
	}
	e := &Engine{cfg: Config{Templates: tpl}}
	if e.longTerm("A", "t") || !e.longTerm("B", "t") {
		t.Errorf("long term: A %v, B %v; want B's only", e.longTerm("A", "t"), e.longTerm("B", "t"))
	}
}
