package testkit

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/db/pgtest"
	"github.com/reminderd/reminderd/internal/db/postgres"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// T0 is the instant the tests' clocks start at.
var T0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// Clock returns a clock standing at T0, moved only by its Advance.
func Clock() *wechattest.Clock { return wechattest.NewClock(T0) }

// EnvStore names the environment variable that picks the store the tests
// of the API, the services and the engine run against: "postgres" for a
// fresh PostgreSQL database per test (pgtest.Database; the package needs
// pgtest.Main as its TestMain), anything else (the default) a SQLite file.
const EnvStore = "REMINDERD_TEST_STORE"

// OnPostgres reports whether Store opens PostgreSQL stores.
func OnPostgres() bool { return os.Getenv(EnvStore) == "postgres" }

// SQLiteOnly skips t, saying why, on the PostgreSQL run: for a test of
// what only the SQLite driver has (its files, raw SQL, commit counts).
func SQLiteOnly(t testing.TB, reason string) {
	t.Helper()
	if OnPostgres() {
		t.Skipf("SQLite only (%s=postgres): %s", EnvStore, reason)
	}
}

// Store opens a new store, closed when t ends: a SQLite database in t's
// temporary directory, or a fresh PostgreSQL database when EnvStore says
// postgres.
func Store(t testing.TB) store.Store {
	t.Helper()
	return StoreWith(t, db.Options{})
}

// StoreWith is Store with opt (on PostgreSQL only its Now counts).
func StoreWith(t testing.TB, opt db.Options) store.Store {
	t.Helper()
	if OnPostgres() {
		return Postgres(t, pgtest.Database(t), postgres.Options{Now: opt.Now})
	}
	return SQLiteWith(t, opt)
}

// Reopen opens another store on the database s is (a second process on
// it, with s's clock), closed when t ends. s must come from Store, StoreWith or SQLiteAt.
func Reopen(t testing.TB, s store.Store) store.Store {
	t.Helper()
	mu.Lock()
	where, ok := origin[s]
	mu.Unlock()
	if !ok {
		t.Fatal("testkit.Reopen: the store was not opened by testkit")
	}
	if where.url != "" {
		return Postgres(t, where.url, postgres.Options{Now: where.now})
	}
	return SQLiteAt(t, where.path, db.Options{Now: where.now})
}

type place struct {
	path, url string
	now       func() time.Time // the store's Now option
	pool      *pgxpool.Pool    // Exec's and QueryRow's, once asked for
}

var (
	mu     sync.Mutex
	origin = map[store.Store]place{}
)

func remember(t testing.TB, s store.Store, p place) {
	mu.Lock()
	origin[s] = p
	mu.Unlock()
	t.Cleanup(func() {
		mu.Lock()
		p := origin[s].pool
		delete(origin, s)
		mu.Unlock()
		if p != nil {
			p.Close()
		}
	})
}

// Postgres opens the PostgreSQL database at url and closes it when t ends.
func Postgres(t testing.TB, url string, opt postgres.Options) *postgres.DB {
	t.Helper()
	d, err := postgres.Open(context.Background(), url, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	remember(t, d, place{url: url, now: opt.Now})
	return d
}

// SQLite opens a new SQLite database in t's temporary directory and closes
// it when t ends, whatever EnvStore says: for the SQLite driver's tests.
func SQLite(t testing.TB) *db.DB {
	t.Helper()
	return SQLiteWith(t, db.Options{})
}

// SQLiteWith is SQLite opened with opt.
func SQLiteWith(t testing.TB, opt db.Options) *db.DB {
	t.Helper()
	return SQLiteAt(t, filepath.Join(t.TempDir(), "reminderd.db"), opt)
}

// SQLiteAt opens the SQLite database at path with opt (creating it if need
// be) and closes it when t ends: for a test that opens the same file again.
func SQLiteAt(t testing.TB, path string, opt db.Options) *db.DB {
	t.Helper()
	d, err := db.OpenWith(context.Background(), path, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	remember(t, d, place{path: path, now: opt.Now})
	return d
}

// WeChat starts a fake WeChat holding the demo templates and closes it
// when t ends.
func WeChat(t testing.TB, opt wechattest.Options) *wechattest.Server {
	t.Helper()
	fake := wechattest.New(opt)
	t.Cleanup(fake.Close)
	for _, tm := range wechattest.DemoTemplates() {
		fake.AddTemplate(tm)
	}
	return fake
}

// SyncBuffer is a buffer that goroutines may write while the test reads it
// (a logger's output).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
