package db_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

func TestOpenRefusesACorruptDatabase(t *testing.T) {
	path := testkit.CorruptFile(t)
	_, err := db.OpenWith(context.Background(), path, db.Options{IntegrityTimeout: 30 * time.Second})
	if !errors.Is(err, db.ErrCorrupt) {
		t.Fatalf("open of a corrupt file: %v, want ErrCorrupt", err)
	}
	for _, want := range []string{path, "quick_check", "backup"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

func TestIntegrityCheckIsBoundedInTime(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ok.db")
	d, err := db.OpenWith(ctx, path, db.Options{IntegrityTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if d.Integrity() != store.IntegrityOK {
		t.Errorf("integrity of a sound file: %v", d.Integrity())
	}
	d.Close()
	// A deadline that has passed when the check starts interrupts it: the
	// open goes on and says the check did not finish.
	d, err = db.OpenWith(ctx, path, db.Options{IntegrityTimeout: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Integrity() != store.IntegrityUnfinished {
		t.Errorf("integrity after an interrupted check: %v", d.Integrity())
	}
}

// fillUp caps the writer at the pages it has and writes until SQLite
// answers SQLITE_FULL: a full database in a real file.
func fillUp(t *testing.T, d *db.DB) (pages int64) {
	t.Helper()
	ctx := context.Background()
	if err := d.W.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := d.W.ExecContext(ctx, `PRAGMA max_page_count = `+itoa(pages+2)); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		err := d.Write.CreateSession(ctx, sessionParams(i))
		if db.IsFull(err) { // not noted: the probe must find it alone
			return pages
		}
		if err != nil {
			t.Fatal(err)
		}
		if i > 10000 {
			t.Fatal("the database never became full")
		}
	}
}

func TestWritableFailsWhileTheDatabaseIsFullAndRecovers(t *testing.T) {
	ctx := context.Background()
	clock := wechattest.NewClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	d := testkit.SQLiteWith(t, db.Options{Now: clock.Now})
	if err := d.Writable(ctx); err != nil {
		t.Fatalf("fresh database not writable: %v", err)
	}
	pages := fillUp(t, d)
	if err := d.Writable(ctx); err != nil {
		t.Fatalf("a probe ran again within ProbeEvery: %v", err)
	}
	clock.Advance(db.ProbeEvery)
	err := d.Writable(ctx)
	if !db.IsFull(err) {
		t.Fatalf("writable while full: %v", err)
	}
	// Reads still work.
	if _, err := d.Read.CountRemindersByStatus(ctx); err != nil {
		t.Fatalf("read while full: %v", err)
	}
	// Space returns: after ProbeEvery the probe commits a real write and
	// readiness comes back; within ProbeEvery the cached answer stands.
	if _, err := d.W.ExecContext(ctx, `PRAGMA max_page_count = `+itoa(pages+1000)); err != nil {
		t.Fatal(err)
	}
	if err := d.Writable(ctx); err == nil {
		t.Fatal("a probe ran again within ProbeEvery")
	}
	clock.Advance(db.ProbeEvery)
	if err := d.Writable(ctx); err != nil {
		t.Fatalf("writable after space returned: %v", err)
	}
	if err := d.Write.CreateSession(ctx, sessionParams(100000)); err != nil {
		t.Fatalf("write after space returned: %v", err)
	}
	// The probe left nothing behind.
	var n int
	if err := d.R.QueryRowContext(ctx, `SELECT count(*) FROM consent_grants`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("probe rows left: %d %v", n, err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func sessionParams(i int) dbsqlc.CreateSessionParams {
	return dbsqlc.CreateSessionParams{TokenHash: fmt.Sprintf("%064x", i), Openid: "o-full", CreatedAt: 1, ExpiresAt: 2}
}
