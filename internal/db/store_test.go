package db_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/store/storetest"
)

// The SQLite driver passes the store's conformance suite, on a real file.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		d, err := db.Open(context.Background(), filepath.Join(t.TempDir(), "reminderd.db"))
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}
