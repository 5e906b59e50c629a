package catalog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/catalog"
	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/wechat"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// world is a fake WeChat with the demo templates, a client for it and a
// real database file; the catalog's clock stands still unless advanced.
type world struct {
	fake   *wechattest.Server
	client *wechat.Client
	path   string
	db     *db.DB
	clock  *wechattest.Clock
}

func newWorld(t *testing.T) *world {
	t.Helper()
	fake := testkit.WeChat(t, wechattest.Options{})
	w := &world{fake: fake, path: filepath.Join(t.TempDir(), "catalog.db"), clock: testkit.Clock()}
	w.client = newClient(t, fake.URL, fake)
	w.open(t)
	return w
}

func newClient(t *testing.T, url string, fake *wechattest.Server) *wechat.Client {
	t.Helper()
	c, err := wechat.New(wechat.Config{BaseURL: url, AppID: fake.AppID(), Secret: fake.Secret()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// open opens the database file (again, after close: a restart).
func (w *world) open(t *testing.T) {
	t.Helper()
	w.db = testkit.SQLiteAt(t, w.path, db.Options{})
}

func (w *world) restart(t *testing.T) {
	t.Helper()
	if err := w.db.Close(); err != nil {
		t.Fatal(err)
	}
	w.open(t)
}

func (w *world) catalog(log *slog.Logger) *catalog.Catalog {
	return catalog.New(w.db, w.client, w.clock.Now, log)
}

func ids(list []wechat.Template) []string {
	out := make([]string, len(list))
	for i, t := range list {
		out[i] = t.ID
	}
	return out
}

func demoIDs() []string { return ids(wechattest.DemoTemplates()) }

// storedPresence reads each stored template's present flag.
func storedPresence(t *testing.T, d *db.DB) map[string]int64 {
	t.Helper()
	rows, err := d.R.Query(`SELECT id, present FROM templates`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var p int64
		if err := rows.Scan(&id, &p); err != nil {
			t.Fatal(err)
		}
		out[id] = p
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkDemo checks that c serves the demo templates with their kinds and
// typed, labelled fields, the enum values included.
func checkDemo(t *testing.T, c *catalog.Catalog) {
	t.Helper()
	if got := ids(c.List()); !slices.Equal(got, demoIDs()) {
		t.Fatalf("List = %v, want WeChat's order %v", got, demoIDs())
	}
	want := map[string]struct {
		kind wechat.TemplateKind
		kws  []wechat.Keyword
	}{
		wechattest.MeetingTemplateID: {wechat.OneTime, []wechat.Keyword{
			{Key: "thing1", Type: "thing", Label: "会议名称"}, {Key: "time2", Type: "time", Label: "会议时间"},
			{Key: "thing3", Type: "thing", Label: "会议地点"}}},
		wechattest.DeadlineTemplateID: {wechat.OneTime, []wechat.Keyword{
			{Key: "thing1", Type: "thing", Label: "事项"}, {Key: "date2", Type: "date", Label: "截止日期"},
			{Key: "enum_string3", Type: "enum_string", Label: "优先级", Enum: []string{"高", "中", "低"}},
			{Key: "character_string4", Type: "character_string", Label: "编号"}}},
		wechattest.ClinicTemplateID: {wechat.LongTerm, []wechat.Keyword{
			{Key: "name1", Type: "name", Label: "就诊人"}, {Key: "time2", Type: "time", Label: "预约时间"},
			{Key: "thing3", Type: "thing", Label: "科室"}, {Key: "phone_number4", Type: "phone_number", Label: "联系电话"}}},
	}
	for id, w := range want {
		got, ok := c.Get(id)
		if !ok {
			t.Fatalf("Get(%s): not found", id)
		}
		if got.ID != id || got.Kind != w.kind || got.Title == "" || got.Content == "" {
			t.Errorf("Get(%s) = %+v, want kind %s with its title and content", id, got, w.kind)
		}
		if len(got.Keywords) != len(w.kws) {
			t.Fatalf("%s keywords %+v, want %+v", id, got.Keywords, w.kws)
		}
		for i, k := range got.Keywords {
			if k.Key != w.kws[i].Key || k.Type != w.kws[i].Type || k.Label != w.kws[i].Label || !slices.Equal(k.Enum, w.kws[i].Enum) {
				t.Errorf("%s keyword %d = %+v, want %+v", id, i, k, w.kws[i])
			}
		}
	}
}

// A sync learns every template with its kind and typed fields, serves them
// in WeChat's order and stores them.
func TestSyncLearnsTemplatesWithTypedFields(t *testing.T) {
	w := newWorld(t)
	c := w.catalog(nil)
	if c.Ready() || c.Synced() || len(c.List()) != 0 {
		t.Fatalf("a new catalog on an empty database: ready %v, synced %v, %d templates", c.Ready(), c.Synced(), len(c.List()))
	}
	if _, ok := c.Get(wechattest.MeetingTemplateID); ok {
		t.Fatal("Get before any sync found a template")
	}
	if err := c.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkDemo(t, c)
	if !c.Ready() || !c.Synced() || c.LastError() != "" {
		t.Errorf("after a sync: ready %v, synced %v, last error %q", c.Ready(), c.Synced(), c.LastError())
	}
	stored := storedPresence(t, w.db)
	for _, id := range demoIDs() {
		if stored[id] != 1 {
			t.Errorf("template %s stored present=%d, want 1 (stored: %v)", id, stored[id], stored)
		}
	}
	if _, ok := c.Get("no-such-template"); ok {
		t.Error("Get of an unknown id found a template")
	}
}

// A restart serves the stored catalog from Load, before any sync and
// without asking WeChat; Synced stays false until a sync succeeds.
func TestRestartLoadsCatalogBeforeSync(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if err := w.catalog(nil).Sync(ctx); err != nil {
		t.Fatal(err)
	}
	w.restart(t)
	w.fake.SetFaults(wechattest.Faults{AllEndpoints: true, HTTP500Rate: 1}) // WeChat down after the restart
	calls := w.fake.Counts().GetTemplate
	c := w.catalog(nil)
	if c.Ready() {
		t.Fatal("ready before Load")
	}
	if err := c.Load(ctx); err != nil {
		t.Fatal(err)
	}
	checkDemo(t, c)
	if !c.Ready() || c.Synced() {
		t.Errorf("after Load: ready %v (want true), synced %v (want false)", c.Ready(), c.Synced())
	}
	if n := w.fake.Counts().GetTemplate - calls; n != 0 {
		t.Errorf("Load called gettemplate %d times", n)
	}
	// WeChat still down: the first sync fails and the loaded catalog stays.
	if err := c.Sync(ctx); err == nil {
		t.Fatal("sync succeeded with WeChat answering 500")
	}
	checkDemo(t, c)
	if !c.Ready() || c.Synced() {
		t.Errorf("after a failed sync: ready %v, synced %v", c.Ready(), c.Synced())
	}
}

// A template removed at WeChat is gone from the catalog after the next sync
// (Get reports it missing), stays in the database with present = 0, and does
// not come back with a restart; added again, it is present again.
func TestRemovedTemplateStaysStoredButIsGone(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := w.catalog(nil)
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	w.fake.RemoveTemplate(wechattest.DeadlineTemplateID)
	// The clock has not moved: both syncs happen in the same millisecond.
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get(wechattest.DeadlineTemplateID); ok {
		t.Error("Get finds the template WeChat removed")
	}
	if got, want := ids(c.List()), []string{wechattest.MeetingTemplateID, wechattest.ClinicTemplateID}; !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
	stored := storedPresence(t, w.db)
	if p, ok := stored[wechattest.DeadlineTemplateID]; !ok || p != 0 {
		t.Errorf("removed template stored: %v, present %d; want kept with present 0", ok, p)
	}
	if stored[wechattest.MeetingTemplateID] != 1 || stored[wechattest.ClinicTemplateID] != 1 {
		t.Errorf("the other templates stored %v, want present 1", stored)
	}

	w.restart(t)
	c = w.catalog(nil)
	if err := c.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get(wechattest.DeadlineTemplateID); ok {
		t.Error("after a restart, Get finds the template WeChat removed")
	}
	if len(c.List()) != 2 {
		t.Errorf("after a restart, List = %v", ids(c.List()))
	}

	w.fake.AddTemplate(wechattest.DemoTemplates()[1])
	w.clock.Advance(time.Second)
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get(wechattest.DeadlineTemplateID); !ok {
		t.Error("a template added again at WeChat is not served")
	}
	if p := storedPresence(t, w.db)[wechattest.DeadlineTemplateID]; p != 1 {
		t.Errorf("a template added again is stored present=%d", p)
	}
}

// A failed sync keeps the last good catalog, in memory and in the
// database, and reports its error until a sync succeeds.
func TestFailedSyncKeepsLastGoodCatalog(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := w.catalog(nil)
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	before := c.List()
	for _, f := range []wechattest.Faults{
		{AllEndpoints: true, HTTP500Rate: 1},
		{AllEndpoints: true, BusyRate: 1},
	} {
		w.fake.SetFaults(f)
		w.fake.RemoveTemplate(wechattest.MeetingTemplateID) // not learned: the sync fails
		if err := c.Sync(ctx); err == nil {
			t.Fatalf("sync succeeded with faults %+v", f)
		}
		checkDemo(t, c)
		if &c.List()[0] != &before[0] {
			t.Error("a failed sync replaced the served list")
		}
		if c.LastError() == "" || !c.Synced() || !c.Ready() {
			t.Errorf("after a failed sync: last error %q, synced %v, ready %v", c.LastError(), c.Synced(), c.Ready())
		}
		for id, p := range storedPresence(t, w.db) {
			if p != 1 {
				t.Errorf("a failed sync marked %s present=%d", id, p)
			}
		}
		w.fake.AddTemplate(wechattest.DemoTemplates()[0])
	}
	w.fake.SetFaults(wechattest.Faults{})
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if c.LastError() != "" {
		t.Errorf("last error %q after a successful sync", c.LastError())
	}
}

// A first sync that fails on an empty database leaves the catalog not
// ready, with the error to show.
func TestFailedFirstSyncIsNotReady(t *testing.T) {
	w := newWorld(t)
	w.fake.SetFaults(wechattest.Faults{AllEndpoints: true, HTTP500Rate: 1})
	c := w.catalog(nil)
	if err := c.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.SyncIfDue(context.Background()); err == nil {
		t.Fatal("sync succeeded with WeChat answering 500")
	}
	if c.Ready() || c.Synced() || c.LastError() == "" || len(c.List()) != 0 {
		t.Errorf("ready %v, synced %v, last error %q, %d templates", c.Ready(), c.Synced(), c.LastError(), len(c.List()))
	}
}

// SyncIfDue calls WeChat once per SyncInterval after a success, and after
// failures backs off 1 min, 2 min, 4 min … capped at 1 h.
func TestSyncIfDueIntervalAndBackoff(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	src := &countingSource{src: w.client}
	c := catalog.New(w.db, src, w.clock.Now, nil)
	calls := func() int { return int(src.n.Load()) }
	// syncAt moves the clock to at and reports whether SyncIfDue called WeChat.
	start := w.clock.Now()
	syncAt := func(at time.Duration) bool {
		t.Helper()
		w.clock.Set(start.Add(at))
		n := calls()
		_ = c.SyncIfDue(ctx)
		return calls() > n
	}
	if !syncAt(0) {
		t.Fatal("the first SyncIfDue did not sync")
	}
	if syncAt(0) || syncAt(catalog.SyncInterval-time.Millisecond) {
		t.Fatal("synced again before SyncInterval passed")
	}
	if !syncAt(catalog.SyncInterval) {
		t.Fatal("no sync once SyncInterval passed")
	}

	w.fake.SetFaults(wechattest.Faults{AllEndpoints: true, HTTP500Rate: 1})
	at := 2 * catalog.SyncInterval
	if !syncAt(at) {
		t.Fatal("no sync once SyncInterval passed again")
	}
	for _, wait := range []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60} {
		wait *= time.Minute
		if syncAt(at + wait - time.Millisecond) {
			t.Fatalf("retried before the backoff of %v", wait)
		}
		if !syncAt(at + wait) {
			t.Fatalf("no retry after the backoff of %v", wait)
		}
		at += wait
	}
	w.fake.SetFaults(wechattest.Faults{})
	if !syncAt(at+time.Hour) || c.LastError() != "" {
		t.Fatalf("no successful retry after an hour (last error %q)", c.LastError())
	}
	at += time.Hour
	if syncAt(at + catalog.SyncInterval - time.Millisecond) {
		t.Fatal("after a success following failures, synced before SyncInterval")
	}
	if !syncAt(at + catalog.SyncInterval) {
		t.Fatal("no sync SyncInterval after the success")
	}
	// A failure after that starts its backoff at 1 min again.
	w.fake.SetFaults(wechattest.Faults{AllEndpoints: true, HTTP500Rate: 1})
	at += 2 * catalog.SyncInterval
	if !syncAt(at) || syncAt(at+time.Minute-time.Millisecond) || !syncAt(at+time.Minute) {
		t.Fatal("the backoff did not start again at 1 min after a success")
	}
}

// countingSource counts the calls for the template list, failed ones too.
type countingSource struct {
	src catalog.Source
	n   atomic.Int64
}

func (s *countingSource) Templates(ctx context.Context) ([]wechat.Template, error) {
	s.n.Add(1)
	return s.src.Templates(ctx)
}

// retyped serves the fake's API, with gettemplate's "type" of the named
// templates replaced.
func retyped(t *testing.T, fake *wechattest.Server, types map[string]any) string {
	t.Helper()
	h := fake.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/gettemplate") {
			h.ServeHTTP(rw, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		var ans map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil {
			t.Errorf("fake's gettemplate answer: %v", err)
		}
		if data, ok := ans["data"].([]any); ok {
			for _, d := range data {
				m := d.(map[string]any)
				if typ, ok := types[m["priTmplId"].(string)]; ok {
					m["type"] = typ
				}
			}
		}
		b, _ := json.Marshal(ans)
		rw.Header().Set("Content-Type", "application/json")
		_, _ = io.Copy(rw, bytes.NewReader(b))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// A template whose gettemplate type is neither 2 (one-time) nor 3
// (long-term) is skipped: the others are learned and stored, so a fresh
// database becomes ready.
func TestTemplateOfUnknownTypeSkipped(t *testing.T) {
	w := newWorld(t)
	w.client = newClient(t, retyped(t, w.fake, map[string]any{wechattest.DeadlineTemplateID: 1, wechattest.ClinicTemplateID: "4"}), w.fake)
	c := w.catalog(nil)
	if err := c.Sync(context.Background()); err != nil {
		t.Fatalf("sync failed on a template of an unknown type: %v", err)
	}
	if got, want := ids(c.List()), []string{wechattest.MeetingTemplateID}; !slices.Equal(got, want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
	for _, id := range []string{wechattest.DeadlineTemplateID, wechattest.ClinicTemplateID} {
		if _, ok := c.Get(id); ok {
			t.Errorf("Get(%s) finds a template of an unknown type", id)
		}
	}
	if !c.Ready() {
		t.Error("not ready with one template learned")
	}
	if stored := storedPresence(t, w.db); len(stored) != 1 || stored[wechattest.MeetingTemplateID] != 1 {
		t.Errorf("stored %v, want only the meeting template", stored)
	}
}

// recorder keeps the log records it is given.
type recorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Clone())
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// A keyword of a type reminderd has no rule for is kept (its values pass
// unvalidated) and logged as a warning naming the template and the key.
func TestKeywordOfUnknownTypeKeptAndLogged(t *testing.T) {
	w := newWorld(t)
	w.fake.AddTemplate(wechat.Template{ID: "tplWithNewType", Title: "新类型", Kind: wechat.OneTime,
		Content: "名称:{{thing1.DATA}}\n座位:{{seat2.DATA}}\n"})
	rec := &recorder{}
	c := w.catalog(slog.New(rec))
	if err := c.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	tpl, ok := c.Get("tplWithNewType")
	if !ok {
		t.Fatal("the template with a keyword of an unknown type is not served")
	}
	if k, ok := tpl.Keyword("seat2"); !ok || k.Type != "seat" || k.Label != "座位" {
		t.Errorf("keyword seat2 = %+v, %v", k, ok)
	}
	warned := 0
	for _, r := range rec.recs {
		if r.Level != slog.LevelWarn {
			continue
		}
		attrs := map[string]string{}
		r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
		if attrs["template_id"] == "tplWithNewType" && attrs["key"] == "seat2" {
			warned++
		}
	}
	if warned != 1 {
		t.Errorf("%d warnings naming tplWithNewType/seat2, want 1 (records: %d)", warned, len(rec.recs))
	}
}

// Get, List, Ready and LastError may run while syncs replace the catalog
// (go test -race checks the sharing); each List is one whole catalog.
func TestConcurrentGetDuringSync(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := w.catalog(nil)
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				list := c.List()
				if n := len(list); n != 2 && n != 3 {
					t.Errorf("List has %d templates, want a whole catalog (2 or 3)", n)
					return
				}
				for _, tpl := range list {
					if tpl.ID == "" || len(tpl.Keywords) == 0 {
						t.Errorf("List holds a partial template %+v", tpl)
						return
					}
				}
				if tpl, ok := c.Get(wechattest.MeetingTemplateID); !ok || len(tpl.Keywords) != 3 {
					t.Errorf("Get(meeting) = %+v, %v during a sync", tpl, ok)
					return
				}
				_, _ = c.Get(wechattest.DeadlineTemplateID)
				_ = c.Ready()
				_ = c.Synced()
				_ = c.LastError()
			}
		})
	}
	for i := range 30 {
		if i%2 == 0 {
			w.fake.RemoveTemplate(wechattest.DeadlineTemplateID)
		} else {
			w.fake.AddTemplate(wechattest.DemoTemplates()[1])
		}
		w.clock.Advance(time.Millisecond)
		if err := c.Sync(ctx); err != nil {
			t.Error(err)
		}
		if i%10 == 0 {
			_ = c.SyncIfDue(ctx)
		}
	}
	close(stop)
	wg.Wait()
}

// On a fleet only the leader syncs from WeChat; another process learns a
// template added since it started from the store (Reload), and one removed.
func TestReloadLearnsTheLeadersSync(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	leader := w.catalog(nil)
	if err := leader.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	follower := catalog.New(testkit.SQLiteAt(t, w.path, db.Options{}), w.client, w.clock.Now, nil) // a second process
	if err := follower.Load(ctx); err != nil {
		t.Fatal(err)
	}
	w.fake.RemoveTemplate(wechattest.DeadlineTemplateID)
	w.clock.Advance(time.Second)
	if err := leader.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := follower.Get(wechattest.DeadlineTemplateID); !ok {
		t.Fatal("the follower lost the template before it reloaded (the test needs it known first)")
	}
	calls := w.fake.Counts().GetTemplate
	if err := follower.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := follower.Get(wechattest.DeadlineTemplateID); ok {
		t.Error("after Reload the follower still serves the template the leader's sync removed")
	}
	w.fake.AddTemplate(wechattest.DemoTemplates()[1])
	w.clock.Advance(time.Second)
	if err := leader.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := follower.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := follower.Get(wechattest.DeadlineTemplateID); !ok {
		t.Error("after Reload the follower does not know the template the leader's sync added")
	}
	if n := w.fake.Counts().GetTemplate - calls; n != 1 {
		t.Errorf("gettemplate called %d times since the follower started, want 1 (the leader's sync only)", n)
	}
}
