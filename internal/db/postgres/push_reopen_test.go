package postgres_test

import (
	"context"
	"testing"

	"github.com/reminderd/reminderd/internal/db/pgtest"
	"github.com/reminderd/reminderd/internal/db/postgres"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/store/storetest"
)

// Push de-duplication is in the database: it survives a restart.
func TestPushOnceAcrossReopen(t *testing.T) {
	url := pgtest.Database(t)
	reopen := func() *postgres.DB {
		d, err := postgres.Open(context.Background(), url, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	first := reopen()
	storetest.PushOnceAcrossReopen(t, first, first.Close, func() store.Store {
		d := reopen()
		t.Cleanup(func() { d.Close() })
		return d
	})
}
