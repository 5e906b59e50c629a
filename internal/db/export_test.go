package db

import "context"

// Names of the driver's internals that its external tests (package
// db_test) exercise; no other package needs them.
var (
	NotFound           = notFound
	IsFull             = isFull
	IsUniqueViolation  = isUniqueViolation
	ListRemindersPage  = listRemindersPage
	FirstDeliverySince = firstDeliverySince
)

// Position is a listing's place in (fire_at, id) order.
type Position = position

// Migrate applies the pending migrations (Open already has).
func (d *DB) Migrate(ctx context.Context) (int, error) { return d.migrate(ctx) }
