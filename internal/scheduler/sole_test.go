package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reminderd/reminderd/internal/catalog"
	"github.com/reminderd/reminderd/internal/db/pgtest"
	"github.com/reminderd/reminderd/internal/db/postgres"
	"github.com/reminderd/reminderd/internal/scheduler"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// countingStore counts the per-send leases an engine takes, and fails
// its sole-sender ticks when failSole is set (a store the process cannot
// reach).
type countingStore struct {
	store.Store
	acquires atomic.Int64
	failSole atomic.Bool
}

func (c *countingStore) SoleSender(ctx context.Context, in store.Instance, want bool, now time.Time, ttl, grace, window time.Duration) (store.SoleState, error) {
	if c.failSole.Load() {
		return store.SoleFree, errors.New("the database is unreachable")
	}
	return c.Store.SoleSender(ctx, in, want, now, ttl, grace, window)
}

func (c *countingStore) AcquireUserSend(ctx context.Context, openID, holder string, now, until time.Time, reminderID string, attempt int64) (bool, error) {
	c.acquires.Add(1)
	return c.Store.AcquireUserSend(ctx, openID, holder, now, until, reminderID, attempt)
}

// soleFleet is engines on one PostgreSQL database against one fake,
// started and stopped one by one.
type soleFleet struct {
	t    *testing.T
	url  string
	fake *wechattest.Server
	raw  *pgxpool.Pool
	db   *postgres.DB // for creating reminders

	mu      sync.Mutex
	sent    map[string]int // reminder id → sent outcomes
	busy    int            // sends answered 43108
	sentSig chan struct{}
	n       int
	// outcomes receives every outcome (dropped when full).
	outcomes chan scheduler.Outcome
}

type soleEngine struct {
	e     *scheduler.Engine
	store *countingStore
	ticks *scheduler.TestSignal
	stop  context.CancelFunc
	done  chan struct{}
}

func newSoleFleet(t *testing.T) *soleFleet {
	ctx := context.Background()
	f := &soleFleet{t: t, url: pgtest.Database(t), sent: map[string]int{}, sentSig: make(chan struct{}, 1),
		outcomes: make(chan scheduler.Outcome, 256)}
	f.fake = wechattest.New(wechattest.Options{Seed: 9})
	t.Cleanup(f.fake.Close)
	for _, tm := range wechattest.DemoTemplates() {
		f.fake.AddTemplate(tm)
	}
	f.fake.SetFaults(wechattest.Faults{Latency: 5 * time.Millisecond})
	var err error
	if f.db, err = postgres.Open(ctx, f.url, postgres.Options{MaxConns: 4}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.db.Close() })
	if f.raw, err = pgxpool.New(ctx, f.url); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.raw.Close)
	return f
}

// start runs an engine named owner (its own pool: another process).
func (f *soleFleet) start(owner string, mutate func(*scheduler.Config)) *soleEngine {
	t := f.t
	ctx := context.Background()
	d, err := postgres.Open(ctx, f.url, postgres.Options{MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	cs := &countingStore{Store: d}
	e := fleetEngine(t, cs, f.fake, owner, f.observe, func(c *scheduler.Config) {
		c.ScanEvery, c.UserBusyDelay, c.SoleTTL = 20*time.Millisecond, 10*time.Millisecond, 250*time.Millisecond
		if mutate != nil {
			mutate(c)
		}
	})
	se := &soleEngine{e: e, store: cs, ticks: scheduler.SoleTicks(e), done: make(chan struct{})}
	runCtx, stop := context.WithCancel(ctx)
	se.stop = stop
	go func() { defer close(se.done); _ = e.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-se.done })
	return se
}

func (f *soleFleet) observe(o scheduler.Outcome) {
	select {
	case f.outcomes <- o:
	default:
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if o.ErrCode == 43108 {
		f.busy++
	}
	if o.Status == "sent" {
		f.sent[o.ReminderID]++
		select {
		case f.sentSig <- struct{}{}:
		default:
		}
	}
}

// add creates k reminders due now for each of users, the consents first
// (the running engines may claim a reminder at once).
func (f *soleFleet) add(users []string, k int) []string {
	ctx := context.Background()
	now := time.Now()
	for _, u := range users {
		f.fake.Grant(u, meetingID, k)
		for i := range k {
			if _, err := f.db.ApplyPushEvent(ctx, store.PushEvent{At: now, BodyHash: fmt.Sprintf("accept-%d-%s-%d", f.n, u, i), OpenID: u,
				Answers: []store.ConsentAnswer{{TemplateID: meetingID, Accept: true}}}); err != nil {
				f.t.Fatal(err)
			}
		}
	}
	var ids []string
	for _, u := range users {
		for range k {
			f.n++
			id := fmt.Sprintf("rem_%05d", f.n)
			p := store.NewReminder{ID: id, OpenID: u, TemplateID: meetingID, FireAt: now, ExpiresAt: now.Add(time.Hour),
				Window: time.Hour, HasWindow: true, Timezone: "Asia/Shanghai",
				Data: fmt.Sprintf(`{"thing1":"会议 %d","time2":"2026-12-01 14:00","thing3":"A栋201"}`, f.n), CreatedAt: now}
			if _, err := f.db.CreateReminder(ctx, p); err != nil {
				f.t.Fatal(err)
			}
			ids = append(ids, id)
		}
	}
	return ids
}

// waitSent waits until every id is recorded sent.
func (f *soleFleet) waitSent(ids []string) {
	f.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		f.mu.Lock()
		all := true
		for _, id := range ids {
			all = all && f.sent[id] > 0
		}
		f.mu.Unlock()
		if all {
			return
		}
		select {
		case <-f.sentSig:
		case <-deadline:
			f.t.Fatalf("not every reminder of %v was sent within 30 s", ids)
		}
	}
}

// marks counts ids by their claim's start mark (send_started): NULL
// (claimed by a sole sender, unmarked) and false (marked unstarted).
func (f *soleFleet) marks(ids []string) (unmarked, marked int) {
	f.t.Helper()
	if err := f.raw.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE send_started IS NULL), count(*) FILTER (WHERE send_started = false)
		FROM reminders WHERE id = ANY($1)`, ids).Scan(&unmarked, &marked); err != nil {
		f.t.Fatal(err)
	}
	return unmarked, marked
}

func waitSole(t *testing.T, se *soleEngine, who string, want store.SoleState) {
	t.Helper()
	se.ticks.WaitFor(t, 30*time.Second, who+"'s sole-sender lease", func() bool {
		st, active := scheduler.SoleState(se.e)
		return active && st == want
	})
}

// One process on PostgreSQL is alone: it holds the sole-sender lease and
// sends without the per-send lease, its claims unmarked. A second process
// appears while the first has sends in flight to the same users: the
// first yields, gives the lease up once its sends are recorded, and from
// then on both send with the per-send lease, claims marked. The second
// stops while sends are in flight, and the first is alone again. Never two
// sends to one user at once (the fake answers 43108), each reminder sent
// once.
func TestSoleSenderAloneThenShared(t *testing.T) {
	f := newSoleFleet(t)
	f.fake.SetFaults(wechattest.Faults{Latency: 20 * time.Millisecond})
	a := f.start("procA", nil)
	waitSole(t, a, "A alone", store.SoleHeld)
	users := []string{"sole-o1", "sole-o2", "sole-o3"}
	alone := f.add(users, 2)
	f.waitSent(alone)
	if n := a.store.acquires.Load(); n != 0 {
		t.Fatalf("A alone took %d per-send leases; want none", n)
	}
	if unmarked, _ := f.marks(alone); unmarked != len(alone) {
		t.Fatalf("%d of A's %d claims unmarked; want all (a rescue takes them as possibly sent)", unmarked, len(alone))
	}

	// B appears while A works through ten reminders per user.
	handover := f.add(users, 10)
	b := f.start("procB", nil)
	f.waitSent(handover)
	waitSole(t, a, "A beside B", store.SoleFree)
	waitSole(t, b, "B beside A", store.SoleFree)
	before := a.store.acquires.Load() + b.store.acquires.Load()
	shared := f.add(users, 4)
	f.waitSent(shared)
	if got := a.store.acquires.Load() + b.store.acquires.Load() - before; got < int64(len(shared)) {
		t.Fatalf("A and B took %d per-send leases for %d sends; want one per send at least", got, len(shared))
	}
	if _, marked := f.marks(shared); marked != len(shared) {
		t.Fatalf("%d of the %d shared claims marked unstarted; want all", marked, len(shared))
	}

	// B stops while both work through ten reminders per user.
	leaving := f.add(users, 10)
	b.stop()
	<-b.done
	f.waitSent(leaving)
	waitSole(t, a, "A after B stopped", store.SoleHeld)
	again := f.add(users, 1)
	f.waitSent(again)
	if unmarked, _ := f.marks(again); unmarked != len(again) {
		t.Fatalf("%d of A's %d claims unmarked once alone again; want all", unmarked, len(again))
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if f.busy != 0 {
		t.Fatalf("%d sends answered 43108 (two in flight to one user)", f.busy)
	}
	for id, n := range f.sent {
		if n != 1 {
			t.Fatalf("%s sent %d times", id, n)
		}
	}
	if got, want := len(f.fake.Sends()), len(alone)+len(handover)+len(shared)+len(leaving)+len(again); got != want {
		t.Fatalf("WeChat has %d messages, want %d", got, want)
	}
}

// A process that is shutting down stays visible until its last send is
// recorded: the other process, alone but for it, does not take the
// sole-sender lease meanwhile, even at a moment when no send lease of the
// leaving process is live (found by a review: the instance row went at the
// start of the shutdown, and a process alone could take the lease beside
// the leaving one's last sends).
func TestSoleSenderNotTakenBesideALeavingProcessesSends(t *testing.T) {
	f := newSoleFleet(t)
	gates := map[string]*gatedSender{}
	gated := func(owner string) func(*scheduler.Config) {
		return func(c *scheduler.Config) {
			g := &gatedSender{Sender: c.Sender, entered: make(chan struct{}), release: make(chan struct{})}
			gates[owner] = g
			c.Sender = g
		}
	}
	engines := map[string]*soleEngine{"procA": f.start("procA", gated("procA"))}
	waitSole(t, engines["procA"], "A alone", store.SoleHeld)
	engines["procB"] = f.start("procB", gated("procB"))
	var opened sync.Map
	open := func(owner string) {
		if _, done := opened.LoadOrStore(owner, true); !done {
			close(gates[owner].release)
		}
	}
	// Before the engines' cleanups (LIFO): a failing test must not leave a
	// send held, or the engine's shutdown would wait for it for ever.
	t.Cleanup(func() { open("procA"); open("procB") })
	waitSole(t, engines["procA"], "A beside B", store.SoleFree)
	waitSole(t, engines["procB"], "B beside A", store.SoleFree)
	ids := f.add([]string{"leaving-o1"}, 1)
	var leaving, staying string
	select {
	case <-gates["procA"].entered:
		leaving, staying = "procA", "procB"
	case <-gates["procB"].entered:
		leaving, staying = "procB", "procA"
	case <-time.After(30 * time.Second):
		t.Fatal("no send started within 30 s")
	}
	open(staying) // its sends, if any, are not held
	engines[leaving].stop()
	// The moment between two sends of the leaving process: none of its
	// send leases is live.
	if _, err := f.raw.Exec(context.Background(), `DELETE FROM user_sends`); err != nil {
		t.Fatal(err)
	}
	o := engines[staying]
	n := o.ticks.Count()
	o.ticks.WaitFor(t, 30*time.Second, "three ticks of "+staying, func() bool { return o.ticks.Count() >= n+3 })
	if st, _ := scheduler.SoleState(o.e); st == store.SoleHeld {
		t.Fatalf("%s took the sole-sender lease while %s was still sending", staying, leaving)
	}
	open(leaving)
	<-engines[leaving].done
	f.waitSent(ids)
	waitSole(t, o, staying+" after "+leaving+" left", store.SoleHeld)
}

// A process run with NoSoleSender (REMINDERD_SOLE_SENDER=false) never takes
// the lease but obeys it: beside a holder it sends nothing until the
// holder has yielded, and alone it goes on with the per-send lease.
func TestNoSoleSenderObeysTheLease(t *testing.T) {
	f := newSoleFleet(t)
	a := f.start("procA", nil)
	waitSole(t, a, "A alone", store.SoleHeld)
	b := f.start("procB", func(c *scheduler.Config) { c.NoSoleSender = true })
	waitSole(t, a, "A beside B", store.SoleFree)
	waitSole(t, b, "B beside A", store.SoleFree)
	a.stop()
	<-a.done
	n := b.ticks.Count()
	b.ticks.WaitFor(t, 30*time.Second, "three ticks of B alone", func() bool { return b.ticks.Count() >= n+3 })
	if st, _ := scheduler.SoleState(b.e); st != store.SoleFree {
		t.Fatalf("B alone with NoSoleSender: %v; want free", st)
	}
	ids := f.add([]string{"never-o1", "never-o2"}, 2)
	f.waitSent(ids)
	if got := b.store.acquires.Load(); got < int64(len(ids)) {
		t.Fatalf("B took %d per-send leases for %d sends; want one per send", got, len(ids))
	}
}

// A sole sender that died without giving the lease up (a kill -9: its row
// is left live) keeps a new process from sending until the lease has run
// out and a client timeout after it has passed; then the new process
// sends.
func TestSoleSenderDeadHolderBlocksUntilItRunsOut(t *testing.T) {
	f := newSoleFleet(t)
	const budget = 2 * time.Second
	if _, err := f.raw.Exec(context.Background(), `INSERT INTO leader (name, holder, elected_at, expires_at)
		VALUES ('sole_sender', 'dead', 0, (extract(epoch FROM now()) * 1000)::bigint + 500)`); err != nil {
		t.Fatal(err)
	}
	var freeAt time.Time // the dead lease's end plus the grace, on the database's clock
	if err := f.raw.QueryRow(context.Background(), `SELECT to_timestamp((expires_at + $1::bigint) / 1000.0) FROM leader WHERE name = 'sole_sender'`,
		budget.Milliseconds()).Scan(&freeAt); err != nil {
		t.Fatal(err)
	}
	ids := f.add([]string{"dead-o1", "dead-o2"}, 1)
	c := f.start("procC", func(c *scheduler.Config) { c.ClientTimeout, c.Lease = budget, 30*time.Second })
	waitSole(t, c, "C beside a dead holder", store.SoleOther)
	if n := len(f.fake.Sends()); n != 0 {
		t.Fatalf("C sent %d while the dead holder's lease was live", n)
	}
	f.waitSent(ids)
	if st, _ := scheduler.SoleState(c.e); st != store.SoleHeld {
		t.Fatalf("C's lease after the dead one ran out: %v; want held", st)
	}
	var first time.Time
	if err := f.raw.QueryRow(context.Background(), `SELECT to_timestamp(min(started_at) / 1000.0) FROM deliveries WHERE reminder_id = ANY($1)`,
		ids).Scan(&first); err != nil {
		t.Fatal(err)
	}
	if first.Before(freeAt) {
		t.Fatalf("C's first send started at %v, before the dead holder's lease and grace ended at %v", first, freeAt)
	}
}

// A send without the per-send lease still at WeChat when the lease runs
// out unrenewed (the process cannot reach the database) is interrupted,
// its outcome unknown: once the others may take the lease (a client
// timeout after its end), no send of the old holder is still in flight.
func TestSoleSenderSendInterruptedWhenTheLeaseRunsOut(t *testing.T) {
	f := newSoleFleet(t)
	a := f.start("procA", nil)
	waitSole(t, a, "A alone", store.SoleHeld)
	f.fake.SetFaults(wechattest.Faults{Latency: 20 * time.Second})
	ids := f.add([]string{"cut-o1"}, 1)
	// Wait for the request to be at the fake, then cut A off.
	deadline := time.Now().Add(30 * time.Second)
	for f.fake.Counts().Send == 0 && len(f.fake.Sends()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the send did not reach WeChat within 30 s")
		}
		select {
		case o := <-f.outcomes:
			t.Fatalf("an outcome before the lease ran out: %+v", o)
		case <-time.After(10 * time.Millisecond):
		}
	}
	a.store.failSole.Store(true)
	select {
	case o := <-f.outcomes:
		if o.ReminderID != ids[0] || o.Status != "abandoned" {
			t.Fatalf("outcome %+v; want %s abandoned (the send interrupted, its outcome unknown)", o, ids[0])
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the send went on after the sole-sender lease ran out")
	}
}

// fleetEngine is one process's engine on the shared store d against fake:
// its own WeChat client and template catalog (synced), discarded logs, a
// breaker that never opens, 8 sends in flight and claims of 8; mutate
// adjusts the rest.
func fleetEngine(t *testing.T, d store.Store, fake *wechattest.Server, owner string, observe func(scheduler.Outcome),
	mutate func(*scheduler.Config)) *scheduler.Engine {
	t.Helper()
	client, err := wechat.New(wechat.Config{BaseURL: fake.URL, AppID: fake.AppID(), Secret: fake.Secret(),
		HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(d, client, time.Now, nil)
	if err := cat.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfg := scheduler.Config{Store: d, Sender: client, Templates: cat, Owner: owner,
		Logger: slog.New(slog.DiscardHandler), BreakerFailures: 1000, Concurrency: 8, BatchSize: 8, Observer: observe}
	if mutate != nil {
		mutate(&cfg)
	}
	e, err := scheduler.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
