package recur

import (
	"archive/zip"
	"errors"
	"io/fs"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := LoadZone(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustParse(t testing.TB, spec, zone string) *Schedule {
	t.Helper()
	s, err := Parse(spec, mustZone(t, zone))
	if err != nil {
		t.Fatalf("Parse(%q): %v", spec, err)
	}
	return s
}

func utc(y int, mo time.Month, d, h, mi int) time.Time {
	return time.Date(y, mo, d, h, mi, 0, 0, time.UTC)
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
		s := mustParse(t, tc.spec, tc.zone)
		if got := s.Next(after); !got.Equal(tc.want) {
			t.Errorf("Next(%q in %s) = %v, want %v", tc.spec, tc.zone, got, tc.want)
		}
	}
}

func TestNextAcrossDaylightSaving(t *testing.T) {
	// New York leaves DST on 2026-11-01: 09:00 local moves from 13:00 to 14:00 UTC.
	s := mustParse(t, "0 9 * * *", "America/New_York")
	first := s.Next(time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC))
	second := s.Next(first)
	if first != time.Date(2026, 10, 31, 13, 0, 0, 0, time.UTC) || second != time.Date(2026, 11, 1, 14, 0, 0, 0, time.UTC) {
		t.Fatalf("got %v then %v", first, second)
	}
}

// TestNextRFC5545 walks series across transitions: a wall-clock time in a
// spring-forward gap fires shifted forward by the gap, a repeated one fires
// once, at its first instant. robfig/cron's own Next skips the first and
// fires the second twice.
func TestNextRFC5545(t *testing.T) {
	for _, tc := range []struct {
		name, spec, zone string
		from             time.Time
		want             []time.Time
	}{
		{"New York spring forward: 02:30 → 03:30 EDT", "30 2 * * *", "America/New_York", utc(2027, 3, 13, 0, 0),
			[]time.Time{utc(2027, 3, 13, 7, 30), utc(2027, 3, 14, 7, 30), utc(2027, 3, 15, 6, 30)}},
		{"New York fall back: 01:30 once, EDT", "30 1 * * *", "America/New_York", utc(2027, 11, 6, 0, 0),
			[]time.Time{utc(2027, 11, 6, 5, 30), utc(2027, 11, 7, 5, 30), utc(2027, 11, 8, 6, 30)}},
		{"New York spring forward: shifted and real times merge", "0,30 2,3 * * *", "America/New_York", utc(2027, 3, 14, 6, 0),
			// 02:00 and 03:00 are both 03:00 EDT, 02:30 and 03:30 both 03:30 EDT.
			[]time.Time{utc(2027, 3, 14, 7, 0), utc(2027, 3, 14, 7, 30), utc(2027, 3, 15, 6, 0), utc(2027, 3, 15, 6, 30)}},
		{"New York fall back: hourly skips the repeated hour", "15 * * * *", "America/New_York", utc(2027, 11, 7, 4, 0),
			// 00:15 EDT, 01:15 EDT, then 02:15 EST: 01:15 EST is the repeat.
			[]time.Time{utc(2027, 11, 7, 4, 15), utc(2027, 11, 7, 5, 15), utc(2027, 11, 7, 7, 15)}},
		{"London spring forward: 01:30 → 02:30 BST", "30 1 * * *", "Europe/London", utc(2027, 3, 27, 2, 0),
			[]time.Time{utc(2027, 3, 28, 1, 30), utc(2027, 3, 29, 0, 30)}},
		{"London fall back: 01:30 once, BST", "30 1 * * *", "Europe/London", utc(2027, 10, 30, 1, 0),
			[]time.Time{utc(2027, 10, 31, 0, 30), utc(2027, 11, 1, 1, 30)}},
		{"Shanghai: no transitions", "30 2 * * *", "Asia/Shanghai", utc(2027, 3, 13, 0, 0),
			[]time.Time{utc(2027, 3, 13, 18, 30), utc(2027, 3, 14, 18, 30)}},
		{"Lord Howe spring forward by 30 minutes: 02:15 → 02:45", "15 2 * * *", "Australia/Lord_Howe", utc(2027, 10, 1, 16, 0),
			[]time.Time{utc(2027, 10, 2, 15, 45), utc(2027, 10, 3, 15, 15)}},
		{"Lord Howe fall back by 30 minutes: 01:45 once, +11", "45 1 * * *", "Australia/Lord_Howe", utc(2027, 4, 2, 15, 0),
			[]time.Time{utc(2027, 4, 3, 14, 45), utc(2027, 4, 4, 15, 15)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustParse(t, tc.spec, tc.zone)
			got := []time.Time{}
			for n := s.Next(tc.from); len(got) < len(tc.want); n = s.Next(n) {
				got = append(got, n)
			}
			if !slices.EqualFunc(got, tc.want, time.Time.Equal) {
				t.Fatalf("from %v:\n got %v\nwant %v", tc.from, got, tc.want)
			}
			for _, n := range got {
				if !s.IsOccurrence(n) {
					t.Errorf("IsOccurrence(%v) = false", n)
				}
			}
		})
	}
}

func TestNextFromInsideTransitions(t *testing.T) {
	ny := "America/New_York"
	for _, tc := range []struct {
		spec string
		from time.Time
		want time.Time
	}{
		// From 03:00 EDT exactly: 02:30 shifted to 03:30 is still ahead.
		{"30 2 * * *", utc(2027, 3, 14, 7, 0), utc(2027, 3, 14, 7, 30)},
		// From 03:10 EDT: 03:00 (and 02:00 shifted onto it) has passed.
		{"0,30 2,3 * * *", utc(2027, 3, 14, 7, 10), utc(2027, 3, 14, 7, 30)},
		// From the second 01:20 (EST): the repeated 01:30 already fired at its first instant.
		{"30 1 * * *", utc(2027, 11, 7, 6, 20), utc(2027, 11, 8, 6, 30)},
		// From between the two 01:30s: 02:00 EST comes next.
		{"0,30 * * * *", utc(2027, 11, 7, 5, 40), utc(2027, 11, 7, 7, 0)},
	} {
		if got := mustParse(t, tc.spec, ny).Next(tc.from); !got.Equal(tc.want) {
			t.Errorf("Next(%q, %v) = %v, want %v", tc.spec, tc.from, got, tc.want)
		}
	}
}

func TestIsOccurrence(t *testing.T) {
	sh := mustParse(t, "@daily", "Asia/Shanghai")
	if sh.IsOccurrence(time.Date(2026, 12, 1, 16, 44, 0, 0, mustZone(t, "Asia/Shanghai"))) {
		t.Error("16:44 is an occurrence of @daily")
	}
	if !sh.IsOccurrence(time.Date(2026, 12, 1, 0, 0, 0, 0, mustZone(t, "Asia/Shanghai"))) {
		t.Error("midnight is not an occurrence of @daily")
	}
	if sh.IsOccurrence(time.Date(2026, 12, 1, 0, 0, 0, int(time.Millisecond), mustZone(t, "Asia/Shanghai"))) {
		t.Error("midnight and a millisecond is an occurrence of @daily")
	}
	ny := mustParse(t, "30 1 * * *", "America/New_York")
	if ny.IsOccurrence(utc(2027, 11, 7, 6, 30)) {
		t.Error("the second 01:30 of a fall back is an occurrence")
	}
	if !ny.IsOccurrence(utc(2027, 11, 7, 5, 30)) {
		t.Error("the first 01:30 of a fall back is not an occurrence")
	}
}

func TestShortestGap(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		spec string
		want time.Duration
	}{
		{"* * * * *", time.Minute},
		{"*/5 * * * *", 5 * time.Minute},
		{"0 * * * *", time.Hour},
		{"@hourly", time.Hour},
		{"59 * * * *", time.Hour},
		{"0,30 9 * * *", 30 * time.Minute},
		{"0 9,17 * * *", 8 * time.Hour},
		{"0 0,23 * * *", time.Hour},           // 23:00 then 00:00 the next day
		{"0,50 0,23 * * *", 10 * time.Minute}, // 23:50 then 00:00 the next day
		{"59 23 * * *", day},
		{"@daily", day},
		{"@midnight", day},
		{"0 9 * * MON-FRI", day},
		{"0 9 * * MON", 7 * day},
		{"@weekly", 7 * day},
		{"0 9 * * SAT,MON", 2 * day},
		{"0 23 * * SUN,MON", day},
		{"0 12 31 * *", 31 * day},  // Jul 31 → Aug 31
		{"0 12 30 * *", 30 * day},  // Apr 30 → May 30
		{"0 12 1,31 * *", day},     // Jan 31 → Feb 1
		{"0 0 13 * FRI", day},      // the 13th or a Friday: Friday the 12th, Saturday the 13th
		{"@monthly", 28 * day},     // Feb 1 → Mar 1 in a common year
		{"0 0 29 2 *", 1461 * day}, // four years
		{"@yearly", 365 * day},
		{"@annually", 365 * day},
	} {
		if got := mustParse(t, tc.spec, "UTC").ShortestGap(); got != tc.want {
			t.Errorf("ShortestGap(%q) = %v, want %v", tc.spec, got, tc.want)
		}
	}
}

func TestCheckInterval(t *testing.T) {
	for _, tc := range []struct {
		spec string
		ok   bool
	}{
		{"* * * * *", false}, {"*/30 * * * *", false}, {"0,30 9 * * *", false}, {"0,50 0,23 * * *", false},
		{"0 * * * *", true}, {"@hourly", true}, {"0 0,23 * * *", true}, {"@daily", true}, {"45 13 * * MON", true},
	} {
		err := mustParse(t, tc.spec, "UTC").CheckInterval(time.Hour)
		if (err == nil) != tc.ok {
			t.Errorf("CheckInterval(%q, 1h) = %v", tc.spec, err)
		}
		if err != nil && !strings.Contains(err.Error(), "minimum interval of 1h") {
			t.Errorf("CheckInterval(%q) = %q does not name the minimum", tc.spec, err)
		}
	}
	if err := mustParse(t, "*/5 * * * *", "UTC").CheckInterval(5 * time.Minute); err != nil {
		t.Errorf("*/5 with a 5m minimum: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	utc := time.UTC
	for _, spec := range []string{"", "every monday", "61 * * * *", "* * * *", "CRON_TZ=Asia/Tokyo 0 9 * * *", "0 0 30 2 *", "0 0 0 * * *",
		"@every 1s", "@every 0s", "@every -5s", "@every 1ms", "@every 1h", "@EVERY 1h", "@every", "@reboot", "@DAILY", "@fortnightly"} {
		if _, err := Parse(spec, utc); err == nil {
			t.Errorf("Parse(%q) accepted", spec)
		}
	}
	if _, err := Parse("@every 24h", utc); err == nil || !strings.Contains(err.Error(), "@every") {
		t.Errorf("Parse(@every 24h) = %v, want an error naming @every", err)
	}
	for _, d := range Descriptors {
		if _, err := Parse(d, utc); err != nil {
			t.Errorf("Parse(%q): %v", d, err)
		}
	}
}

func TestLoadZone(t *testing.T) {
	for _, z := range []string{"", "Local", "Mars/Olympus", "../../etc/passwd", "/etc/localtime", "/usr/share/zoneinfo/UTC",
		"Etc/../UTC", "America/./New_York", "./UTC", "posix/Asia/Shanghai", "right/UTC", "localtime", "posixrules",
		"asia/shanghai", " Asia/Shanghai", "Asia/Shanghai/", "zone1970.tab"} {
		if _, err := LoadZone(z); err == nil {
			t.Errorf("LoadZone(%q) accepted", z)
		}
	}
	for _, z := range []string{"UTC", "Asia/Shanghai", "America/New_York", "Australia/Lord_Howe", "Etc/GMT+5", "America/Argentina/Buenos_Aires"} {
		if loc, err := LoadZone(z); err != nil || loc.String() != z {
			t.Errorf("LoadZone(%q) = %v, %v", z, loc, err)
		}
	}
}

// TestZoneNamesMatchGo checks zones.go against the zone database of the Go
// that builds reminderd (run go generate ./internal/recur when it fails).
func TestZoneNamesMatchGo(t *testing.T) {
	zr, err := zip.OpenReader(filepath.Join(runtime.GOROOT(), "lib", "time", "zoneinfo.zip"))
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("GOROOT has no lib/time/zoneinfo.zip")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, zoneNames) {
		t.Fatalf("zones.go lists %d zones, Go's database %d: run go generate ./internal/recur", len(zoneNames), len(names))
	}
	if !slices.IsSorted(zoneNames) {
		t.Fatal("zoneNames is not sorted")
	}
}

func BenchmarkParse(b *testing.B) {
	for _, spec := range []string{"45 13 * * MON", "0 12 31 * *", "0 0 29 2 *", "*/5 * * * *"} {
		b.Run(spec, func(b *testing.B) {
			for b.Loop() {
				if _, err := Parse(spec, time.UTC); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkShortestGap(b *testing.B) {
	// The worst cases walk every day of the horizon.
	for _, spec := range []string{"45 13 * * MON", "0 12 31 * *", "0 0 29 2 *", "@daily"} {
		s := mustParse(b, spec, "UTC")
		b.Run(spec, func(b *testing.B) {
			for b.Loop() {
				s.ShortestGap()
			}
		})
	}
}

func BenchmarkNext(b *testing.B) {
	for _, zone := range []string{"UTC", "America/New_York"} {
		s := mustParse(b, "0 9 * * MON-FRI", zone)
		b.Run(zone, func(b *testing.B) {
			n := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			for b.Loop() {
				n = s.Next(n)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"45 13 * * MON", "@daily", "*/5 * * * *", "0 0 30 2 *", "@every 1h", "@every 1s", "1-5/2 3,4 * JAN-MAR *",
		"30 2 * * *", "0,30 1,2,3 * * *", "@annually", "0 0 29 2 *"} {
		f.Add(s)
	}
	zones := []*time.Location{time.UTC, mustZone(f, "America/New_York"), mustZone(f, "Australia/Lord_Howe")}
	// Around New York's spring forward and fall back of 2027, and an ordinary day.
	starts := []time.Time{utc(2027, 3, 14, 6, 0), utc(2027, 11, 7, 4, 0), utc(2026, 12, 1, 0, 0)}
	f.Fuzz(func(t *testing.T, spec string) {
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(spec)), "@every") {
			if _, err := Parse(spec, time.UTC); err == nil {
				t.Fatalf("Parse(%q) accepted @every", spec)
			}
			return
		}
		for i, loc := range zones {
			s, err := Parse(spec, loc)
			if err != nil {
				return
			}
			gap := s.ShortestGap()
			if gap < time.Minute {
				t.Fatalf("ShortestGap(%q) = %v", spec, gap)
			}
			after := starts[i]
			prev := time.Time{}
			for range 4 {
				n := s.Next(after)
				if n.IsZero() {
					break
				}
				if !n.After(after) {
					t.Fatalf("Next(%q in %s, %v) = %v is not after it", spec, loc, after, n)
				}
				if !s.IsOccurrence(n) {
					t.Fatalf("Next(%q in %s) = %v is not an occurrence", spec, loc, n)
				}
				// In UTC the wall clock is the real clock: no two occurrences closer than the gap.
				if loc == time.UTC && !prev.IsZero() && n.Sub(prev) < gap {
					t.Fatalf("%q: %v then %v, closer than ShortestGap %v", spec, prev, n, gap)
				}
				prev, after = n, n
			}
		}
	})
}
