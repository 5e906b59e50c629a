// Package isodur parses ISO 8601 durations of fixed length: weeks, days,
// hours, minutes and seconds (PT10M, P1D, P1DT2H, PT0.5S). Years and
// months are refused: their length depends on the calendar.
package isodur

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrSyntax is the error of a string that is not such a duration.
var ErrSyntax = errors.New(`not an ISO 8601 duration of weeks, days, hours, minutes and seconds (such as "PT10M", "P1D", "P1DT2H")`)

// Parse returns the duration s names. A day is 24 hours.
func Parse(s string) (time.Duration, error) {
	rest, ok := strings.CutPrefix(s, "P")
	if !ok || rest == "" {
		return 0, ErrSyntax
	}
	date, clock, hasT := strings.Cut(rest, "T")
	if hasT && clock == "" {
		return 0, ErrSyntax
	}
	total := 0.0
	any := false
	add := func(part, units string, sizes []time.Duration, fraction bool) error {
		for part != "" {
			i := strings.IndexAny(part, units)
			if i <= 0 {
				return ErrSyntax
			}
			num, unit := part[:i], part[i]
			k := strings.IndexByte(units, unit)
			units = units[k+1:] // each unit once, in order
			size := sizes[k]
			sizes = sizes[k+1:]
			if (!fraction || unit != 'S') && strings.ContainsAny(num, ".,") {
				return ErrSyntax
			}
			if strings.ContainsAny(num, "+-eE") {
				return ErrSyntax
			}
			v, err := strconv.ParseFloat(strings.Replace(num, ",", ".", 1), 64)
			if err != nil {
				return ErrSyntax
			}
			total += v * float64(size)
			any = true
			part = part[i+1:]
		}
		return nil
	}
	day := 24 * time.Hour
	if err := add(date, "WD", []time.Duration{7 * day, day}, false); err != nil {
		return 0, err
	}
	if err := add(clock, "HMS", []time.Duration{time.Hour, time.Minute, time.Second}, true); err != nil {
		return 0, err
	}
	if !any || total > math.MaxInt64/2 {
		return 0, ErrSyntax
	}
	return time.Duration(math.Round(total)), nil
}
