// Package bisect finds, in a table whose integer keys grow with an instant
// that is not indexed, a key at or before the first row of an instant: the
// stores' way into their delivery records by time (about 2·log2(rows)
// indexed reads instead of a scan). Both drivers use it over their own
// queries.
package bisect

import "context"

// Row is the first row at or after a key: its key and its instant.
type Row struct{ Key, At int64 }

// FirstAtOrAfter returns a key at or before the first row whose instant is
// at or after target, in the rows with keys lo..hi (hi 0: none, and it
// returns 0). next returns the first row with a key at or after its
// argument, which must exist for every key in lo..hi. Instants must not
// decrease with the keys by more than the caller's slack, which the caller
// takes off target; it still filters the rows it reads from the key on.
func FirstAtOrAfter(ctx context.Context, lo, hi, target int64, next func(ctx context.Context, key int64) (Row, error)) (int64, error) {
	if hi == 0 {
		return 0, nil
	}
	hi++ // the answer is in [lo, hi]
	for lo < hi {
		mid := lo + (hi-lo)/2
		r, err := next(ctx, mid)
		if err != nil {
			return 0, err
		}
		if r.At < target {
			lo = r.Key + 1
		} else {
			hi = mid
		}
	}
	return lo, nil
}
