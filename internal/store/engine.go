package store

// EngineStore is what the scheduler asks of the store: claims, outcomes,
// the rescue of expired leases, pauses, unknown outcomes, periodic jobs.
type EngineStore interface {
}
