// Package recur parses reminder recurrences: standard 5-field cron specs
// (and @daily-style descriptors) evaluated in the reminder's IANA zone.
//
// Next is always computed from the previous scheduled instant, never from
// "now", so that a late run does not shift the series.
package recur

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Schedule is a parsed recurrence in a zone.
type Schedule struct {
	spec  string
	loc   *time.Location
	sched cron.Schedule
}

// MaxSpecLen bounds a recurrence spec.
const MaxSpecLen = 100

// Parse parses spec for zone loc. The zone comes from the reminder, so a
// CRON_TZ=/TZ= prefix is refused rather than silently overriding it.
func Parse(spec string, loc *time.Location) (*Schedule, error) {
	spec = strings.TrimSpace(spec)
	switch {
	case spec == "":
		return nil, errors.New("must not be empty")
	case len(spec) > MaxSpecLen:
		return nil, fmt.Errorf("must be at most %d characters", MaxSpecLen)
	case strings.Contains(spec, "TZ="):
		return nil, errors.New("must not name a zone; use the timezone field")
	}
	s, err := parser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("is not a cron spec (minute hour day-of-month month day-of-week): %v", err)
	}
	sch := &Schedule{spec: spec, loc: loc, sched: s}
	// A spec such as "0 0 30 2 *" never fires; robfig/cron gives up after
	// five years and returns the zero time.
	if sch.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, errors.New("never fires")
	}
	return sch, nil
}

// Next returns the first occurrence strictly after t, or the zero time if
// there is none.
func (s *Schedule) Next(t time.Time) time.Time {
	n := s.sched.Next(t.In(s.loc))
	if n.IsZero() {
		return n
	}
	return n.UTC()
}

// String returns the spec.
func (s *Schedule) String() string { return s.spec }

// LoadZone loads an IANA zone; "" and "Local" are refused so that a
// reminder never depends on the server's own zone setting.
func LoadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, errors.New("must be an IANA zone name such as Asia/Shanghai")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("is not a known IANA zone: %q", name)
	}
	return loc, nil
}
