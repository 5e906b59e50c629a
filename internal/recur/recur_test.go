package recur

import (
	"testing"
	"time"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := LoadZone(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestNextAcrossZones(t *testing.T) {
	after := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) // a Tuesday
	for _, tc := range []struct {
		spec, zone string
		want       time.Time
	}{
		{"45 13 * * MON", "Asia/Shanghai", time.Date(2026, 12, 7, 5, 45, 0, 0, time.UTC)},
		{"45 13 * * MON", "America/New_York", time.Date(2026, 12, 7, 18, 45, 0, 0, time.UTC)},
		{"0 9 * * *", "Asia/Shanghai", time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)},
		{"0 7 * * *", "Asia/Shanghai", time.Date(2026, 12, 1, 23, 0, 0, 0, time.UTC)},
		{"0 9 * * *", "UTC", time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)},
		{"@daily", "Asia/Tokyo", time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)},
		{"30 8 1 * *", "Europe/London", time.Date(2026, 12, 1, 8, 30, 0, 0, time.UTC)},
		{"30 8 2 * *", "Australia/Sydney", time.Date(2026, 12, 1, 21, 30, 0, 0, time.UTC)},
	} {
		s, err := Parse(tc.spec, mustZone(t, tc.zone))
		if err != nil {
			t.Fatalf("%s: %v", tc.spec, err)
		}
		if got := s.Next(after); !got.Equal(tc.want) {
			t.Errorf("Next(%q in %s) = %v, want %v", tc.spec, tc.zone, got, tc.want)
		}
	}
}

func TestNextAcrossDaylightSaving(t *testing.T) {
	// New York leaves DST on 2026-11-01: 09:00 local moves from 13:00 to 14:00 UTC.
	s, err := Parse("0 9 * * *", mustZone(t, "America/New_York"))
	if err != nil {
		t.Fatal(err)
	}
	first := s.Next(time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC))
	second := s.Next(first)
	if first != time.Date(2026, 10, 31, 13, 0, 0, 0, time.UTC) || second != time.Date(2026, 11, 1, 14, 0, 0, 0, time.UTC) {
		t.Fatalf("got %v then %v", first, second)
	}
}

func TestParseErrors(t *testing.T) {
	utc := time.UTC
	for _, spec := range []string{"", "every monday", "61 * * * *", "* * * *", "CRON_TZ=Asia/Tokyo 0 9 * * *", "0 0 30 2 *", "0 0 0 * * *"} {
		if _, err := Parse(spec, utc); err == nil {
			t.Errorf("Parse(%q) accepted", spec)
		}
	}
	for _, z := range []string{"", "Local", "Mars/Olympus", "../../etc/passwd"} {
		if _, err := LoadZone(z); err == nil {
			t.Errorf("LoadZone(%q) accepted", z)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"45 13 * * MON", "@daily", "*/5 * * * *", "0 0 30 2 *", "@every 1h", "1-5/2 3,4 * JAN-MAR *"} {
		f.Add(s)
	}
	after := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := Parse(spec, time.UTC)
		if err != nil {
			return
		}
		n := s.Next(after)
		if !n.IsZero() && !n.After(after) {
			t.Fatalf("Next(%v) = %v is not after it", after, n)
		}
	})
}
