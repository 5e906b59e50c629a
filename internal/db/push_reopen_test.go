package db_test

import (
	"path/filepath"
	"testing"

	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/store/storetest"
	"github.com/reminderd/reminderd/internal/testkit"
)

// Push de-duplication is in the database file: it survives a restart.
func TestPushOnceAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reminderd.db")
	first := testkit.SQLiteAt(t, path, db.Options{})
	storetest.PushOnceAcrossReopen(t, first, first.Close, func() store.Store { return testkit.SQLiteAt(t, path, db.Options{}) })
}
