package app

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/db/pgtest"
	"github.com/reminderd/reminderd/internal/db/postgres"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Three processes (three wechat.Client values over three store handles on
// one database) share one access token: starting at once they fetch it
// once; when it nears its end they fetch the next once; when WeChat
// rejects it (40001 to all of them at once) they fetch a new one once, and
// the late invalidations keep it.
func TestFleetFetchesTheTokenOnce(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.Database(t)
		fleetTokenTest(t, func(t *testing.T) store.EngineStore {
			d, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 4})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			return d
		})
	})
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "fleet.db")
		fleetTokenTest(t, func(t *testing.T) store.EngineStore {
			d, err := db.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			return d
		})
	})
}

func fleetTokenTest(t *testing.T, open func(t *testing.T) store.EngineStore) {
	ctx := context.Background()
	clock := wechattest.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	fake := wechattest.New(wechattest.Options{Now: clock.Now, Seed: 3})
	t.Cleanup(fake.Close)
	for _, tm := range wechattest.DemoTemplates() {
		fake.AddTemplate(tm)
	}
	const procs, callers = 3, 4
	var mu sync.Mutex
	fetched := 0
	clients := make([]*wechat.Client, procs)
	for i := range clients {
		c, err := wechat.New(wechat.Config{BaseURL: fake.URL, AppID: fake.AppID(), Secret: fake.Secret(), Now: clock.Now,
			HTTPClient: &http.Client{Timeout: 5 * time.Second}, TokenStore: tokenStore{open(t)},
			OnToken: func(e wechat.TokenEvent) {
				if e.Kind == "fetched" {
					mu.Lock()
					fetched++
					mu.Unlock()
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = c
	}
	// all runs f on every client, several callers each, at once.
	all := func(f func(c *wechat.Client, k int) error) {
		t.Helper()
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, c := range clients {
			for j := range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					if err := f(c, i*callers+j); err != nil {
						t.Error(err)
					}
				}()
			}
		}
		close(start)
		wg.Wait()
	}
	values := func() map[string]bool {
		t.Helper()
		seen := map[string]bool{}
		var smu sync.Mutex
		all(func(c *wechat.Client, _ int) error {
			tok, err := c.AccessToken(ctx)
			if err != nil {
				return err
			}
			smu.Lock()
			seen[tok.Value.Reveal()] = true
			smu.Unlock()
			return nil
		})
		return seen
	}
	check := func(when string, wantFetches int) {
		t.Helper()
		if got := fake.Counts().StableToken; got != wantFetches {
			t.Fatalf("%s: WeChat saw %d token fetches, want %d", when, got, wantFetches)
		}
		mu.Lock()
		defer mu.Unlock()
		if fetched != wantFetches {
			t.Fatalf("%s: the clients fetched %d times, want %d", when, fetched, wantFetches)
		}
	}

	if seen := values(); len(seen) != 1 {
		t.Fatalf("at start the processes hold %d tokens, want one", len(seen))
	}
	check("start", 1)
	// Within RefreshBefore (5 min) of its end: one fetch of the next.
	clock.Advance(7200*time.Second - 4*time.Minute)
	if seen := values(); len(seen) != 1 {
		t.Fatalf("after the refresh the processes hold %d tokens, want one", len(seen))
	}
	check("refresh", 2)
	// WeChat revokes the token: every process's sends get 40001 at once.
	fake.RevokeTokens()
	for k := range procs * callers {
		fake.Grant(fmt.Sprintf("o%d", k), wechattest.MeetingTemplateID, 1)
	}
	all(func(c *wechat.Client, k int) error {
		_, err := c.Send(ctx, wechat.SendRequest{ToUser: fmt.Sprintf("o%d", k), TemplateID: wechattest.MeetingTemplateID,
			Data: map[string]string{"thing1": "项目评审会", "time2": "2026-12-01 14:00", "thing3": "A栋201会议室"}})
		return err
	})
	check("after 40001", 3)
	if seen := values(); len(seen) != 1 {
		t.Fatalf("after 40001 the processes hold %d tokens, want one", len(seen))
	}
	check("after 40001, again", 3)
	// Revoked again, but one process meets it first and replaces the
	// token; the others' 40001 with the old version come after, and their
	// invalidations (a compare-and-set on that version) keep the new token.
	fake.RevokeTokens()
	send := func(c *wechat.Client, openID string) {
		t.Helper()
		fake.Grant(openID, wechattest.MeetingTemplateID, 1)
		if _, err := c.Send(ctx, wechat.SendRequest{ToUser: openID, TemplateID: wechattest.MeetingTemplateID,
			Data: map[string]string{"thing1": "项目评审会", "time2": "2026-12-01 14:00", "thing3": "A栋201会议室"}}); err != nil {
			t.Fatal(err)
		}
	}
	send(clients[0], "late0")
	check("the first process after the second revocation", 4)
	send(clients[1], "late1")
	send(clients[2], "late2")
	check("the late processes after the second revocation", 4)
}
