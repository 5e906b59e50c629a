package db

import "github.com/reminderd/reminderd/internal/store"

// DB is the SQLite driver of the store.
var _ store.Store = (*DB)(nil)
