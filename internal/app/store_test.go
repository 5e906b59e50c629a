package app_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/app"
	"github.com/reminderd/reminderd/internal/db"
)

// The database setting selects the store by its scheme: postgres:// and
// postgresql:// (in any case) are PostgreSQL, anything else a SQLite file.
func TestIsPostgres(t *testing.T) {
	for s, want := range map[string]bool{
		"postgres://u:p@h/d": true, "postgresql://h/d": true, "POSTGRES://h/d": true, "PostgreSQL://h": true,
		"postgres:///d?host=/run/postgresql": true,
		"reminderd.db":                       false, "/var/lib/reminderd/reminderd.db": false, "postgres.db": false, "postgres:/x": false,
		"file://x.db": false, "mysql://h/d": false, "host=h dbname=d": false, "./postgres://x": false, "": false,
	} {
		if got := app.IsPostgres(s); got != want {
			t.Errorf("IsPostgres(%q) = %v, want %v", s, got, want)
		}
	}
}

// A bad URL is refused naming the setting; no message carries a password.
func TestPostgresURLErrorsNeverCarryThePassword(t *testing.T) {
	const pw = "S3cr3t-pw"
	for _, u := range []string{
		"postgres://reminderd:" + pw + "@h:port/d",
		"postgres://reminderd:" + pw + "@h/d?sslmode=sometimes",
		"postgresql://h/d?password=" + pw + "&connect_timeout=soon",
	} {
		err := app.CheckPostgresURL("REMINDERD_DB", u)
		if err == nil || !strings.HasPrefix(err.Error(), "REMINDERD_DB ") || strings.Contains(err.Error(), pw) {
			t.Errorf("%s: %v", u, err)
		}
	}
	if err := app.CheckPostgresURL("REMINDERD_DB", "postgres://u:"+pw+"@h:5432/d?sslmode=require"); err != nil {
		t.Errorf("a good URL refused: %v", err)
	}
	for u, want := range map[string]string{
		"postgres://u:" + pw + "@h:5432/d":       "postgres://u:xxxxx@h:5432/d",
		"postgres://h/d?password=" + pw + "&x=1": "postgres://h/d?password=xxxxx&x=1",
		"postgres://u@h/d":                       "postgres://u@h/d",
	} {
		if got := app.RedactURL(u); got != want {
			t.Errorf("RedactURL(%s) = %s, want %s", u, got, want)
		}
	}
	// OpenStore on a server that is not there: the error names the server
	// and keeps the driver's error reachable, without the password.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	u := "postgres://reminderd:" + pw + "@127.0.0.1:1/reminderd?connect_timeout=5"
	_, _, err := app.OpenStore(ctx, app.Config{DB: u}, time.Now, nil)
	if err == nil || strings.Contains(err.Error(), pw) || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("open on no server: %v", err)
	}
	inner := errors.New("connect as reminderd:" + pw)
	if err := app.ScrubError(inner, u); strings.Contains(err.Error(), pw) || !errors.Is(err, inner) {
		t.Fatalf("scrubbed %v", err)
	}
}

// Anything else is the SQLite file, returned as both the store and the
// SQLite handle.
func TestOpenStoreSQLite(t *testing.T) {
	s, d, err := app.OpenStore(context.Background(), app.Config{DB: filepath.Join(t.TempDir(), "s.db")}, time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if d == nil || any(s) != any(d) {
		t.Fatalf("store %T, SQLite %v", s, d)
	}
	var _ *db.DB = d
}
