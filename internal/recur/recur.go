// Package recur parses reminder recurrences: standard 5-field cron specs
// (and @daily-style descriptors) evaluated in the reminder's IANA zone.
//
// Local times follow RFC 5545: a wall-clock time that does not exist on a
// day (spring forward) fires at the same wall-clock time shifted forward by
// the gap (02:30 → 03:30 in America/New_York), and a wall-clock time that
// occurs twice (fall back) fires once, at its first instant. robfig/cron's
// own Next does neither (it skips the missing hour and fires twice in the
// repeated one), so it is used only to parse the spec and to walk wall-clock
// times in UTC, where no day has a gap; the mapping to instants is here.
//
// Next is always computed from the previous scheduled instant, never from
// "now", so that a late run does not shift the series.
package recur

//go:generate go run zones_gen.go

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Descriptors are the accepted @-forms: the contract's five and robfig's
// aliases @annually (= @yearly) and @midnight (= @daily).
var Descriptors = []string{"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}

const (
	// DefaultMinInterval is the default shortest gap allowed between two
	// consecutive occurrences of a spec.
	DefaultMinInterval = time.Hour
	// MinMinInterval is the lowest minimum interval a deployment may set.
	MinMinInterval = time.Minute
)

// Schedule is a parsed recurrence in a zone.
type Schedule struct {
	spec string
	loc  *time.Location
	wall *cron.SpecSchedule // evaluated in UTC: wall-clock times without gaps
}

// MaxSpecLen bounds a recurrence spec.
const MaxSpecLen = 100

// starBit is robfig/cron's marker of a field given as "*" (or "?"): a
// day-of-month or day-of-week with it does not widen the other (AND, not OR).
const starBit = 1 << 63

// Parse parses spec for zone loc. The zone comes from the reminder, so a
// CRON_TZ=/TZ= prefix is refused rather than silently overriding it, and
// @every is refused: a fixed delay is not a calendar recurrence.
func Parse(spec string, loc *time.Location) (*Schedule, error) {
	spec = strings.TrimSpace(spec)
	switch {
	case spec == "":
		return nil, errors.New("must not be empty")
	case len(spec) > MaxSpecLen:
		return nil, fmt.Errorf("must be at most %d characters", MaxSpecLen)
	case strings.Contains(spec, "TZ="):
		return nil, errors.New("must not name a zone; use the timezone field")
	case strings.HasPrefix(strings.ToLower(spec), "@every"):
		return nil, errors.New("must not be @every: a fixed delay is not a calendar recurrence; use a 5-field cron spec such as 0 9 * * * or one of " + strings.Join(Descriptors, ", "))
	case strings.HasPrefix(spec, "@") && !slices.Contains(Descriptors, spec):
		return nil, fmt.Errorf("is not a known descriptor: use a 5-field cron spec or one of %s", strings.Join(Descriptors, ", "))
	}
	s, err := parser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("is not a cron spec (minute hour day-of-month month day-of-week): %v", err)
	}
	ss, ok := s.(*cron.SpecSchedule)
	if !ok { // only @every gives anything else, and it is refused above
		return nil, errors.New("is not a calendar recurrence")
	}
	w := *ss
	w.Location = time.UTC
	sch := &Schedule{spec: spec, loc: loc, wall: &w}
	// A spec such as "0 0 30 2 *" never fires.
	if sch.nextWall(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, errors.New("never fires")
	}
	return sch, nil
}

// String returns the spec.
func (s *Schedule) String() string { return s.spec }

// Location returns the schedule's zone.
func (s *Schedule) Location() *time.Location { return s.loc }

// nextWall returns the first matching wall-clock time (expressed in UTC)
// strictly after w, or zero. robfig/cron gives up after five years; a
// 29 February spec skips eight years across 2100, so look a little further.
func (s *Schedule) nextWall(w time.Time) time.Time {
	for range 3 {
		if n := s.wall.Next(w); !n.IsZero() {
			return n
		}
		w = w.AddDate(5, 0, 0)
	}
	return time.Time{}
}

// wallOf returns t's wall-clock reading in its location, expressed in UTC.
func wallOf(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	return time.Date(y, mo, d, h, mi, sec, t.Nanosecond(), time.UTC)
}

func (s *Schedule) offsetAt(unix int64) int64 {
	_, off := time.Unix(unix, 0).In(s.loc).Zone()
	return int64(off)
}

// around is how far from a wall-clock time the offsets in force before and
// after it are read: beyond any zone's offset, short of two transitions.
const around = 48 * 3600

// instant maps a wall-clock time (expressed in UTC) to an instant in the
// schedule's zone by RFC 5545: a time that occurs twice is its first
// instant; a time in a gap is read with the offset before the gap, which
// shifts it forward by the gap's length.
func (s *Schedule) instant(w time.Time) time.Time {
	x := w.Unix()
	before, after := s.offsetAt(x-around), s.offsetAt(x+around)
	ua, ub := x-before, x-after
	va, vb := s.offsetAt(ua) == before, s.offsetAt(ub) == after
	switch {
	case va && vb:
		return time.Unix(min(ua, ub), 0)
	case va:
		return time.Unix(ua, 0)
	case vb:
		return time.Unix(ub, 0)
	case before < after: // the gap of a spring forward
		return time.Unix(ua, 0)
	default: // two transitions within days of each other: let Go choose
		return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, s.loc)
	}
}

// Next returns the first occurrence strictly after t (in UTC), or the zero
// time if there is none.
func (s *Schedule) Next(t time.Time) time.Time {
	tl := t.In(s.loc)
	_, off := tl.Zone()
	_, offBefore := tl.Add(-around * time.Second).Zone()
	start := wallOf(tl)
	if off > offBefore {
		// Wall-clock times in a gap just before t are shifted past it.
		start = start.Add(-time.Duration(off-offBefore) * time.Second)
	}
	var best, limit time.Time
	for w := s.nextWall(start); !w.IsZero(); w = s.nextWall(w) {
		if !best.IsZero() && w.After(limit) {
			break
		}
		u := s.instant(w)
		if !u.After(t) {
			// Before t: the second pass of a repeated hour, or the
			// wall-clock times a gap's shift moved up to t.
			continue
		}
		if best.IsZero() {
			best = u
			// Near a transition, later wall-clock times can map before a
			// shifted one (02:30 → 03:30, but 03:00 → 03:00): look on by
			// the size of the shift.
			shift := s.offsetAt(u.Unix()+around) - s.offsetAt(u.Unix()-around)
			if shift == 0 {
				break
			}
			limit = w.Add(time.Duration(max(shift, -shift)) * time.Second)
		} else if u.Before(best) {
			best = u
		}
	}
	if best.IsZero() {
		return best
	}
	return best.UTC()
}

// IsOccurrence reports whether t is an occurrence of the schedule in its zone.
func (s *Schedule) IsOccurrence(t time.Time) bool {
	return s.Next(t.Add(-time.Nanosecond)).Equal(t)
}

// Gap horizon: 2001-01-01 (a Monday) to 2032-12-31. The calendar repeats
// every 28 years between 1901 and 2099, so every sequence of days that
// gives a gap between matching days up to several years long appears in
// it, including the pairs of years around the cycle's end.
const (
	horizonYear  = 2001
	horizonYears = 32
)

// ShortestGap returns the shortest time between two consecutive
// occurrences, measured on the wall clock (every day 24 hours). A daylight
// saving shift can make one real interval shorter by the shift's size
// (an hourly spec in Australia/Lord_Howe gives 30 minutes once a year).
//
// Every matching day has the same times of day, so the gap is the shorter
// of the closest two times within a day and the closest two matching days
// less the day's span; the days are walked over the horizon (at most 11,688
// of them, cheap bit tests).
func (s *Schedule) ShortestGap() time.Duration {
	var times []int // minutes of the day, ascending
	for h := 0; h < 24; h++ {
		if s.wall.Hour&(1<<h) == 0 {
			continue
		}
		for m := 0; m < 60; m++ {
			if s.wall.Minute&(1<<m) != 0 {
				times = append(times, h*60+m)
			}
		}
	}
	if len(times) == 0 { // robfig/cron always sets a bit; be safe
		return 0
	}
	gap := -1
	for i := 1; i < len(times); i++ {
		if d := times[i] - times[i-1]; gap < 0 || d < gap {
			gap = d
		}
	}
	if gap == 1 {
		return time.Minute
	}
	if days := s.closestDays(); days > 0 {
		if d := days*1440 - (times[len(times)-1] - times[0]); gap < 0 || d < gap {
			gap = d
		}
	}
	if gap < 0 { // one occurrence in the whole horizon: not a recurrence in practice
		return time.Duration(horizonYears) * 365 * 24 * time.Hour
	}
	return time.Duration(gap) * time.Minute
}

// closestDays returns the fewest days between two consecutive matching
// days over the horizon, 0 if fewer than two days match.
func (s *Schedule) closestDays() int {
	y, m, d, wd := horizonYear, 1, 1, 1
	best, prev := 0, -1
	for i := 0; y < horizonYear+horizonYears; i++ {
		if s.dayMatches(m, d, wd) {
			if prev >= 0 && (best == 0 || i-prev < best) {
				if best = i - prev; best == 1 {
					return 1
				}
			}
			prev = i
		}
		wd = (wd + 1) % 7
		if d++; d > daysIn(y, m) {
			d = 1
			if m++; m > 12 {
				m, y = 1, y+1
			}
		}
	}
	return best
}

// dayMatches is robfig/cron's day rule: day-of-month and day-of-week both
// restricted means either; one of them "*" means both.
func (s *Schedule) dayMatches(month, dom, dow int) bool {
	if s.wall.Month&(1<<month) == 0 {
		return false
	}
	domOK := s.wall.Dom&(1<<dom) != 0
	dowOK := s.wall.Dow&(1<<dow) != 0
	if s.wall.Dom&starBit != 0 || s.wall.Dow&starBit != 0 {
		return domOK && dowOK
	}
	return domOK || dowOK
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// CheckInterval refuses a schedule whose shortest gap is below least.
func (s *Schedule) CheckInterval(least time.Duration) error {
	if g := s.ShortestGap(); g < least {
		return fmt.Errorf("fires as often as every %s, more often than the minimum interval of %s", fmtDuration(g), fmtDuration(least))
	}
	return nil
}

// fmtDuration prints 1h, 30m, 1h30m rather than 1h0m0s.
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// LoadZone loads a zone of the IANA database embedded by time/tzdata, by
// its exact name. "", "Local", paths (relative, absolute, with ".." or
// ".") and system-only files such as posix/… or right/… are refused, so
// that a reminder never depends on the server's own zone files.
func LoadZone(name string) (*time.Location, error) {
	if _, ok := slices.BinarySearch(zoneNames, name); !ok {
		if name == "" || name == "Local" {
			return nil, errors.New("must be an IANA zone name such as Asia/Shanghai")
		}
		return nil, fmt.Errorf("is not a zone of the IANA database: %q (such as Asia/Shanghai or America/New_York)", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("is not a known IANA zone: %q", name)
	}
	return loc, nil
}
