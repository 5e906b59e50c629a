package batch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// In a synctest bubble: synctest.Wait lets every other caller queue
// behind the running batch, and the 30 s guard runs on the bubble's clock.
func TestBatcherGivesEachCallerItsOwnResult(t *testing.T) {
	synctest.Test(t, testBatcherGivesEachCallerItsOwnResult)
}

func testBatcherGivesEachCallerItsOwnResult(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	b := New(4, func(ctx context.Context, batch []int) []error {
		mu.Lock()
		sizes = append(sizes, len(batch))
		mu.Unlock()
		synctest.Wait() // the next batch forms: every other caller queues
		errs := make([]error, len(batch))
		for i, v := range batch {
			if v%2 == 1 {
				errs[i] = fmt.Errorf("odd %d", v)
			}
		}
		return errs
	})
	var wg sync.WaitGroup
	for v := range 50 {
		wg.Go(func() {
			err := b.Do(context.Background(), v)
			if (v%2 == 1) != (err != nil) || err != nil && err.Error() != fmt.Sprintf("odd %d", v) {
				t.Errorf("caller %d got %v", v, err)
			}
		})
	}
	// A leader whose own request did not fit in its batch once waited
	// for it forever.
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(30 * time.Second):
		t.Fatal("callers still waiting after 30 s: a request was left pending")
	}
	total := 0
	for _, n := range sizes {
		if n < 1 || n > 4 {
			t.Errorf("a batch of %d, want 1 to 4", n)
		}
		total += n
	}
	if total != 50 || len(sizes) == 50 {
		t.Errorf("%d requests in %d batches, want 50 in fewer", total, len(sizes))
	}
}

// A leader whose own request was not in the batch it ran must not take
// that batch's panic, nor leave its own request for a later caller. In a
// synctest bubble, so that "bad" queues before "good" and both are queued
// before the first batch ends, each time.
func TestBatcherLeaderOutsideAPanickingBatch(t *testing.T) {
	synctest.Test(t, testBatcherLeaderOutsideAPanickingBatch)
}

func testBatcherLeaderOutsideAPanickingBatch(t *testing.T) {
	for range 20 {
		release, entered := make(chan struct{}), make(chan struct{})
		var mu sync.Mutex
		var ran []string
		b := New(1, func(ctx context.Context, batch []string) []error {
			if batch[0] == "block" {
				close(entered)
				<-release
			}
			mu.Lock()
			ran = append(ran, batch[0])
			mu.Unlock()
			if batch[0] == "bad" {
				panic("bug")
			}
			return []error{nil}
		})
		do := func(v string) (err error, panicked bool) {
			defer func() {
				if recover() != nil {
					panicked = true
				}
			}()
			return b.Do(context.Background(), v), false
		}
		go func() { _, _ = do("block") }()
		<-entered
		bad := make(chan bool)
		go func() { err, p := do("bad"); bad <- err != nil || p }()
		synctest.Wait() // "bad" waits in the queue before "good" joins it
		good := make(chan error)
		go func() {
			err, p := do("good")
			if p {
				err = errors.New("the panic of another request's batch")
			}
			mu.Lock()
			n := 0
			for _, v := range ran {
				if v == "good" {
					n++
				}
			}
			mu.Unlock()
			if err == nil && n != 1 {
				err = fmt.Errorf("returned with its request run %d times", n)
			}
			good <- err
		}()
		synctest.Wait() // "good" waits in the queue too
		close(release)
		if err := <-good; err != nil {
			t.Fatalf("good: %v", err)
		}
		if !<-bad {
			t.Fatal("the panicking request reported success")
		}
	}
}

// recordingBatcher returns a batcher of at most max requests that records
// the batches it runs.

// recordingBatcher returns a batcher of at most max requests that records
// the batches it runs.
func recordingBatcher(max int) (*Batcher[string], func() [][]string) {
	var mu sync.Mutex
	var batches [][]string
	b := New(max, func(ctx context.Context, batch []string) []error {
		mu.Lock()
		batches = append(batches, append([]string(nil), batch...))
		mu.Unlock()
		return make([]error, len(batch))
	})
	return b, func() [][]string {
		mu.Lock()
		defer mu.Unlock()
		return append([][]string(nil), batches...)
	}
}

func TestBatcherGathersTheRequestsExpectedSoon(t *testing.T) {
	t.Run("a leader waits for the expected request", func(t *testing.T) {
		b, batches := recordingBatcher(8)
		var expected atomic.Int64
		expected.Store(1)
		asked := make(chan struct{}, 1)
		b.Gather(time.Hour, func() int {
			n := int(expected.Load()) // read before telling the test it was asked
			select {
			case asked <- struct{}{}:
			default:
			}
			return n
		}, nil)
		aDone, bDone := make(chan struct{}), make(chan struct{})
		go func() { _ = b.Do(context.Background(), "a"); close(aDone) }()
		within(t, asked, "the leader never asked what to expect")
		expected.Store(0) // "b" is the last one expected
		go func() { _ = b.Do(context.Background(), "b"); close(bDone) }()
		within(t, aDone, "a")
		within(t, bDone, "b")
		if got := batches(); len(got) != 1 || len(got[0]) != 2 {
			t.Fatalf("batches %v, want [a b] in one", got)
		}
	})
	t.Run("no longer than the linger", func(t *testing.T) {
		b, batches := recordingBatcher(8)
		b.Gather(20*time.Millisecond, func() int { return 1 }, nil) // never arrives
		done := make(chan struct{})
		go func() { _ = b.Do(context.Background(), "a"); close(done) }()
		within(t, done, "a leader kept waiting past its linger")
		if got := batches(); len(got) != 1 || len(got[0]) != 1 {
			t.Fatalf("batches %v, want [a]", got)
		}
	})
	t.Run("not once the batch is full", func(t *testing.T) {
		b, batches := recordingBatcher(2)
		b.Gather(time.Hour, func() int { return 5 }, nil)
		var wg sync.WaitGroup
		for _, v := range []string{"a", "b"} {
			wg.Go(func() { _ = b.Do(context.Background(), v) })
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		within(t, done, "a full batch was held for more")
		if got := batches(); len(got) != 1 || len(got[0]) != 2 {
			t.Fatalf("batches %v, want [a b]", got)
		}
	})
}

// within fails the test if done is not closed within 30 s.
func within(t *testing.T, done <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("still waiting after 30 s: %s", what)
	}
}

func TestBatcherAfterAPanic(t *testing.T) {
	ctx := context.Background()
	// A group commit whose leader panics: the others get an error, and
	// the group goes on.
	b := New(8, func(ctx context.Context, batch []int) []error {
		for _, v := range batch {
			if v == 0 {
				panic("bug")
			}
		}
		return make([]error, len(batch))
	})
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic did not reach the caller")
			}
		}()
		_ = b.Do(ctx, 0)
	}()
	if err := b.Do(ctx, 1); err != nil {
		t.Fatalf("the batcher after a panic: %v", err)
	}
}
