package store

import "context"

// HealthStore is what readiness asks of the store.
type HealthStore interface {
	// Ping reports whether the store answers reads.
	Ping(ctx context.Context) error
	// Schema returns the schema's version and the latest this build
	// knows: they differ until every migration is applied.
	Schema(ctx context.Context) (version, latest int, err error)
	// Writable reports whether the store accepts writes (nil, or why not:
	// ErrFull for want of space). A driver may cache the answer briefly.
	Writable(ctx context.Context) error
	// NoteWriteError tells the store of a write's failure: after ErrFull,
	// Writable fails until a write succeeds again.
	NoteWriteError(err error)
	// Integrity is what the check of the store's files at open found.
	Integrity() Integrity
}

// Integrity is the verdict of an integrity check at open.
type Integrity int

const (
	// IntegrityNotRun: the store was opened without a check.
	IntegrityNotRun Integrity = iota
	// IntegrityOK: the check finished and found nothing.
	IntegrityOK
	// IntegrityUnfinished: the check was cut short at its deadline; the
	// store was opened without a verdict.
	IntegrityUnfinished
)
