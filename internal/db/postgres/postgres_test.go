package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db/pgtest"
	"github.com/reminderd/reminderd/internal/db/postgres"
	"github.com/reminderd/reminderd/internal/store"
)

// open opens the driver on a fresh database of the test server.
func open(t *testing.T) *postgres.DB {
	t.Helper()
	d, err := postgres.Open(context.Background(), pgtest.Database(t), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The token row round-trips, and a store without one says ErrNotFound.
func TestToken(t *testing.T) {
	ctx := context.Background()
	d := open(t)
	defer d.Close()
	if _, err := d.LoadToken(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LoadToken on an empty store: %v, want ErrNotFound", err)
	}
	exp := time.UnixMilli(1_800_000_000_123)
	if err := d.SaveToken(ctx, store.Token{Value: "tok", ExpiresAt: exp}, exp.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := d.LoadToken(ctx)
	if err != nil || got.Value != "tok" || !got.ExpiresAt.Equal(exp) {
		t.Fatalf("LoadToken = %+v, %v", got, err)
	}
}

// A URL that does not parse is refused without echoing it (it may hold a
// password).
func TestOpenRefusesABadURLWithoutEchoingIt(t *testing.T) {
	_, err := postgres.Open(context.Background(), "postgres://u:s3cret@[bad", postgres.Options{})
	if err == nil {
		t.Fatal("a bad URL opened")
	}
	if got := err.Error(); strings.Contains(got, "s3cret") {
		t.Fatalf("error echoes the password: %s", got)
	}
}
