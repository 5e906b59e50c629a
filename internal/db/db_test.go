package db_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/testkit"
	_ "modernc.org/sqlite"
)

func schemaOf(t *testing.T, c *sql.DB) map[string]string {
	t.Helper()
	rows, err := c.Query(`SELECT type || ' ' || name, coalesce(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		out[k] = v
	}
	return out
}

func TestMigratedDatabaseMatchesSchemaFile(t *testing.T) {
	migrated := testkit.SQLite(t)
	schema, err := os.ReadFile("../../schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "ref.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	if _, err := ref.Exec(string(schema)); err != nil {
		t.Fatalf("schema.sql does not apply: %v", err)
	}
	got, want := schemaOf(t, migrated.W), schemaOf(t, ref)
	if len(want) < 10 {
		t.Fatalf("reference schema has only %d objects", len(want))
	}
	for name, sql := range want {
		if got[name] != sql {
			t.Errorf("%s differs:\nmigrated: %s\nschema.sql: %s", name, got[name], sql)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("migrations create %s, which schema.sql lacks", name)
		}
	}
	v, err := migrated.SchemaVersion(context.Background())
	if err != nil || v != db.LatestVersion() || v < 1 {
		t.Fatalf("user_version = %d (%v), want %d", v, err, db.LatestVersion())
	}
}

func TestMigrateIsIdempotentAndRefusesNewerDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	ctx := context.Background()
	d, err := db.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := d.Migrate(ctx); err != nil || n != 0 {
		t.Fatalf("second migrate applied %d (%v), want 0", n, err)
	}
	if _, err := d.W.Exec("PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if _, err := db.Open(ctx, path); err == nil {
		t.Fatal("a database newer than the binary was opened")
	}
}

func TestPragmas(t *testing.T) {
	d := testkit.SQLite(t)
	p, err := d.Pragmas(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// synchronous FULL (2) by default: a commit answered 2xx survives a power cut.
	for k, want := range map[string]string{"busy_timeout": "10000", "journal_mode": "wal", "foreign_keys": "1", "synchronous": "2"} {
		if p[k] != want {
			t.Errorf("pragma %s = %q, want %q", k, p[k], want)
		}
	}
	// The read pool refuses writes.
	if _, err := d.R.Exec(`DELETE FROM sessions`); err == nil {
		t.Fatal("read pool accepted a write")
	}
}

func TestSyncSetting(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		sync db.Sync
		want string
	}{{"", "2"}, {db.SyncFull, "2"}, {db.SyncNormal, "1"}} {
		d, err := db.OpenWith(ctx, filepath.Join(t.TempDir(), "s.db"), db.Options{Sync: tc.sync})
		if err != nil {
			t.Fatal(err)
		}
		p, err := d.Pragmas(ctx)
		d.Close()
		if err != nil {
			t.Fatal(err)
		}
		if p["synchronous"] != tc.want {
			t.Errorf("sync %q: pragma synchronous = %q, want %q", tc.sync, p["synchronous"], tc.want)
		}
	}
	if _, err := db.OpenWith(ctx, filepath.Join(t.TempDir(), "s.db"), db.Options{Sync: "off"}); err == nil || !strings.Contains(err.Error(), "full") {
		t.Fatalf("sync off: %v", err)
	}
}

func TestOpenRejectsBadPath(t *testing.T) {
	for _, p := range []string{"", "a?b.db", "x#.db"} {
		if _, err := db.Open(context.Background(), p); err == nil {
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func TestCheckConstraints(t *testing.T) {
	d := testkit.SQLite(t)
	ctx := context.Background()
	q := d.Write
	// credits can never go below zero, even by a direct write.
	if err := q.AddCredit(ctx, dbsqlc.AddCreditParams{Openid: "o", TemplateID: "t", Credits: 1, Now: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.W.Exec(`UPDATE consents SET credits = -1`); err == nil {
		t.Fatal("negative credits accepted")
	}
	if _, err := d.W.Exec(`INSERT INTO reminders (id, openid, template_id, status, fire_at, due_at, timezone, data, created_at, updated_at)
		VALUES ('r', 'o', 't', 'bogus', 1, 1, 'UTC', '{}', 1, 1)`); err == nil {
		t.Fatal("unknown status accepted")
	}
	if _, err := d.W.Exec(`INSERT INTO reminders (id, openid, template_id, status, fire_at, due_at, timezone, data, created_at, updated_at)
		VALUES ('r', 'o', 't', 'failed', 1, 1, 'UTC', '{}', 1, 1)`); err == nil {
		t.Fatal("failed without a reason accepted")
	}
	if _, err := d.W.Exec(`INSERT INTO reminders (id, openid, template_id, status, fire_at, due_at, timezone, data, created_at, updated_at)
		VALUES ('r', 'o', 't', 'scheduled', 1, 1, 'UTC', 'not json', 1, 1)`); err == nil {
		t.Fatal("invalid data JSON accepted")
	}
	if _, err := d.W.Exec(`INSERT INTO reminders (id, openid, template_id, status, fire_at, due_at, timezone, data, created_at, updated_at)
		VALUES ('r', 'o', 't', 'sending', 1, 1, 'UTC', '{}', 1, 1)`); err == nil {
		t.Fatal("sending without a lease accepted")
	}
}

func TestConcurrentConsumptionNeverOverspends(t *testing.T) {
	d := testkit.SQLite(t)
	ctx := context.Background()
	if err := d.Write.AddCredit(ctx, dbsqlc.AddCreditParams{Openid: "o1", TemplateID: "t1", Credits: 25, Now: 1}); err != nil {
		t.Fatal(err)
	}
	var won atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 10 {
				err := d.WithTx(ctx, func(q *dbsqlc.Queries) error {
					n, err := q.ConsumeCredit(ctx, dbsqlc.ConsumeCreditParams{Openid: "o1", TemplateID: "t1", Now: 2})
					won.Add(n)
					return err
				})
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	c, err := d.Read.GetConsent(ctx, dbsqlc.GetConsentParams{Openid: "o1", TemplateID: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	if won.Load() != 25 || c.Credits != 0 {
		t.Fatalf("160 concurrent consumers of 25 credits: %d succeeded, %d left", won.Load(), c.Credits)
	}
}

func TestRecordAcceptPairsReportAndEvent(t *testing.T) {
	d := testkit.SQLite(t)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	credits := func() int64 {
		c, err := d.Read.GetConsent(ctx, dbsqlc.GetConsentParams{Openid: "o1", TemplateID: "t1"})
		if err != nil {
			t.Fatal(err)
		}
		return c.Credits
	}
	steps := []struct {
		source  store.GrantSource
		at      time.Duration
		counted bool
		credits int64
	}{
		{store.SourceClient, 0, true, 1},                  // the report
		{store.SourceEvent, 30 * time.Second, false, 1},   // its popup event: same accept
		{store.SourceEvent, 40 * time.Second, true, 2},    // a second accept, event first
		{store.SourceClient, 41 * time.Second, false, 2},  // its report
		{store.SourceClient, 60 * time.Second, true, 3},   // a third accept
		{store.SourceEvent, 181 * time.Second, true, 4},   // an event 121 s later is another accept
		{store.SourceClient, 182 * time.Second, false, 4}, // pairs with the event just before
		{store.SourceClient, 183 * time.Second, true, 5},  // nothing left to pair with
	}
	for i, s := range steps {
		counted, err := d.RecordAccept(ctx, "", "o1", "t1", false, s.source, t0.Add(s.at))
		if err != nil {
			t.Fatal(err)
		}
		if counted != s.counted || credits() != s.credits {
			t.Fatalf("step %d (%s at %v): counted=%v credits=%d, want %v and %d", i, s.source, s.at, counted, credits(), s.counted, s.credits)
		}
	}
	if _, err := d.RecordAccept(ctx, "", "o1", "t1", false, "bogus", t0); err == nil {
		t.Fatal("unknown source accepted")
	}
}

func TestRecordAcceptLongTerm(t *testing.T) {
	d := testkit.SQLite(t)
	ctx := context.Background()
	if _, err := d.RecordAccept(ctx, "", "o1", "lt", true, store.SourceClient, time.Now()); err != nil {
		t.Fatal(err)
	}
	c, _ := d.Read.GetConsent(ctx, dbsqlc.GetConsentParams{Openid: "o1", TemplateID: "lt"})
	if c.LongTerm != 1 || c.Credits != 0 || c.Status != "accept" {
		t.Fatalf("long-term consent %+v", c)
	}
}

func TestCompareAndSetTransitions(t *testing.T) {
	d := testkit.SQLite(t)
	ctx := context.Background()
	q := d.Write
	if err := q.InsertReminder(ctx, dbsqlc.InsertReminderParams{ID: "r1", Openid: "o", TemplateID: "t", FireAt: 100,
		Timezone: "UTC", Data: "{}", Now: 1}); err != nil {
		t.Fatal(err)
	}
	if n, _ := q.CancelReminder(ctx, dbsqlc.CancelReminderParams{ID: "r1", Now: 2}); n != 1 {
		t.Fatal("cancel of a scheduled reminder")
	}
	if n, _ := q.CancelReminder(ctx, dbsqlc.CancelReminderParams{ID: "r1", Now: 3}); n != 0 {
		t.Fatal("second cancel changed a row")
	}
	if n, _ := q.UpdateScheduledReminder(ctx, dbsqlc.UpdateScheduledReminderParams{ID: "r1", FireAt: 200, Data: "{}", Now: 4}); n != 0 {
		t.Fatal("patch of a canceled reminder changed a row")
	}
	if n, _ := q.RetryReminder(ctx, dbsqlc.RetryReminderParams{ID: "r1", Now: 5}); n != 0 {
		t.Fatal("retry of a canceled reminder changed a row")
	}
	if _, err := d.Read.GetReminder(ctx, "nope"); !errors.Is(db.NotFound(err, "reminder nope"), store.ErrNotFound) {
		t.Fatalf("missing reminder: %v", err)
	}
}

func TestDeleteOldDeliveriesKeepsRecentRows(t *testing.T) {
	d := testkit.SQLite(t)
	ctx := context.Background()
	if _, err := d.W.Exec(`INSERT INTO reminders (id, openid, template_id, status, fire_at, due_at, timezone, data, created_at, updated_at)
		VALUES ('r', 'o', 't', 'sent', 1, 1, 'UTC', '{}', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	// started_at in id order, except one recent row recorded early and one
	// old row recorded late; a legacy in-flight row is never deleted.
	rows := []struct {
		started int64
		status  string
	}{{100, "sent"}, {900, "retry"}, {200, "sent"}, {150, "sending"}, {300, "failed"}, {1000, "sent"}, {250, "sent"}, {1100, "sent"}}
	for _, r := range rows {
		if _, err := d.W.Exec(`INSERT INTO deliveries (reminder_id, occurrence_at, attempt, status, started_at) VALUES ('r', ?, 1, ?, ?)`,
			r.started, r.status, r.started); err != nil {
			t.Fatal(err)
		}
	}
	left := func() []int64 {
		var out []int64
		rs, err := d.R.Query(`SELECT started_at FROM deliveries ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Close()
		for rs.Next() {
			var v int64
			if err := rs.Scan(&v); err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		return out
	}
	n, err := d.Write.DeleteOldDeliveries(ctx, 500)
	if err != nil {
		t.Fatal(err)
	}
	// The rows before the first recent one (900) go; the old rows recorded
	// after it wait, and nothing recent is touched.
	if got := left(); n != 1 || !slices.Equal(got, []int64{900, 200, 150, 300, 1000, 250, 1100}) {
		t.Fatalf("deleted %d, left %v", n, got)
	}
	// With every row old, all but the in-flight one go.
	if n, err = d.Write.DeleteOldDeliveries(ctx, 5000); err != nil || n != 7-1 {
		t.Fatalf("deleted %d (%v), left %v", n, err, left())
	}
	if got := left(); !slices.Equal(got, []int64{150}) {
		t.Fatalf("left %v", got)
	}
}

func TestUpgradeFromVersion1KeepsData(t *testing.T) {
	// A database made by the first release, with a claim in flight and a
	// ledger row, is migrated in place when opened.
	path := filepath.Join(t.TempDir(), "v1.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := db.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{ms[0].SQL, "PRAGMA user_version = 1",
		`INSERT INTO reminders (id, openid, template_id, status, fire_at, due_at, timezone, data, attempts, lease_until, lease_owner, created_at, updated_at)
		 VALUES ('r1', 'o', 't', 'sending', 5, 5, 'UTC', '{"a":"b"}', 1, 99, 'old', 1, 5)`,
		`INSERT INTO consents (openid, template_id, credits, status, updated_at) VALUES ('o', 't', 3, 'accept', 1)`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	d, err := db.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if v, _ := d.SchemaVersion(context.Background()); v != db.LatestVersion() {
		t.Fatalf("version %d after open, want %d", v, db.LatestVersion())
	}
	r, err := d.Read.GetReminder(context.Background(), "r1")
	if err != nil || r.Status != "sending" || r.CreditHeld != 0 || r.Data != `{"a":"b"}` || r.LeaseOwner.String != "old" {
		t.Fatalf("reminder after upgrade: %+v (%v)", r, err)
	}
	c, err := d.Read.GetConsent(context.Background(), dbsqlc.GetConsentParams{Openid: "o", TemplateID: "t"})
	if err != nil || c.Credits != 3 || c.ZeroedAt != 0 {
		t.Fatalf("consent after upgrade: %+v (%v)", c, err)
	}
}

// Migration 4 rebuilds the reminders table (idempotency keys move to a
// partial unique index): every reminder and every delivery survives, the
// deliveries' foreign key still names the new table and cascades, and keys
// stay unique per user while reminders without one are not indexed.
func TestUpgradeRebuildsRemindersKeepingDeliveries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v3.db")
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := db.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	steps := []string{ms[0].SQL, ms[1].SQL, ms[2].SQL, "PRAGMA user_version = 3"}
	for i := range 3 {
		key, hash := "NULL", "NULL"
		if i == 0 {
			key, hash = "'k1'", "'h1'"
		}
		steps = append(steps, fmt.Sprintf(`INSERT INTO reminders (id, openid, template_id, status, fire_at, due_at, timezone, data,
			idempotency_key, request_hash, created_at, updated_at, credit_held, attempts, lease_until, lease_owner)
			VALUES ('r%d', 'o', 't', 'sending', 5, 5, 'UTC', '{"a":"b"}', %s, %s, 1, 5, 1, 2, 99, 'me')`, i, key, hash),
			fmt.Sprintf(`INSERT INTO deliveries (reminder_id, occurrence_at, attempt, status, started_at) VALUES ('r%d', 5, 1, 'retry', 3)`, i))
	}
	// And enough other reminders (about 1,000 pages) that the rebuild's WAL would be megabytes.
	steps = append(steps, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
		INSERT INTO reminders (id, openid, template_id, status, fire_at, due_at, timezone, data, created_at, updated_at)
		SELECT printf('f%05d', i), 'o', 't', 'sent', 5, 5, 'UTC', json_object('thing1', printf('%.1000c', 'x')), 1, 5 FROM n`)
	for _, q := range steps {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	raw.Close()
	ctx := context.Background()
	d, err := db.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if v, _ := d.SchemaVersion(ctx); v != db.LatestVersion() {
		t.Fatalf("version %d after open, want %d", v, db.LatestVersion())
	}
	// The upgrade ends with a checkpoint that empties the WAL; the rebuild
	// alone would leave megabytes.
	if st, err := os.Stat(path + "-wal"); err == nil && st.Size() > 64<<10 {
		t.Fatalf("the WAL is %d bytes after the rebuild: its space was not given back", st.Size())
	}
	var n int
	if err := d.R.QueryRow(`SELECT count(*) FROM reminders`).Scan(&n); err != nil || n != 3003 {
		t.Fatalf("%d reminders after the rebuild (%v), want 3003", n, err)
	}
	for i := range 3 {
		id := fmt.Sprintf("r%d", i)
		r, err := d.Read.GetReminder(ctx, id)
		if err != nil || r.Status != "sending" || r.CreditHeld != 1 || r.Attempts != 2 || r.LeaseOwner.String != "me" || r.Data != `{"a":"b"}` {
			t.Fatalf("%s after the rebuild: %+v (%v)", id, r, err)
		}
		ds, err := d.Read.ListDeliveries(ctx, id)
		if err != nil || len(ds) != 1 {
			t.Fatalf("%s: %d deliveries after the rebuild (%v): dropping the old table cascaded", id, len(ds), err)
		}
	}
	var fk int
	if err := d.W.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign_keys = %d (%v) after the migration, want 1", fk, err)
	}
	var legacy int
	if err := d.W.QueryRow("PRAGMA legacy_alter_table").Scan(&legacy); err != nil || legacy != 0 {
		t.Fatalf("legacy_alter_table = %d (%v) after the migration, want 0", legacy, err)
	}
	// The key is still unique per user; reminders without one are many.
	insert := func(id string, key sql.NullString) error {
		hash := sql.NullString{String: "h", Valid: key.Valid}
		return d.Write.InsertReminder(ctx, dbsqlc.InsertReminderParams{ID: id, Openid: "o", TemplateID: "t", FireAt: 9,
			Timezone: "UTC", Data: `{}`, IdempotencyKey: key, RequestHash: hash, Now: 1})
	}
	if err := insert("dup", sql.NullString{String: "k1", Valid: true}); !db.IsUniqueViolation(err) {
		t.Fatalf("a second reminder with key k1: %v, want a unique violation", err)
	}
	for _, id := range []string{"n1", "n2"} {
		if err := insert(id, sql.NullString{}); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := d.Write.GetReminderByIdempotencyKey(ctx, dbsqlc.GetReminderByIdempotencyKeyParams{Openid: "o",
		IdempotencyKey: sql.NullString{String: "k1", Valid: true}}); err != nil || got.ID != "r0" {
		t.Fatalf("key k1 finds %q (%v), want r0", got.ID, err)
	}
	// The deliveries' foreign key refers to the new table, and cascades.
	if _, err := d.W.Exec(`DELETE FROM reminders WHERE id = 'r1'`); err != nil {
		t.Fatal(err)
	}
	if ds, err := d.Read.ListDeliveries(ctx, "r1"); err != nil || len(ds) != 0 {
		t.Fatalf("deleting r1 left %d deliveries (%v)", len(ds), err)
	}
	if _, err := d.W.Exec(`INSERT INTO deliveries (reminder_id, occurrence_at, attempt, status, started_at) VALUES ('nope', 5, 1, 'retry', 3)`); err == nil {
		t.Fatal("a delivery of a missing reminder was accepted")
	}
}

// A listing filtered by template alone reads at most MaxWalk index entries
// a page; following its cursor finds every match once, in order.
func TestTemplateListingReadsABoundedStretch(t *testing.T) {
	d := testkit.SQLite(t)
	ctx := context.Background()
	defer func(w int64) { db.MaxWalk = w }(db.MaxWalk)
	db.MaxWalk = 4
	var want []string
	for i := range 30 {
		tmpl := "common"
		if i%12 == 5 { // 5, 17, 29: rare among the common ones
			tmpl = "rare"
		}
		id := fmt.Sprintf("rem_%02d", i)
		if err := d.Write.InsertReminder(ctx, dbsqlc.InsertReminderParams{ID: id, Openid: fmt.Sprintf("o%d", i%3), TemplateID: tmpl,
			FireAt: int64(1000 + i), Timezone: "UTC", Data: `{}`, Now: 1}); err != nil {
			t.Fatal(err)
		}
		if tmpl == "rare" {
			want = append(want, id)
		}
	}
	for _, status := range []string{"", "scheduled"} {
		// As the API pages: limit 1, one more row asked for to see whether
		// another page follows.
		p := dbsqlc.ListUserRemindersParams{Status: status, TemplateID: "rare", FromMs: 0, ToMs: 1 << 62, AfterFireAt: -1, MaxRows: 2}
		var got []string
		pages, shortWithCursor := 0, 0
		for ; pages < 30; pages++ {
			rows, resume, err := db.ListRemindersPage(ctx, d.Read, p)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) > 1 {
				rows = rows[:1]
				resume = &db.Position{FireAt: rows[0].FireAt, ID: rows[0].ID}
			} else if resume != nil {
				shortWithCursor++
			}
			for _, r := range rows {
				got = append(got, r.ID)
			}
			if resume == nil {
				break
			}
			p.AfterFireAt, p.AfterID = resume.FireAt, resume.ID
		}
		if !slices.Equal(got, want) || pages == 30 {
			t.Fatalf("status %q: pages found %v in %d pages, want %v", status, got, pages, want)
		}
		if shortWithCursor == 0 {
			t.Fatalf("status %q: no page stopped short: the walk was not bounded", status)
		}
	}
	// A walk that ends with the range's last entry is the last page.
	rows, resume, err := db.ListRemindersPage(ctx, d.Read, dbsqlc.ListUserRemindersParams{TemplateID: "rare", FromMs: 0, ToMs: 1 << 62,
		AfterFireAt: 1025, AfterID: "rem_25", MaxRows: 2})
	if err != nil || resume != nil || len(rows) != 1 || rows[0].ID != "rem_29" {
		t.Fatalf("the last %d entries: rows %v, resume %v, %v; want rem_29 and no next page", db.MaxWalk, rows, resume, err)
	}
	// Unfiltered and per-user listings are exact: never a short page with a cursor.
	for _, p := range []dbsqlc.ListUserRemindersParams{
		{FromMs: 0, ToMs: 1 << 62, AfterFireAt: -1, MaxRows: 100},
		{Openid: "o2", TemplateID: "rare", FromMs: 0, ToMs: 1 << 62, AfterFireAt: -1, MaxRows: 100},
	} {
		rows, resume, err := db.ListRemindersPage(ctx, d.Read, p)
		if err != nil || resume != nil || len(rows) == 0 {
			t.Fatalf("%+v: %d rows, resume %v, %v", p, len(rows), resume, err)
		}
	}
}
