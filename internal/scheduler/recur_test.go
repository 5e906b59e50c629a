package scheduler_test

import (
	"testing"
	"time"
)

// TestRecurrenceAcrossTransitions: the engine advances a series with
// recur's RFC 5545 Next: a daily 02:30 in New York fires at 03:30 EDT on
// spring-forward day (robfig/cron's own Next skips it), a daily 01:30
// fires once on fall-back day (robfig's fires it twice).
func TestRecurrenceAcrossTransitions(t *testing.T) {
	h := newHarness(t, nil)
	h.grant("oA", meetingID, 10)
	h.grant("oB", meetingID, 10)
	spring := h.add("oA", time.Date(2027, 3, 13, 7, 30, 0, 0, time.UTC), withRecurrence("30 2 * * *", "America/New_York")) // 02:30 EST
	fall := h.add("oB", time.Date(2027, 11, 6, 5, 30, 0, 0, time.UTC), withRecurrence("30 1 * * *", "America/New_York"))   // 01:30 EDT
	h.clock.Set(time.Date(2027, 3, 13, 7, 30, 1, 0, time.UTC))
	h.cycle()
	if next := time.UnixMilli(h.rem(spring).FireAt.UnixMilli()).UTC(); next != time.Date(2027, 3, 14, 7, 30, 0, 0, time.UTC) {
		t.Fatalf("after 2027-03-13 02:30 EST: next %v, want 2027-03-14 03:30 EDT (07:30 UTC)", next)
	}
	h.clock.Set(time.Date(2027, 11, 6, 5, 30, 1, 0, time.UTC))
	h.cycle()
	if next := time.UnixMilli(h.rem(fall).FireAt.UnixMilli()).UTC(); next != time.Date(2027, 11, 7, 5, 30, 0, 0, time.UTC) {
		t.Fatalf("after 2027-11-06 01:30 EDT: next %v, want 2027-11-07 01:30 EDT (05:30 UTC)", next)
	}
	h.clock.Set(time.Date(2027, 11, 7, 5, 30, 1, 0, time.UTC))
	h.cycle()
	if next := time.UnixMilli(h.rem(fall).FireAt.UnixMilli()).UTC(); next != time.Date(2027, 11, 8, 6, 30, 0, 0, time.UTC) {
		t.Fatalf("after the first 01:30 of fall-back day: next %v, want 2027-11-08 01:30 EST (06:30 UTC), not the repeated 01:30", next)
	}
}
