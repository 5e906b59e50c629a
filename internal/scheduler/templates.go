package scheduler

import "github.com/reminderd/reminderd/internal/wechat"

// AppTemplates is a Templates that knows which app's catalog a template is
// in: a template id is one account's, and two apps may name templates of
// different kinds by the same id. The engine looks a reminder's template up
// in its own app's catalog when Config.Templates is one.
type AppTemplates interface {
	Templates
	// GetIn is template id of app appID.
	GetIn(appID, id string) (*wechat.Template, bool)
}

// templateOf is template id of app appID in tpl: its app's when tpl knows
// apps, else the one template of that id.
func templateOf(tpl Templates, appID, id string) (*wechat.Template, bool) {
	if a, ok := tpl.(AppTemplates); ok {
		return a.GetIn(appID, id)
	}
	return tpl.Get(id)
}
