package dbcopy_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/db/pgtest"
	"github.com/reminderd/reminderd/internal/db/postgres"
	"github.com/reminderd/reminderd/internal/dbcopy"
	"github.com/reminderd/reminderd/internal/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var t0 = time.UnixMilli(1_800_000_000_000)

// schemaTables are the tables schema.sql creates, in its order.
func schemaTables(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("../../schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile(`(?m)^CREATE TABLE (\w+)`).FindAllStringSubmatch(string(src), -1) {
		out = append(out, m[1])
	}
	if len(out) < 10 {
		t.Fatalf("schema.sql: found only tables %v", out)
	}
	return out
}

// Data JSON written as a client may send it: spacing, key order, escapes
// and characters outside ASCII must come back byte for byte.
var oddJSON = []string{
	`{"thing1":"x"}`,
	`{ "z" : "last" , "a":"first","time2":"2026-12-01 09:00" }`,
	`{"thing1":"会议 \u4f1a\u8bae \"quoted\" \\ / \t","emoji":"😀"}`,
	"{\n  \"thing1\": \"multi\\nline\"\n}",
	`{"n":1.50,"big":12345678901234567890,"nested":{"b":[1,2,{"c":null}]}}`,
}

// populate makes a SQLite database with rows in every table: through the
// driver's store operations, and a few raw rows with edge values.
func populate(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(d.SyncTemplates(ctx, []store.Template{
		{ID: "tplA", Title: "会议提醒", Kind: store.KindOneTime, Content: "会议：{{thing1.DATA}}",
			Keywords: []store.Keyword{{Key: "thing1", Type: "thing", Label: "会议"}}},
		{ID: "tplL", Title: "Long", Kind: store.KindLongTerm, Content: "{{phrase1.DATA}}",
			Keywords: []store.Keyword{{Key: "phrase1", Type: "phrase", Label: "状态", Enum: []string{"开始", "结束"}}}},
		{ID: "tplGone", Title: "Gone", Kind: store.KindOneTime, Content: "x"},
	}, t0))
	// tplGone disappears from WeChat's list: present = 0.
	must(d.SyncTemplates(ctx, []store.Template{
		{ID: "tplA", Title: "会议提醒", Kind: store.KindOneTime, Content: "会议：{{thing1.DATA}}",
			Keywords: []store.Keyword{{Key: "thing1", Type: "thing", Label: "会议"}}},
		{ID: "tplL", Title: "Long", Kind: store.KindLongTerm, Content: "{{phrase1.DATA}}",
			Keywords: []store.Keyword{{Key: "phrase1", Type: "phrase", Label: "状态", Enum: []string{"开始", "结束"}}}},
	}, t0.Add(time.Minute)))
	users := []string{"oU1", "oU2", "oU3", "oU4"}
	for i, u := range users {
		// A client report and the popup event of the same accept: paired
		// (the earlier grant refers to the later one).
		_, err := d.RecordAccept(ctx, "", u, "tplA", false, store.SourceClient, t0.Add(time.Duration(i)*time.Second))
		must(err)
		_, err = d.RecordAccept(ctx, "", u, "tplA", false, store.SourceEvent, t0.Add(time.Duration(i)*time.Second+500*time.Millisecond))
		must(err)
		_, err = d.RecordAccept(ctx, "", u, "tplA", false, store.SourceClient, t0.Add(time.Hour))
		must(err)
	}
	_, err = d.RecordAccept(ctx, "", "oU1", "tplL", true, store.SourceEvent, t0)
	must(err)
	must(d.SetConsentStatus(ctx, "", "oU4", "tplA", store.ConsentReject, t0.Add(2*time.Hour)))
	for i, u := range users {
		h := sha256.Sum256([]byte(u))
		must(d.CreateSession(ctx, store.Session{TokenHash: fmt.Sprintf("%x", h), OpenID: u, CreatedAt: t0,
			ExpiresAt: t0.Add(time.Duration(i+1) * time.Hour)}))
	}
	must(d.SaveToken(ctx, store.Token{Value: "ACCESS_TOKEN_VALUE", ExpiresAt: t0.Add(2 * time.Hour)}, t0))
	must(d.SetPause(ctx, store.Pause{Name: "quota", Until: t0.Add(3 * time.Hour), Reason: "daily quota reached", Since: t0}))
	must(d.SetPause(ctx, store.Pause{Name: "admin", Until: store.PauseIndefinite, Reason: "", Since: t0}))
	for i := range 30 {
		r := store.NewReminder{ID: fmt.Sprintf("r%02d", i), OpenID: users[i%len(users)], TemplateID: "tplA",
			FireAt: t0.Add(time.Duration(i) * time.Minute), Timezone: "Asia/Shanghai", Data: oddJSON[i%len(oddJSON)],
			CreatedAt: t0.Add(-time.Hour)}
		switch i % 5 {
		case 1:
			r.TemplateID, r.Recurrence = "tplL", "FREQ=DAILY"
			r.OpenID = "oU1"
		case 2:
			r.ExpiresAt, r.Window, r.HasWindow = r.FireAt.Add(time.Hour), time.Hour, true
		case 3:
			r.IdempotencyKey, r.RequestHash, r.Page = fmt.Sprintf("key-%d", i), fmt.Sprintf("%064x", i), "pages/x?id=1"
		}
		_, err := d.CreateReminder(ctx, r)
		must(err)
	}
	must(d.CancelReminder(ctx, "r29", t0))
	kinds := map[string]store.TemplateKind{"tplA": store.KindOneTime, "tplL": store.KindLongTerm}
	claims, err := d.ClaimDue(ctx, store.ClaimParams{Now: t0.Add(12 * time.Minute), LeaseUntil: t0.Add(20 * time.Minute), Owner: "p1",
		Max: 10, Kind: func(_, id string) (store.TemplateKind, bool) { k, ok := kinds[id]; return k, ok }})
	must(err)
	if len(claims) < 8 {
		t.Fatalf("claimed %d", len(claims))
	}
	for i, c := range claims[:len(claims)-1] { // the last stays sending, its lease held
		at := t0.Add(13 * time.Minute)
		o := store.Outcome{Claim: c, At: at}
		switch i % 3 {
		case 0:
			o.Delivery = &store.Delivery{Status: store.DeliverySent, ErrCode: 0, HasErrCode: true, MsgID: int64(1000 + i), HasMsgID: true,
				Latency: 42 * time.Millisecond, HasLatency: true}
			o.Complete = &store.Completion{Status: store.StatusSent}
			if c.Reminder.Recurrence != "" {
				next := c.Reminder.FireAt.Add(24 * time.Hour)
				o.Complete, o.Reschedule = nil, &store.Reschedule{FireAt: next, DueAt: next}
			}
		case 1:
			o.Delivery = &store.Delivery{Status: store.DeliveryRetry, ErrCode: -1, HasErrCode: true, ErrMsg: "system busy ‘’"}
			o.Reschedule = &store.Reschedule{FireAt: c.Reminder.FireAt, DueAt: at.Add(time.Minute), Attempts: c.Reminder.Attempts}
			o.Credit = store.CreditRefund
		case 2:
			o.Delivery = &store.Delivery{Status: store.DeliveryFailed, ErrCode: 40003, HasErrCode: true, ErrMsg: "invalid openid"}
			o.Complete = &store.Completion{Status: store.StatusFailed, Reason: store.ReasonOpenIDInvalid}
			o.Credit = store.CreditRefund
		}
		_, err := d.RecordOutcome(ctx, o)
		must(err)
	}
	// A sent event for a delivery on record, one for a message not yet
	// recorded (parked), and a popup.
	_, err = d.ApplyPushEvent(ctx, store.PushEvent{At: t0.Add(14 * time.Minute), BodyHash: strings.Repeat("a", 64), OpenID: "oU1",
		Sent: []store.SentEvent{{MsgID: 1000, Delivered: true, Status: "success", TemplateID: "tplA"}}})
	must(err)
	_, err = d.ApplyPushEvent(ctx, store.PushEvent{At: t0.Add(15 * time.Minute), BodyHash: strings.Repeat("b", 64), Query: "1800000000:nonce",
		OpenID: "oU2", Sent: []store.SentEvent{{MsgID: 777777, Delivered: false, Status: "failed:user block", TemplateID: "tplA"}}})
	must(err)
	_, err = d.ApplyPushEvent(ctx, store.PushEvent{At: t0.Add(16 * time.Minute), BodyHash: strings.Repeat("c", 64), OpenID: "oU3",
		Answers: []store.ConsentAnswer{{TemplateID: "tplA", Accept: true}, {TemplateID: "tplL", LongTerm: true, Accept: false}}})
	must(err)

	// Raw rows with edge values, in every table.
	raw := []string{
		`INSERT INTO sessions (token_hash, openid, created_at, expires_at) VALUES ('` + strings.Repeat("f", 64) + `', 'o''quote', 1, 9223372036854775807)`,
		`INSERT INTO templates (id, title, kind, content, keywords, position, present, synced_at) VALUES ('tplRaw', '', 'one_time', 'line1
line2	tab', '[ ]', -3, 0, 0)`,
		`INSERT INTO consents (appid, openid, template_id, credits, status, long_term, updated_at, zeroed_at) VALUES ('', 'oRaw', 'tplRaw', 0, 'refused', 1, -1, 9223372036854775807)`,
		`INSERT INTO consent_grants (id, appid, openid, template_id, source, received_at, paired_with) VALUES (5001, '', 'oRaw', 'tplRaw', 'client', 1, NULL)`,
		`INSERT INTO consent_grants (id, appid, openid, template_id, source, received_at, paired_with) VALUES (5000, '', 'oRaw', 'tplRaw', 'event', 0, 5001)`,
		`INSERT INTO reminders (id, openid, template_id, status, reason, fire_at, due_at, expires_at, window_ms, recurrence, timezone, data,
			page, attempts, lease_until, lease_owner, idempotency_key, request_hash, created_at, updated_at, credit_held, unknown_at, delivery)
			VALUES ('rRaw', 'oRaw', 'tplRaw', 'skipped', 'expired', -5, -5, -5, 0, '', 'UTC', '{"k":"v" }', '', 0, NULL, NULL, NULL, NULL,
			0, 0, 1, 7, 'unknown')`,
		`INSERT INTO deliveries (id, reminder_id, occurrence_at, attempt, status, errcode, errmsg, msgid, started_at, finished_at,
			latency_ms, delivered, event_status, possible_duplicate) VALUES (9000, 'rRaw', -5, 1, 'abandoned', NULL, '', NULL, 0, NULL, NULL, NULL, '', 1)`,
		`INSERT INTO deliveries (id, reminder_id, occurrence_at, attempt, status, errcode, errmsg, msgid, started_at, finished_at,
			latency_ms, delivered, event_status, possible_duplicate) VALUES (9001, 'rRaw', -5, 2, 'sent', 0, 'ok', 9223372036854775807, 1, 2, 1, 0, 'failed:x', 0)`,
		`INSERT INTO pending_sent_events (msgid, delivered, event_status, received_at, openid, template_id, appid) VALUES (-1, 1, 'success', 3, '', '', '')`,
		`INSERT INTO push_seen (key, body_hash, seen_at) VALUES ('q:1:2', '', 4)`,
		`INSERT INTO pauses (name, until, reason, updated_at) VALUES ('raw', -1, 'why ''not''', 5)`,
		`INSERT INTO consents (appid, openid, template_id, credits, status, long_term, updated_at, setting, audio) VALUES ('', 'oRaw', 'tplSet', 2, 'accept', 0, 7, 'ban', 1)`,
		`INSERT INTO consent_settings (appid, openid, main_switch, updated_at) VALUES ('', 'oRaw', 0, 8)`,
		`UPDATE reminders SET snoozed = 1, series_at = 86400000 WHERE id = 'rRaw'`,
		`INSERT INTO snoozes (appid, openid, idempotency_key, request_hash, reminder_id, created_at) VALUES ('', 'oRaw', 'k ✓', 'h', 'rRaw', 9)`,
		`DELETE FROM wechat_token`,
		`INSERT INTO wechat_token (appid, value, expires_at, updated_at) VALUES ('', 'TOKEN ✓', 9223372036854775807, 6)`,
	}
	// The fleet's tables, where this schema has them: a lease, a process,
	// a send in flight, as a stopped service may leave them.
	for table, q := range map[string]string{
		"leader":     `INSERT INTO leader (name, holder, elected_at, expires_at) VALUES ('jobs', 'host-1', 1, 2)`,
		"instances":  `INSERT INTO instances (id, host, started_at, last_seen_at) VALUES ('host-1', 'vm1', 1, 2)`,
		"user_sends": `INSERT INTO user_sends (openid, holder, until) VALUES ('oU1', 'host-1', 3)`,
		"events": `INSERT INTO events (id, openid, title, location, start_at, end_at, expires_at, timezone, page, external_ref,
			leads, templates, canceled_at, idempotency_key, request_hash, created_at, updated_at)
			VALUES ('evtRaw', 'oRaw', '评审会', '', 10, NULL, 11, 'UTC', '', 'ref "1"', '["PT0S"]',
			'[{"template_id":"tplRaw","data":{"k":"{title}"}}]', 12, 'k', 'h', 1, 2)`,

		"webhook_outbox": `INSERT INTO webhook_outbox (id, appid, type, reminder_id, openid, payload, body, state, attempts, next_at,
			lease_owner, lease_until, last_status, last_error, created_at, updated_at, delivered_at)
			VALUES ('evt_raw', 'wxapp', 'reminder.failed', 'rRaw', 'oRaw', '{"delivery":{"attempt":1}}', '{"id":"evt_raw"}', 'dead', 31,
			9223372036854775807, '', 0, 503, 'answered 503 ''Service Unavailable''', -1, 2, NULL)`,
	} {
		var n int
		if err := d.W.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?", table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			raw = append(raw, q)
		}
	}
	for _, q := range raw {
		if _, err := d.W.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// columnsOf lists table's columns in the SQLite file.
func columnsOf(t *testing.T, sdb *sql.DB, table string) string {
	t.Helper()
	rows, err := sdb.Query("SELECT name FROM pragma_table_info(?) ORDER BY cid", table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, `"`+n+`"`)
	}
	return strings.Join(names, ", ")
}

// sqliteRows reads every row of table from the SQLite file, in primary
// key order, each value as the driver gives it.
func sqliteRows(t *testing.T, sdb *sql.DB, table, cols, order string) [][]any {
	t.Helper()
	rows, err := sdb.Query("SELECT " + cols + " FROM " + table + " ORDER BY " + order)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	names, _ := rows.Columns()
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func pgRows(t *testing.T, c *pgx.Conn, table, cols, order string) [][]any {
	t.Helper()
	rows, err := c.Query(context.Background(), "SELECT "+cols+" FROM "+table+" ORDER BY "+order)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// primaryKeys orders each table's rows for comparison.
var primaryKeys = map[string]string{
	"sessions": "token_hash", "templates": "id", "consents": "openid, template_id", "consent_grants": "id",
	"reminders": "id", "deliveries": "id", "pending_sent_events": "msgid", "wechat_token": "appid", "push_seen": "key",
	"pauses": "name", "leader": "name", "instances": "id", "user_sends": "openid", "events": "id", "webhook_outbox": "id",
	"consent_settings": "openid", "snoozes": "openid, idempotency_key",
}

func openSQLite(t *testing.T, path string) *sql.DB {
	t.Helper()
	s, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// A populated deployment is copied whole: every table of schema.sql with
// all its rows, value for value; the PostgreSQL store then reads what the
// SQLite store did, and new rows take new ids.
func TestCopyWholeDeployment(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "reminderd.db")
	populate(t, path)
	sum := fileSum(t, path)
	url := pgtest.Database(t)

	res, err := dbcopy.Copy(ctx, path, url)
	if err != nil {
		t.Fatal(err)
	}
	if fileSum(t, path) != sum {
		t.Error("the copy changed the source file")
	}
	if res.Version != postgres.LatestVersion() || strings.Contains(res.Target, "@") {
		t.Errorf("result %+v", res)
	}
	src := openSQLite(t, path)
	pg := connect(t, url)

	// Every table of schema.sql was copied, with rows (the fixture fills
	// every table: a table added to the schema fails here until it does,
	// and until the copy carries it).
	copied := map[string]int64{}
	for _, tb := range res.Tables {
		copied[tb.Name] = tb.Rows
	}
	tables := schemaTables(t)
	for _, name := range tables {
		n, ok := copied[name]
		if !ok {
			t.Errorf("table %s of schema.sql was not copied", name)
			continue
		}
		var s, p int64
		if err := src.QueryRow("SELECT count(*) FROM " + name).Scan(&s); err != nil {
			t.Fatal(err)
		}
		if err := pg.QueryRow(ctx, "SELECT count(*) FROM "+name).Scan(&p); err != nil {
			t.Fatal(err)
		}
		if s == 0 {
			t.Errorf("table %s has no row in the test's database: add one to populate (and its key to primaryKeys)", name)
		}
		if s != p || s != n {
			t.Errorf("%s: SQLite %d rows, PostgreSQL %d, reported %d", name, s, p, n)
		}
	}
	if len(res.Tables) != len(tables) {
		t.Errorf("copied tables %v, schema.sql has %v", res.Tables, tables)
	}

	// Column by column, every row.
	for _, name := range tables {
		order, ok := primaryKeys[name]
		if !ok {
			t.Errorf("no primary key known for %s (add it to primaryKeys)", name)
			continue
		}
		cols := columnsOf(t, src, name)
		sr, pr := sqliteRows(t, src, name, cols, order), pgRows(t, pg, name, cols, order)
		if len(sr) != len(pr) {
			t.Errorf("%s: %d rows vs %d", name, len(sr), len(pr))
			continue
		}
		for i := range sr {
			for j := range sr[i] {
				s, p := sr[i][j], pr[i][j]
				if b, ok := p.(bool); ok { // a 0/1 flag became a BOOLEAN
					p = int64(0)
					if b {
						p = int64(1)
					}
				}
				if !reflect.DeepEqual(s, p) {
					t.Errorf("%s row %d column %d: SQLite %#v, PostgreSQL %#v", name, i, j, sr[i][j], pr[i][j])
				}
			}
		}
	}
	// The data JSON byte for byte, the odd ones included.
	var datas []string
	rows, _ := pg.Query(ctx, "SELECT data FROM reminders")
	datas, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range oddJSON {
		if !slices.Contains(datas, j) {
			t.Errorf("data %q not found byte for byte", j)
		}
	}

	// Through the stores: the PostgreSQL store reads what the SQLite one did.
	sq, err := db.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	ps, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	compareStores(t, sq, ps)

	// New rows after the copy take ids past the copied ones.
	var maxGrant, maxDelivery int64
	if err := pg.QueryRow(ctx, "SELECT max(id) FROM consent_grants").Scan(&maxGrant); err != nil {
		t.Fatal(err)
	}
	if err := pg.QueryRow(ctx, "SELECT max(id) FROM deliveries").Scan(&maxDelivery); err != nil {
		t.Fatal(err)
	}
	if _, err := ps.RecordAccept(ctx, "", "oNew", "tplA", false, store.SourceClient, t0.Add(3*time.Hour)); err != nil {
		t.Fatalf("an accept after the copy: %v", err)
	}
	kinds := func(string, string) (store.TemplateKind, bool) { return store.KindOneTime, true }
	_, err = ps.CreateReminder(ctx, store.NewReminder{ID: "rNew", OpenID: "oNew", TemplateID: "tplA", FireAt: t0.Add(100 * 24 * time.Hour),
		Timezone: "UTC", Data: `{}`, CreatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := ps.ClaimDue(ctx, store.ClaimParams{Now: t0.Add(100 * 24 * time.Hour), LeaseUntil: t0.Add(101 * 24 * time.Hour), Owner: "p2", Max: 100, Kind: kinds})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if _, err := ps.RecordOutcome(ctx, store.Outcome{Claim: c, At: c.ClaimedAt, Delivery: &store.Delivery{Status: store.DeliveryFailed, ErrCode: 40003, HasErrCode: true},
			Complete: &store.Completion{Status: store.StatusFailed, Reason: store.ReasonOpenIDInvalid}, Credit: store.CreditRefund}); err != nil {
			t.Fatalf("an outcome after the copy: %v", err)
		}
	}
	var g, dl int64
	if err := pg.QueryRow(ctx, "SELECT min(id) FROM consent_grants WHERE openid = 'oNew'").Scan(&g); err != nil || g <= maxGrant {
		t.Errorf("the new grant's id %d (%v), the largest copied %d", g, err, maxGrant)
	}
	if err := pg.QueryRow(ctx, "SELECT min(id) FROM deliveries WHERE reminder_id = 'rNew'").Scan(&dl); err != nil || dl <= maxDelivery {
		t.Errorf("the new delivery's id %d (%v), the largest copied %d", dl, err, maxDelivery)
	}
}

// compareStores reads the reminders, deliveries, consent ledger, sessions,
// templates, token and pauses through both stores.
func compareStores(t *testing.T, a, b store.Store) {
	t.Helper()
	ctx := context.Background()
	same := func(what string, x, y any, ex, ey error) {
		t.Helper()
		if ex != nil || ey != nil {
			t.Errorf("%s: errors %v / %v", what, ex, ey)
			return
		}
		if !reflect.DeepEqual(x, y) {
			t.Errorf("%s differ:\nSQLite     %+v\nPostgreSQL %+v", what, x, y)
		}
	}
	page := func(s store.Store) ([]store.Reminder, error) {
		var all []store.Reminder
		q := store.ListQuery{Limit: 7}
		for {
			p, err := s.ListReminders(ctx, q)
			if err != nil {
				return nil, err
			}
			all = append(all, p.Reminders...)
			if p.Next == nil {
				return all, nil
			}
			q.After = p.Next
		}
	}
	ra, ea := page(a)
	rb, eb := page(b)
	same("the listing of every reminder", ra, rb, ea, eb)
	if len(ra) < 31 {
		t.Fatalf("listed %d reminders", len(ra))
	}
	for _, r := range ra {
		x, ex := a.GetReminder(ctx, r.ID)
		y, ey := b.GetReminder(ctx, r.ID)
		same("reminder "+r.ID, x, y, ex, ey)
		dx, ex := a.ListDeliveries(ctx, r.ID)
		dy, ey := b.ListDeliveries(ctx, r.ID)
		same("deliveries of "+r.ID, dx, dy, ex, ey)
	}
	ca, ea := a.CountReminders(ctx, t0.Add(time.Hour))
	cb, eb := b.CountReminders(ctx, t0.Add(time.Hour))
	same("counts", ca, cb, ea, eb)
	for _, u := range []string{"oU1", "oU2", "oU3", "oU4", "oRaw"} {
		x, ex := a.ListConsents(ctx, "", u)
		y, ey := b.ListConsents(ctx, "", u)
		same("the consent ledger of "+u, x, y, ex, ey)
		if len(x) == 0 {
			t.Errorf("no ledger for %s", u)
		}
		h := sha256.Sum256([]byte(u))
		sx, ex := a.GetSession(ctx, fmt.Sprintf("%x", h), t0)
		sy, ey := b.GetSession(ctx, fmt.Sprintf("%x", h), t0)
		if u != "oRaw" {
			same("the session of "+u, sx, sy, ex, ey)
		}
		px, ex := a.ListPrompted(ctx, "", u, 10)
		py, ey := b.ListPrompted(ctx, "", u, 10)
		same("the prompt of "+u, px, py, ex, ey)
	}
	ta, ea := a.Templates(ctx)
	tb, eb := b.Templates(ctx)
	same("templates", ta, tb, ea, eb)
	ka, ea := a.LoadToken(ctx)
	kb, eb := b.LoadToken(ctx)
	same("token", ka, kb, ea, eb)
	for _, n := range []string{"quota", "admin", "raw"} {
		x, ex := a.Pause(ctx, n)
		y, ey := b.Pause(ctx, n)
		same("pause "+n, x, y, ex, ey)
	}
	na, ea := a.NextDueAt(ctx)
	nb, eb := b.NextDueAt(ctx)
	same("next due", na, nb, ea, eb)
	// The parked sent event is found on both.
	ea1, ex := a.PendingSentEvent(ctx, "", "oU2", "tplA", t0)
	eb1, ey := b.PendingSentEvent(ctx, "", "oU2", "tplA", t0)
	same("the parked sent event", ea1, eb1, ex, ey)
	// A push applied before is a duplicate on both.
	pe := store.PushEvent{At: t0.Add(time.Hour), BodyHash: strings.Repeat("a", 64), OpenID: "oU1"}
	xa, ex := a.ApplyPushEvent(ctx, pe)
	xb, ey := b.ApplyPushEvent(ctx, pe)
	same("a push applied before", xa, xb, ex, ey)
	if !xa.Duplicate {
		t.Errorf("the push was not a duplicate: %+v", xa)
	}
}

// tableCounts counts every table of the current schema of url.
func tableCounts(t *testing.T, c *pgx.Conn) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	rows, err := c.Query(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, n := range names {
		var k int64
		if err := c.QueryRow(ctx, "SELECT count(*) FROM "+n).Scan(&k); err != nil {
			t.Fatal(err)
		}
		out[n] = k
	}
	return out
}

// A target holding rows is refused, named, and left as it was.
func TestCopyRefusesANonEmptyTarget(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "reminderd.db")
	populate(t, path)
	for _, tc := range []struct {
		name string
		fill func(s *postgres.DB) error
		want string
	}{
		{"migrated, empty", func(*postgres.DB) error { return nil }, ""},
		{"reminders", func(s *postgres.DB) error {
			_, err := s.CreateReminder(ctx, store.NewReminder{ID: "keep", OpenID: "oX", TemplateID: "tplA", FireAt: t0, Timezone: "UTC", Data: `{}`, CreatedAt: t0})
			return err
		}, "reminders (1 rows)"},
		{"only a pause", func(s *postgres.DB) error {
			return s.SetPause(ctx, store.Pause{Name: "admin", Until: store.PauseIndefinite, Since: t0})
		}, "pauses (1 rows)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := pgtest.Database(t)
			s, err := postgres.Open(ctx, url, postgres.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.fill(s); err != nil {
				t.Fatal(err)
			}
			s.Close()
			c := connect(t, url)
			before := tableCounts(t, c)
			_, err = dbcopy.Copy(ctx, path, url)
			if tc.want == "" { // a target migrated by serve but empty is filled
				if err != nil {
					t.Fatalf("copy onto an empty migrated target: %v", err)
				}
				if n := tableCounts(t, c); n["reminders"] != 30+1 {
					t.Fatalf("the empty migrated target after the copy: %v", n)
				}
				return
			}
			if !errors.Is(err, dbcopy.ErrNotEmpty) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("copy onto a non-empty target: %v, want ErrNotEmpty naming %q", err, tc.want)
			}
			if after := tableCounts(t, c); !reflect.DeepEqual(before, after) {
				t.Fatalf("the target changed: %v, then %v", before, after)
			}
		})
	}
}

// A source that does not exist is refused, and not created.
func TestCopyRefusesAMissingSource(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.db")
	url := pgtest.Database(t)
	_, err := dbcopy.Copy(context.Background(), path, url)
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("copy from a missing file: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the missing source was created: %v", err)
	}
	if n := tableCounts(t, connect(t, url)); len(n) != 0 {
		t.Fatalf("the target got tables: %v", n)
	}
}

// A SQLite file at an older schema version is refused (reminderd migrate
// first), and left at its version.
func TestCopyRefusesAnOlderSource(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	s, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := db.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:len(ms)-1] {
		if _, err := s.Exec(m.SQL); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Exec(fmt.Sprintf("PRAGMA user_version = %d", m.Version)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	sum := fileSum(t, path)
	url := pgtest.Database(t)
	_, err = dbcopy.Copy(context.Background(), path, url)
	if err == nil || !strings.Contains(err.Error(), "reminderd migrate --db "+path) {
		t.Fatalf("copy from an older file: %v", err)
	}
	if fileSum(t, path) != sum {
		t.Fatal("the refused source changed")
	}
	// A file that is not a reminderd database at all.
	empty := filepath.Join(t.TempDir(), "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := dbcopy.Copy(context.Background(), empty, url); err == nil || !strings.Contains(err.Error(), "not a reminderd database") {
		t.Fatalf("copy from an empty file: %v", err)
	}
	if n := tableCounts(t, connect(t, url)); len(n) != 0 {
		t.Fatalf("the target got tables: %v", n)
	}
}

// A copy that fails part way leaves nothing: not the rows copied before
// the failure, not the schema.
func TestCopyIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "reminderd.db")
	populate(t, path)
	// A delivery of no reminder, which SQLite let in with its foreign keys
	// off: the target's foreign key refuses it, after every table was
	// copied.
	s, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(0)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Exec(`INSERT INTO deliveries (id, reminder_id, occurrence_at, attempt, status, started_at) VALUES (99999, 'ghost', 0, 1, 'sent', 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	url := pgtest.Database(t)
	_, err = dbcopy.Copy(ctx, path, url)
	if err == nil || !strings.Contains(err.Error(), "foreign key") {
		t.Fatalf("copy of an orphan delivery: %v", err)
	}
	if n := tableCounts(t, connect(t, url)); len(n) != 0 {
		t.Fatalf("the failed copy left tables: %v", n)
	}
}

// The files a crashed service leaves (the database with its -wal and
// -shm, commits not yet checkpointed) copy whole: the read-only open
// reads the WAL.
func TestCopyReadsTheWAL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	live := filepath.Join(dir, "live.db")
	d, err := db.Open(ctx, live)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for i := range 50 {
		if _, err := d.CreateReminder(ctx, store.NewReminder{ID: fmt.Sprintf("w%d", i), OpenID: "oW", TemplateID: "tplA", FireAt: t0,
			Timezone: "UTC", Data: `{}`, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	crashed := filepath.Join(dir, "crashed.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(live + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(crashed+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Stat(crashed + "-wal"); err != nil || fi.Size() == 0 {
		t.Logf("the WAL is empty (checkpointed already): %v", err)
	}
	res, err := dbcopy.Copy(ctx, crashed, pgtest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range res.Tables {
		if tb.Name == "reminders" && tb.Rows != 50 {
			t.Fatalf("copied %d reminders, want 50", tb.Rows)
		}
	}
}

// A process writing the target meanwhile (a serve not stopped) fails the
// copy after the lock timeout, saying so, instead of mixing its rows in.
func TestCopyRefusesATargetInUse(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "reminderd.db")
	populate(t, path)
	url := pgtest.Database(t)
	s, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	other := connect(t, url)
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "INSERT INTO pauses (name, until, reason, updated_at) VALUES ('x', 1, '', 1)"); err != nil {
		t.Fatal(err)
	}
	old := dbcopy.LockTimeout
	dbcopy.LockTimeout = 200 * time.Millisecond
	defer func() { dbcopy.LockTimeout = old }()
	_, err = dbcopy.Copy(ctx, path, url)
	if err == nil || !strings.Contains(err.Error(), "stop every reminderd serve") {
		t.Fatalf("copy onto a target being written: %v", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n := tableCounts(t, other); n["reminders"] != 0 || n["pauses"] != 0 {
		t.Fatalf("the target after the refused copy: %v", n)
	}
}
