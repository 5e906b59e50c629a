package postgres_test

import (
	"testing"

	"github.com/reminderd/reminderd/internal/store/storetest"
)

// The engine half of the conformance suite, on a fresh database per test.
func TestEngine(t *testing.T) {
	storetest.Engine(t, func(t *testing.T) storetest.EngineDriver { return open(t) })
}
