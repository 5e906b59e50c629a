package service_test

import (
	"testing"

	"github.com/reminderd/reminderd/internal/db/pgtest"
)

// TestMain stops the PostgreSQL server pgtest may start for this binary
// (REMINDERD_TEST_STORE=postgres).
func TestMain(m *testing.M) { pgtest.Main(m) }
