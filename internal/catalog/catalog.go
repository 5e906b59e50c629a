// Package catalog keeps the mini-program's subscribe-message templates: it
// syncs them from WeChat into the database and serves them from memory.
//
// A failed sync keeps the last known templates; the database copy lets a
// restart serve templates before WeChat answers.
package catalog

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat"
)

// Source fetches the template list (a *wechat.Client).
type Source interface {
	Templates(ctx context.Context) ([]wechat.Template, error)
}

// Store keeps the last synced templates (the store's Templates and
// SyncTemplates).
type Store interface {
	Templates(ctx context.Context) ([]store.Template, error)
	SyncTemplates(ctx context.Context, list []store.Template, at time.Time) error
}

// Catalog is the set of known templates. It is safe for concurrent use.
type Catalog struct {
	db     Store
	src    Source
	now    func() time.Time
	log    *slog.Logger
	syncMu sync.Mutex

	// Guarded by syncMu: when SyncIfDue next calls WeChat.
	nextSync time.Time
	failures int

	cur     atomic.Pointer[snapshot]
	synced  atomic.Bool // a sync from WeChat succeeded in this process
	lastErr atomic.Pointer[string]
}

type snapshot struct {
	list []wechat.Template
	byID map[string]*wechat.Template
}

// New returns an empty catalog; call Load and Sync.
func New(d Store, src Source, now func() time.Time, log *slog.Logger) *Catalog {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	c := &Catalog{db: d, src: src, now: now, log: log}
	c.cur.Store(&snapshot{byID: map[string]*wechat.Template{}})
	return c
}

// Load reads the last known templates from the database.
func (c *Catalog) Load(ctx context.Context) error {
	stored, err := c.db.Templates(ctx)
	if err != nil {
		return err
	}
	list := make([]wechat.Template, 0, len(stored))
	for _, s := range stored {
		t := wechat.Template{ID: s.ID, Title: s.Title, Kind: wechat.TemplateKind(s.Kind), Content: s.Content}
		for _, k := range s.Keywords {
			t.Keywords = append(t.Keywords, wechat.Keyword{Key: k.Key, Type: k.Type, Label: k.Label, Enum: k.Enum})
		}
		list = append(list, t)
	}
	c.set(list)
	return nil
}

// Reload is Load under the sync's lock, so that it cannot put back a list
// older than a sync of this process that ran meanwhile. It is the
// template_reload job of every process: on a fleet only the leader syncs
// from WeChat (template_sync), and the others learn its list from the
// store.
func (c *Catalog) Reload(ctx context.Context) error {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	return c.Load(ctx)
}

func (c *Catalog) set(list []wechat.Template) {
	s := &snapshot{list: list, byID: make(map[string]*wechat.Template, len(list))}
	for i := range s.list {
		s.byID[s.list[i].ID] = &s.list[i]
	}
	c.cur.Store(s)
}

// Sync fetches the template list from WeChat, stores it and serves it. On
// failure the last known templates stay.
func (c *Catalog) Sync(ctx context.Context) error {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	err := c.sync(ctx)
	if err != nil {
		msg := err.Error()
		c.lastErr.Store(&msg)
		return err
	}
	c.lastErr.Store(nil)
	c.synced.Store(true)
	c.nextSync = c.now().Add(SyncInterval)
	return nil
}

func (c *Catalog) sync(ctx context.Context) error {
	list, err := c.src.Templates(ctx)
	if err != nil {
		return fmt.Errorf("sync templates: %w", err)
	}
	stored := make([]store.Template, len(list))
	for i, t := range list {
		s := store.Template{ID: t.ID, Title: t.Title, Kind: store.TemplateKind(t.Kind), Content: t.Content}
		for _, k := range t.Keywords {
			s.Keywords = append(s.Keywords, store.Keyword{Key: k.Key, Type: k.Type, Label: k.Label, Enum: k.Enum})
			if !wechat.KnownType(k.Type) {
				c.log.Warn("template keyword of unknown type: values pass unvalidated", "template_id", t.ID, "key", k.Key)
			}
		}
		stored[i] = s
	}
	// Absent unless this list names it; readers see the whole change.
	if err := c.db.SyncTemplates(ctx, stored, c.now()); err != nil {
		return err
	}
	c.set(list)
	c.log.Info("templates synced", "count", len(list))
	return nil
}

// SyncInterval is how often the template list is fetched; gettemplate has a
// small daily quota.
const SyncInterval = 6 * time.Hour

// SyncIfDue syncs when SyncInterval has passed since the last success, or,
// after failures, when the backoff (1 min, 2 min, 4 min … 1 h) has passed.
// It is the periodic job; a failed sync keeps the last known templates.
func (c *Catalog) SyncIfDue(ctx context.Context) error {
	c.syncMu.Lock()
	due := !c.now().Before(c.nextSync)
	c.syncMu.Unlock()
	if !due {
		return nil
	}
	err := c.Sync(ctx)
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	if err != nil {
		c.failures++
		c.nextSync = c.now().Add(min(time.Minute<<min(c.failures-1, 6), time.Hour))
		return err
	}
	c.failures = 0
	c.nextSync = c.now().Add(SyncInterval)
	return nil
}

// Synced reports whether a sync from WeChat has succeeded in this process.
func (c *Catalog) Synced() bool { return c.synced.Load() }

// Ready reports whether templates can be served: synced, or known from the
// database.
func (c *Catalog) Ready() bool { return c.synced.Load() || len(c.cur.Load().list) > 0 }

// LastError is the error of the last failed sync, or "".
func (c *Catalog) LastError() string {
	if p := c.lastErr.Load(); p != nil {
		return *p
	}
	return ""
}

// List returns the known templates in WeChat's order. Callers must not
// modify them.
func (c *Catalog) List() []wechat.Template { return c.cur.Load().list }

// Get returns a template by id.
func (c *Catalog) Get(id string) (*wechat.Template, bool) {
	t, ok := c.cur.Load().byID[id]
	return t, ok
}
