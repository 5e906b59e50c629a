package wechat_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/wechat"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// fleetStore is a FleetTokenStore in memory with the drivers' semantics
// (the real ones, on both databases, are in internal/app's fleet test):
// refused tells of every fetch lease refused.
type fleetStore struct {
	mu       sync.Mutex
	tok      wechat.Token
	version  int64
	fetcher  string
	until    time.Time
	refused  chan struct{}
	released int
	saveErr  error // SaveFetchedToken fails with it (the database down)
}

func (f *fleetStore) LoadToken(context.Context) (wechat.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tok, nil
}

func (f *fleetStore) SaveToken(context.Context, wechat.Token) error {
	return errors.New("not in the fleet path")
}

func (f *fleetStore) AcquireTokenFetch(_ context.Context, holder string, now, until time.Time) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fetcher != holder && now.Before(f.until) {
		select {
		case f.refused <- struct{}{}:
		default:
		}
		return false, nil
	}
	f.fetcher, f.until = holder, until
	return true, nil
}

func (f *fleetStore) ReleaseTokenFetch(_ context.Context, holder string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fetcher == holder {
		f.fetcher, f.until = "", time.Time{}
		f.released++
	}
	return nil
}

func (f *fleetStore) SaveFetchedToken(_ context.Context, t wechat.Token, holder string, _ time.Time) (wechat.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.saveErr != nil {
		return wechat.Token{}, f.saveErr
	}
	f.version++
	t.Version = f.version
	f.tok = t
	if f.fetcher == holder {
		f.fetcher, f.until = "", time.Time{}
	}
	return t, nil
}

func (f *fleetStore) InvalidateToken(_ context.Context, version int64, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.version == version {
		f.tok = wechat.Token{}
	}
	return nil
}

// A process that took the fetch lease and died blocks the others only
// until the lease runs out: a client waiting for it then takes it over and
// fetches.
func TestFetchLeaseOfADeadProcessRunsOut(t *testing.T) {
	fs := &fleetStore{refused: make(chan struct{}, 1)}
	e := newEnv(t, func(c *wechat.Config) { c.TokenStore = fs })
	if ok, _ := fs.AcquireTokenFetch(context.Background(), "dead", e.clock.Now(), e.clock.Now().Add(30*time.Second)); !ok {
		t.Fatal("lease not taken")
	}
	got := make(chan error, 1)
	go func() {
		_, err := e.client.AccessToken(context.Background())
		got <- err
	}()
	<-fs.refused // the client waits for the dead holder
	if n := e.fake.Counts().StableToken; n != 0 {
		t.Fatalf("the client fetched %d times while the lease was taken", n)
	}
	e.clock.Advance(31 * time.Second)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if n := e.fake.Counts().StableToken; n != 1 {
		t.Fatalf("%d fetches after the lease ran out, want 1", n)
	}
	if fs.version != 1 || fs.fetcher != "" {
		t.Fatalf("after the fetch: version %d, lease held by %q; want 1 and free", fs.version, fs.fetcher)
	}
}

// A client waiting for the fetch lease uses the token its holder saves,
// without fetching; a failed fetch gives the lease up.
func TestFetchLeaseWaiterUsesTheSavedToken(t *testing.T) {
	fs := &fleetStore{refused: make(chan struct{}, 1)}
	e := newEnv(t, func(c *wechat.Config) { c.TokenStore = fs })
	now := e.clock.Now()
	fs.AcquireTokenFetch(context.Background(), "other", now, now.Add(30*time.Second))
	got := make(chan wechat.Token, 1)
	go func() {
		tok, err := e.client.AccessToken(context.Background())
		if err != nil {
			t.Error(err)
		}
		got <- tok
	}()
	<-fs.refused
	saved, _ := fs.SaveFetchedToken(context.Background(), wechat.Token{Value: wechat.NewSecret("from-other"), ExpiresAt: now.Add(2 * time.Hour)}, "other", now)
	if tok := <-got; !tok.Value.Equal(saved.Value) || tok.Version != saved.Version {
		t.Fatalf("the waiter got version %d, want the saved token at %d", tok.Version, saved.Version)
	}
	if n := e.fake.Counts().StableToken; n != 0 {
		t.Fatalf("the waiter fetched %d times", n)
	}

	// A fetch that fails releases the lease.
	fs2 := &fleetStore{refused: make(chan struct{}, 1)}
	e2 := newEnv(t, func(c *wechat.Config) { c.TokenStore = fs2 })
	e2.fake.SetFaults(wechattest.Faults{HTTP500Rate: 1, AllEndpoints: true})
	if _, err := e2.client.AccessToken(context.Background()); err == nil {
		t.Fatal("a failed fetch gave a token")
	}
	if fs2.released != 1 || fs2.fetcher != "" {
		t.Fatalf("after a failed fetch: %d releases, lease held by %q", fs2.released, fs2.fetcher)
	}
}

// A fetched token that cannot be saved (the database down) still serves
// this process, and the fetch lease is given up at once: the other
// processes do not wait for it to run out.
func TestFetchLeaseReleasedWhenTheSaveFails(t *testing.T) {
	fs := &fleetStore{refused: make(chan struct{}, 1), saveErr: errors.New("database down")}
	e := newEnv(t, func(c *wechat.Config) { c.TokenStore = fs })
	tok, err := e.client.AccessToken(context.Background())
	if err != nil || tok.Value.IsZero() {
		t.Fatalf("AccessToken = %v, %v; want the fetched token despite the failed save", tok, err)
	}
	if fs.fetcher != "" || fs.released != 1 {
		t.Fatalf("after a failed save the lease is held by %q (released %d times); want released once", fs.fetcher, fs.released)
	}
}
