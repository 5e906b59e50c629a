package postgres_test

import (
	"testing"

	"github.com/reminderd/reminderd/internal/store/storetest"
)

// The reminders half of the conformance suite.
func TestReminders(t *testing.T) {
	storetest.Reminders(t, func(t *testing.T) storetest.ReminderDriver { return open(t) })
}
