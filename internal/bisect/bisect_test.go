package bisect

import (
	"context"
	"errors"
	"sort"
	"testing"
)

// Over keys with gaps and instants that repeat, the key found is never past
// the first row of the target instant, and is the first such key when
// instants grow with the keys; every row read is a real one.
func TestFirstAtOrAfter(t *testing.T) {
	keys := []int64{3, 4, 9, 10, 11, 20, 21, 40}
	at := map[int64]int64{3: 100, 4: 100, 9: 150, 10: 200, 11: 200, 20: 200, 21: 300, 40: 400}
	next := func(_ context.Context, k int64) (Row, error) {
		i := sort.Search(len(keys), func(i int) bool { return keys[i] >= k })
		if i == len(keys) {
			return Row{}, errors.New("no row at or after the key")
		}
		return Row{Key: keys[i], At: at[keys[i]]}, nil
	}
	for target, want := range map[int64]int64{0: 3, 100: 3, 101: 5, 150: 5, 151: 10, 200: 10, 250: 21, 300: 21, 400: 22, 401: 41} {
		got, err := FirstAtOrAfter(context.Background(), 3, 40, target, next)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("target %d: key %d, want %d", target, got, want)
		}
		// No row of the target instant or later comes before the key.
		for _, k := range keys {
			if k < got && at[k] >= target {
				t.Errorf("target %d: key %d is past row %d (instant %d)", target, got, k, at[k])
			}
		}
	}
	if got, err := FirstAtOrAfter(context.Background(), 0, 0, 5, next); err != nil || got != 0 {
		t.Errorf("no rows: %d, %v; want 0", got, err)
	}
	boom := errors.New("boom")
	if _, err := FirstAtOrAfter(context.Background(), 3, 40, 200, func(context.Context, int64) (Row, error) { return Row{}, boom }); !errors.Is(err, boom) {
		t.Errorf("a read's error: %v", err)
	}
}
