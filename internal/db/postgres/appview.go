package postgres

import (
	"context"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// appView is one app's access token and template list; the store's own
// token and template operations are app "" (a store wired without apps).
type appView struct {
	d     *DB
	appID string
}

// AppTokens is appID's access token row.
func (d *DB) AppTokens(appID string) store.TokenStore { return appView{d, appID} }

// AppTemplates is appID's template list.
func (d *DB) AppTemplates(appID string) store.TemplateStore { return appView{d, appID} }

func (d *DB) Templates(ctx context.Context) ([]store.Template, error) {
	return appView{d: d}.Templates(ctx)
}

func (d *DB) SyncTemplates(ctx context.Context, list []store.Template, at time.Time) error {
	return appView{d: d}.SyncTemplates(ctx, list, at)
}

func (d *DB) LoadToken(ctx context.Context) (store.Token, error) { return appView{d: d}.LoadToken(ctx) }

func (d *DB) SaveToken(ctx context.Context, t store.Token, at time.Time) error {
	return appView{d: d}.SaveToken(ctx, t, at)
}

func (d *DB) AcquireTokenFetch(ctx context.Context, holder string, now, until time.Time) (bool, error) {
	return appView{d: d}.AcquireTokenFetch(ctx, holder, now, until)
}

func (d *DB) ReleaseTokenFetch(ctx context.Context, holder string) error {
	return appView{d: d}.ReleaseTokenFetch(ctx, holder)
}

func (d *DB) SaveFetchedToken(ctx context.Context, t store.Token, holder string, at time.Time) (int64, error) {
	return appView{d: d}.SaveFetchedToken(ctx, t, holder, at)
}

func (d *DB) InvalidateToken(ctx context.Context, version int64, at time.Time) (bool, error) {
	return appView{d: d}.InvalidateToken(ctx, version, at)
}
