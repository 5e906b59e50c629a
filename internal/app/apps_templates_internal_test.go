package app

import (
	"context"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/catalog"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/wechat"
)

// The engine's templates look a reminder's template up in its own app's
// catalog: two accounts may give one id to templates of different kinds
// (the claim's credit rule and the record's credit follow the kind).
func TestAppTemplatesGetInTheAppsOwnCatalog(t *testing.T) {
	ctx := context.Background()
	s := testkit.Store(t)
	parts := []*appParts{}
	for app, kind := range map[string]store.TemplateKind{"wxa": store.KindOneTime, "wxb": store.KindLongTerm} {
		if err := s.AppTemplates(app).SyncTemplates(ctx, []store.Template{{ID: "t", Title: "t", Kind: kind}}, time.Now()); err != nil {
			t.Fatal(err)
		}
		cat := catalog.New(s.AppTemplates(app), nil, nil, nil)
		if err := cat.Load(ctx); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, &appParts{cfg: AppConfig{WeChat: wechat.Config{AppID: app}}, catalog: cat})
	}
	var set appSet
	set.p.Store(&parts)
	tpl := appTemplates{&set}
	for app, want := range map[string]wechat.TemplateKind{"wxa": wechat.OneTime, "wxb": wechat.LongTerm} {
		if got, ok := tpl.GetIn(app, "t"); !ok || got.Kind != want {
			t.Errorf("%s's t: %+v (%v), want %s", app, got, ok, want)
		}
	}
	if got, ok := tpl.GetIn("wxc", "t"); ok {
		t.Errorf("an app not served has t: %+v", got)
	}
}
