package dbsqlc

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver
)

// TestHotQueriesUseTheirIndexes reads the query plans of the claim batch, of
// the batch record of sends and of the per-user reads: none may scan a table,
// sort, or walk an index that grows with the table (the status index holds every scheduled reminder,
// not just the due ones; a template's reminders are every user's).
func TestHotQueriesUseTheirIndexes(t *testing.T) {
	ctx := context.Background()
	// A database with the schema the migrations make (schema.sql; the
	// driver's tests hold the two equal).
	w, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "plan.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	schema, err := os.ReadFile("../../../schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.ExecContext(ctx, string(schema)); err != nil {
		t.Fatal(err)
	}
	// Statistics that make the status index tempting for ClaimReminders.
	if _, err := w.ExecContext(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	openids := `["o"]`
	for name, c := range map[string]struct {
		sql  string
		args []any
		want []string
	}{
		"DueReminders":   {dueReminders, []any{int64(1), int64(10)}, []string{"reminders_due"}},
		"LedgerFor":      {ledgerFor, []any{"wxa", openids, "t"}, []string{"PRIMARY KEY (appid=? AND openid=? AND template_id=?)"}},
		"TakeCredits":    {takeCredits, []any{int64(1), "wxa", openids, "t"}, []string{"PRIMARY KEY (appid=? AND openid=? AND template_id=?)"}},
		"ClaimReminders": {claimReminders, []any{int64(1), "owner", `[]`, int64(1), int64(0), `["rem_x"]`}, []string{"sqlite_autoindex_reminders_1 (id=?)"}},
		// Recording a batch of sends.
		"PendingSentEvents": {pendingSentEvents, []any{`[1]`}, []string{"pending_sent_events USING INTEGER PRIMARY KEY (rowid=?)"}},
		// Each claim looked up by its key: the id index or (fire_at, id).
		"CompleteSentReminders": {completeSentReminders, []any{int64(1), `[["rem_x",1,1]]`, "owner"}, []string{"SEARCH reminders USING", "id=?)"}},
		// A user's own reminders come from the user's index, in its order.
		"ListUserReminders":      {listUserReminders, []any{"o", "", "", "", "", int64(0), int64(9), int64(0), "", int64(20)}, []string{"reminders_owner (openid=?"}},
		"CountAheadOfReminder":   {countAheadOfReminder, []any{"o", "wxa", "t", int64(5), "r"}, []string{"reminders_owner (openid=?"}},
		"CountScheduledForOwner": {countScheduledForOwner, []any{"o"}, []string{"COVERING INDEX reminders_user_scheduled (openid=?"}},
		"ListScheduledForPrompt": {listScheduledForPrompt, []any{"o", "wxa", int64(20)}, []string{"reminders_owner (openid=?"}},
		"ListStatusReminders": {listStatusReminders, []any{"failed", int64(0), int64(9), "", "", "", int64(0), "", int64(9), "z", int64(20)},
			[]string{"reminders_status (status=? AND fire_at>?"}},
		// Where a template-filtered page stops reading: from the index alone.
		"ListStatusRemindersWalkEnd": {listStatusRemindersWalkEnd, []any{"failed", int64(0), int64(9), int64(0), "", int64(4999)},
			[]string{"COVERING INDEX reminders_status (status=? AND fire_at>?"}},
		"ListRemindersWalkEnd": {listRemindersWalkEnd, []any{int64(0), int64(9), int64(0), "", int64(4999)},
			[]string{"COVERING INDEX reminders_fire (fire_at>?"}},
		"GetReminderByIdempotencyKey": {getReminderByIdempotencyKey, []any{"o", "k"}, []string{"reminders_idempotency (openid=? AND idempotency_key=?)"}},
		"ListReminders":               {listReminders, []any{int64(0), int64(9), "", "", "", int64(0), "", int64(9), "z", int64(20)}, []string{"reminders_fire (fire_at>?"}},
	} {
		rows, err := w.QueryContext(ctx, "EXPLAIN QUERY PLAN "+c.sql, c.args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		text := strings.Join(plan, "\n")
		for _, w := range c.want {
			if !strings.Contains(text, w) {
				t.Errorf("%s: plan does not use %q:\n%s", name, w, text)
			}
		}
		for _, p := range plan {
			if strings.HasPrefix(p, "SCAN") && !strings.Contains(p, "VIRTUAL TABLE") || strings.Contains(p, "TEMP B-TREE") ||
				strings.Contains(p, "reminders_status") && !strings.HasPrefix(name, "ListStatusReminders") {
				t.Errorf("%s: plan step %q grows with the table:\n%s", name, p, text)
			}
		}
	}
}
