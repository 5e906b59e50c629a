// The engine: its Config and defaults, New, the wake-ups (Wake), Run and
// its shutdown, the due scan (ScanOnce, scanBatch), the dispatch of claims to
// reused workers, and the per-user lock. A scan waits on scanMu and the
// writer (the claim, claim.go); Run waits on wake-ups and, at shutdown, on
// the sends in flight for ShutdownGrace. A worker's work is in send.go.

package scheduler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"

	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat"
)

// Sender sends one subscribe message (a *wechat.Client). Its errors are
// classified with wechat.Classify.
type Sender interface {
	Send(ctx context.Context, r wechat.SendRequest) (wechat.SendResult, error)
}

// Templates looks templates up (a *catalog.Catalog).
type Templates interface {
	Get(id string) (*wechat.Template, bool)
}

// Config configures an Engine. Store, Sender and Templates are required;
// the zero value of every other field takes the default named beside it.
type Config struct {
	Store     store.EngineStore
	Sender    Sender
	Templates Templates
	Now       func() time.Time // time.Now
	Logger    *slog.Logger     // discard
	// Owner names this process in lease_owner (default host-pid-random).
	Owner string
	// ScanEvery is the due-scan period (1 s).
	ScanEvery time.Duration
	// BatchSize bounds one claim (100).
	BatchSize int
	// Concurrency is the number of sends in flight (8).
	Concurrency int
	// RateLimit caps sends per second (0: no cap).
	RateLimit float64
	// Lease is how long a claim holds a reminder before the rescuer may
	// take it back (2 min).
	Lease time.Duration
	// SendBudget is the longest a send may take: a token fetch and a send,
	// twice over with the token retry (45 s). A claim whose remaining lease
	// is shorter than this is released instead of sent, so that a live
	// process never sends a reminder the rescuer may already have handed on.
	SendBudget time.Duration
	// MaxAttempts bounds the attempts at one occurrence (6).
	MaxAttempts int
	// BackoffBase and BackoffMax shape retries: about base, 2×base, 4×base
	// …, capped, with ±25 % jitter (1 s, 1 min).
	BackoffBase, BackoffMax time.Duration
	// DefaultLateness bounds how late a reminder without expires_at may be
	// sent (15 min).
	DefaultLateness time.Duration
	// UserBusyDelay defers a reminder after a 43108 (2 s).
	UserBusyDelay time.Duration
	// BreakerFailures consecutive transient failures open the breaker (5);
	// it stays open BreakerTimeout (30 s), then lets one send probe.
	BreakerFailures uint32
	BreakerTimeout  time.Duration
	// ShutdownGrace is how long in-flight sends may finish on shutdown (10 s).
	ShutdownGrace time.Duration
	// RecordWait is how long an outcome's record may wait for the outcomes
	// of the sends still in flight, to share their commit (2 ms; negative:
	// no wait): the store's ExpectOutcomes.
	RecordWait time.Duration
	// UnknownWait is how long an attempt of unknown outcome (the request may
	// have reached WeChat, no valid answer came back) waits for WeChat's sent
	// event before the reminder is sent again, never past its window (2 min).
	UnknownWait time.Duration
	// ClientTimeout is the WeChat client's timeout (10 s): a send is never
	// started with less than this left in the reminder's window.
	ClientTimeout time.Duration
	// ResendWithoutPage sends a message again without its page when WeChat
	// refuses the page (41030), instead of failing the occurrence.
	ResendWithoutPage bool
	// QuotaReset returns when WeChat's daily quota resets after now (the
	// next midnight in Beijing).
	QuotaReset func(now time.Time) time.Time
	// Observer, if set, is told of every outcome (for metrics and logs).
	Observer func(Outcome)
	// OnRescue, if set, is told how many leases the rescuer took back.
	OnRescue func(n int)
	// LeaderTTL is how long the leader lease lasts unrenewed (15 s): a
	// leader that stops heartbeating is replaced within LeaderTTL plus one
	// Heartbeat. At least twice Heartbeat (else 3 × Heartbeat).
	LeaderTTL time.Duration
	// Heartbeat is how often the process renews its lease and its instance
	// row (5 s) (leader.go).
	Heartbeat time.Duration
	// SoleTTL is how long the sole-sender lease lasts unrenewed (5 s;
	// sole.go), ticked twenty times as often (a newcomer waits for the
	// holder's tick, then for its own). A process alone on a shared
	// store holds it and sends without the per-send lease; when it dies
	// without giving it up, the others wait SoleTTL plus ClientTimeout.
	SoleTTL time.Duration
	// NoSoleSender: never take the sole-sender lease; every send on a
	// shared store takes the per-send lease (REMINDERD_SOLE_SENDER=false).
	// The process still ticks, so that it waits for another process's
	// lease and makes its holder yield.
	NoSoleSender bool
	// Host is the machine's name in GET /admin/v1/instances (os.Hostname).
	Host string
	// Serves reports whether the reminders of an app are sent (nil: every
	// app's). A reminder of an app no longer served is deferred, not sent
	// and not counted as an attempt: its data stays for when it returns.
	Serves func(appID string) bool
	// Apps lists the served apps (nil: those that have sent): sending
	// pauses whole only when every one's breaker is open.
	Apps func() []string
}

// Outcome describes one processed claim.
type Outcome struct {
	ReminderID string
	AppID      string // the reminder's mini-program (the metrics' appid label)
	OpenID     string
	TemplateID string
	Attempt    int64
	Status     string // the delivery status: sent, failed, retry, deferred, skipped, abandoned, unknown, duplicate
	Reason     string // the reminder's reason, for failed and skipped
	ErrCode    int64  // WeChat's errcode when it answered; -2 when it did not
	Sent       bool   // a request went to WeChat (ErrCode -2 then means no valid answer)
	Latency    time.Duration
	Lateness   time.Duration // sent - fire_at, for sent
	// Late: WeChat accepted the send after the reminder's window closed.
	Late bool
	// PossibleDuplicate: a send after an attempt of unknown outcome.
	PossibleDuplicate bool
	// Settled: an attempt of unknown outcome turned out sent (its sent event
	// came, or WeChat answered 43101 to the resend).
	Settled bool
	// InvalidAnswer: WeChat's answer arrived but was not a JSON object with
	// an integer errcode (a wrong base URL, a proxy): an alarm.
	InvalidAnswer bool
}

var beijing = time.FixedZone("CST", 8*3600)

func nextBeijingMidnight(now time.Time) time.Time {
	t := now.In(beijing)
	return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, beijing)
}

func (c *Config) defaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Owner == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		c.Owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.ScanEvery, time.Second)
	def(&c.Lease, 2*time.Minute)
	def(&c.SendBudget, 45*time.Second)
	if c.SendBudget >= c.Lease {
		c.SendBudget = c.Lease / 2
	}
	def(&c.BackoffBase, time.Second)
	def(&c.BackoffMax, time.Minute)
	def(&c.DefaultLateness, 15*time.Minute)
	def(&c.UnknownWait, 2*time.Minute)
	def(&c.ClientTimeout, 10*time.Second)
	def(&c.UserBusyDelay, 2*time.Second)
	def(&c.BreakerTimeout, 30*time.Second)
	def(&c.ShutdownGrace, 10*time.Second)
	if c.RecordWait == 0 {
		c.RecordWait = 2 * time.Millisecond
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 100
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 8
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 6
	}
	if c.BreakerFailures == 0 {
		c.BreakerFailures = 5
	}
	if c.QuotaReset == nil {
		c.QuotaReset = nextBeijingMidnight
	}
	def(&c.Heartbeat, 5*time.Second)
	def(&c.LeaderTTL, 15*time.Second)
	def(&c.SoleTTL, 5*time.Second)
	if c.LeaderTTL < 2*c.Heartbeat {
		c.LeaderTTL = 3 * c.Heartbeat
	}
	if c.Host == "" {
		c.Host, _ = os.Hostname()
	}
}

// Engine turns due reminders into subscribe messages.
type Engine struct {
	cfg     Config
	store   store.EngineStore
	log     *slog.Logger
	now     func() time.Time
	cbs     sync.Map // appID → its WeChat's circuit breaker (breakers.go)
	quotas  sync.Map // appID → *atomic.Int64: its quota pause, unix ms (quotas.go)
	limiter *rate.Limiter
	jobs    *Jobs
	leader  *leader
	sole    *sole // the sole-sender lease (sole.go)

	wake         chan struct{}
	slots        chan struct{} // one per send in flight
	pending      atomic.Int64  // claimed and not yet recorded
	scanMu       sync.Mutex
	rescan       atomic.Bool
	more         atomic.Bool // the last claim was cut by capacity: rescan when a slot frees
	stopping     atomic.Bool
	inflight     sync.WaitGroup
	sendCtx      context.Context
	cancelSend   context.CancelFunc
	users        keyedMutex
	quotaUntil   atomic.Int64               // unix ms; sending paused until then
	quotaReadAt  atomic.Int64               // unix ms of the last read of the quota pause row (fleet.go)
	adminReadAt  atomic.Int64               // unix ms of the last read of the admin pause row (pause.go)
	adminMu      sync.Mutex                 // orders Pause, Resume and readAdminPause (row and memory together)
	admin        atomic.Pointer[adminPause] // an admin pause (pause.go), or nil
	breakerOpens atomic.Int64

	// Claims are processed by workers, reused (dispatch).
	work           chan store.Claim // to an idle worker (unbuffered)
	workers        atomic.Int64     // worker goroutines alive
	idleWorkers    atomic.Int64     // of which waiting for a claim
	workersStarted atomic.Int64
	sending        atomic.Int64 // sends at WeChat whose outcomes are not queued for the writer yet (the record wait)

	timerMu sync.Mutex
	timer   *time.Timer // a wake-up for the earliest due instant before the next periodic scan
	timerAt time.Time

	signals engineSignals // for tests (testsignal.go); no-ops in production
}

// New builds an Engine and registers its periodic jobs: due_scan,
// lease_rescue and retention. Add more with Jobs().Add before Run.
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil || cfg.Sender == nil || cfg.Templates == nil {
		return nil, errors.New("scheduler: Store, Sender and Templates are required")
	}
	cfg.defaults()
	e := &Engine{
		cfg:   cfg,
		store: cfg.Store,
		log:   cfg.Logger,
		now:   cfg.Now,
		jobs:  NewJobs(cfg.Now, cfg.Logger),
		wake:  make(chan struct{}, 1),
		slots: make(chan struct{}, cfg.Concurrency),
		work:  make(chan store.Claim),
		users: keyedMutex{m: map[string]*userLock{}},
	}
	e.sendCtx, e.cancelSend = context.WithCancel(context.Background())
	e.leader = &leader{store: cfg.Store, now: cfg.Now, ttl: cfg.LeaderTTL, every: cfg.Heartbeat,
		window: cfg.LeaderTTL, log: cfg.Logger,
		self: store.Instance{ID: cfg.Owner, Host: cfg.Host, StartedAt: cfg.Now()}}
	e.jobs.leader = e.leader
	e.sole = &sole{store: cfg.Store, self: e.leader.self, now: cfg.Now, ttl: cfg.SoleTTL, every: max(cfg.SoleTTL/20, time.Millisecond),
		grace: cfg.ClientTimeout, window: cfg.LeaderTTL, never: cfg.NoSoleSender, log: cfg.Logger}
	if cfg.RateLimit > 0 {
		e.limiter = rate.NewLimiter(rate.Limit(cfg.RateLimit), max(1, int(cfg.RateLimit)))
	}
	scan := func(ctx context.Context) error { return e.ScanOnce(ctx) }
	// Every process scans and sends; the other periodic jobs run on the
	// fleet's leader (leader.go).
	if err := e.jobs.AddEveryProcess("due_scan", fmt.Sprintf("@every %s", cfg.ScanEvery), scan); err != nil {
		return nil, err
	}
	rescueEvery := min(10*time.Second, max(time.Second, cfg.Lease/4))
	if err := e.jobs.Add("lease_rescue", fmt.Sprintf("@every %s", rescueEvery), func(ctx context.Context) error { _, err := e.RescueLeases(ctx); return err }); err != nil {
		return nil, err
	}
	// A quota pause outlives a restart.
	if p, err := cfg.Store.Pause(context.Background(), pauseQuota); err == nil {
		e.quotaUntil.Store(p.Until.UnixMilli())
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("scheduler: read the quota pause: %w", err)
	}
	e.readAppQuotas(context.Background())
	if err := e.loadAdminPause(context.Background()); err != nil {
		return nil, err
	}
	// Records of sends that WeChat answers within the wait share one commit
	// instead of each taking the writer as it comes free: a send counts in
	// e.sending (attempt) until the store queues its outcome. A negative
	// RecordWait turns the wait off.
	cfg.Store.ExpectOutcomes(cfg.RecordWait, &e.sending)
	return e, nil
}

// Jobs is the engine's periodic job runner.
func (e *Engine) Jobs() *Jobs { return e.jobs }

// Breaker returns the apps' breakers together (breakersState): "closed",
// "open" (every app's) or "half_open"; BreakerOf is one app's.
func (e *Engine) Breaker() string { return stateName(e.breakersState()) }

// BreakerOpens counts how often a breaker has opened.
func (e *Engine) BreakerOpens() int64 { return e.breakerOpens.Load() }

// QuotaPausedUntil is when sending resumes after a 45009 that paused every
// app, or zero (QuotaPausedUntilOf is one app's).
func (e *Engine) QuotaPausedUntil() time.Time {
	ms := e.quotaUntil.Load()
	if ms == 0 || e.now().UnixMilli() >= ms {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// Wake asks for a scan at t: now if t is due, by a timer if t comes before
// the next periodic scan, not at all if the periodic scan will see it.
func (e *Engine) Wake(t time.Time) {
	d := t.Sub(e.now())
	if d <= 0 {
		e.signal()
		return
	}
	if d > e.cfg.ScanEvery {
		return
	}
	e.timerMu.Lock()
	defer e.timerMu.Unlock()
	if e.timer != nil && !t.Before(e.timerAt) {
		return
	}
	if e.timer != nil {
		e.timer.Stop()
	}
	e.timerAt = t
	e.timer = time.AfterFunc(d, func() {
		e.timerMu.Lock()
		e.timer = nil
		e.timerMu.Unlock()
		e.signal()
	})
}

func (e *Engine) signal() {
	e.signals.woken.signal()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run runs the periodic jobs and the wake-driven scans until ctx ends, then
// shuts down: no more claims, the leadership is resigned (another process
// takes the periodic jobs over at its next heartbeat), in-flight sends get
// ShutdownGrace to finish and record their outcomes, the rest are
// released.
func (e *Engine) Run(ctx context.Context) error {
	jobsCtx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	// The first heartbeat before the jobs start: the first process of a
	// fleet leads from its first job on.
	if err := e.leader.Tick(jobsCtx); err != nil {
		e.log.Warn("fleet heartbeat failed", "error", err)
	}
	beatDone := make(chan struct{})
	go func() { e.leader.run(jobsCtx); close(beatDone) }()
	soleDone := make(chan struct{})
	if e.store.SharedByProcesses() {
		// The sole-sender lease's first tick before the first scan: until
		// one succeeds, no claim is made (sole.go). Bounded, and ended by
		// the shutdown, as its row may be waited for.
		firstCtx, cancelFirst := context.WithTimeout(ctx, e.cfg.SoleTTL/2)
		if err := e.sole.Tick(firstCtx); err != nil {
			e.log.Warn("sole-sender lease tick failed", "error", err)
		}
		cancelFirst()
		go func() {
			e.sole.run(jobsCtx)
			close(soleDone)
		}()
	} else {
		close(soleDone)
	}
	jobsDone := make(chan error, 1)
	go func() { jobsDone <- e.jobs.Run(jobsCtx) }()
	e.Wake(time.Time{}) // reminders that fell due while the process was down
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-e.wake:
			if err := e.ScanOnce(ctx); err != nil && ctx.Err() == nil {
				e.log.Warn("due scan failed", "error", err)
			}
		}
	}
	e.stopping.Store(true)
	stopJobs()
	<-jobsDone
	<-beatDone
	<-soleDone
	resignCtx, cancelResign := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	if err := e.leader.resign(resignCtx); err != nil {
		e.log.Warn("could not resign the leadership; another process takes it over when its lease ends", "error", err)
	}
	cancelResign()
	done := make(chan struct{})
	go func() { e.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(e.cfg.ShutdownGrace):
		e.log.Warn("shutdown grace over; interrupting sends in flight")
		e.cancelSend()
		<-done
	}
	e.cancelSend()
	// Every send is recorded: the sole-sender lease goes, so that another
	// process sends at once rather than when it runs out, and then the
	// instance row.
	releaseCtx, cancelRelease := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	if err := e.sole.release(releaseCtx); err != nil {
		e.log.Warn("could not give the sole-sender lease up; the other processes send once it runs out", "error", err)
	}
	cancelRelease()
	leaveCtx, cancelLeave := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	if err := e.leader.leave(leaveCtx); err != nil {
		e.log.Warn("could not delete this process's instance row; it ages out", "error", err)
	}
	cancelLeave()
	return nil
}

// ScanOnce claims due reminders up to the free send capacity and starts
// their sends. It returns once they are started; WaitIdle waits for them.
func (e *Engine) ScanOnce(ctx context.Context) error {
	if !e.scanMu.TryLock() {
		e.rescan.Store(true)
		return nil
	}
	defer e.scanMu.Unlock()
	defer e.signals.scanned.signal()
	e.readQuotaPause(ctx) // another process may have hit the quota (fleet.go)
	e.readAdminPause(ctx) // or an admin paused or resumed there (pause.go)
	for {
		e.rescan.Store(false)
		n, err := e.scanBatch(ctx)
		if err != nil {
			return err
		}
		if n == 0 && !e.rescan.Load() {
			break
		}
	}
	// Sub-second precision: wake for the next due reminder (a retry's
	// backoff, a reminder created for half a second from now).
	next, err := e.store.NextDueAt(ctx)
	if err != nil {
		return fmt.Errorf("next due instant: %w", err)
	}
	// A backlog already due is picked up when a send slot frees (see
	// process); waking for it here would spin while every slot is busy.
	if next.After(e.now()) {
		e.Wake(next)
	}
	return nil
}

// scanBatch claims and dispatches one batch; it returns how many it claimed.
func (e *Engine) scanBatch(ctx context.Context) (int, error) {
	if e.stopping.Load() || ctx.Err() != nil {
		return 0, nil
	}
	if e.paused(e.now()) {
		return 0, nil
	}
	// Claims are queued for the send slots; a new batch is claimed once
	// half of the previous one is done, so that claims stay large (one
	// statement for many reminders) and leases stay short-lived.
	want := e.cfg.BatchSize - int(e.pending.Load())
	if want < e.cfg.BatchSize/2 {
		e.more.Store(true)
		return 0, nil
	}
	claimed, aborted, err := e.claim(ctx, want)
	if err != nil || aborted {
		return 0, err
	}
	e.more.Store(len(claimed) == want)
	for _, c := range claimed {
		e.pending.Add(1)
		e.inflight.Add(1)
		e.dispatch(c)
	}
	e.signals.claimed.signal()
	return len(claimed), nil
}

// dispatch hands a claim to an idle worker, or starts one. Workers are
// reused because a new goroutine's stack starts small and is copied, a few
// times over, as the send and the record deepen it; a reused one is mostly
// grown already (docs/performance.md has the profile).
func (e *Engine) dispatch(c store.Claim) {
	select {
	case e.work <- c:
	default:
		e.workersStarted.Add(1)
		e.workers.Add(1)
		go e.worker(c)
	}
}

// workerIdle is how long an idle worker waits for the next claim.
const workerIdle = 10 * time.Second

// worker processes c, then the claims dispatched to it until it has been
// idle workerIdle or the engine's sends end.
func (e *Engine) worker(c store.Claim) {
	defer func() {
		e.workers.Add(-1)
		e.signals.workers.signal()
	}()
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		e.process(c)
		idle.Reset(workerIdle)
		e.idleWorkers.Add(1)
		e.signals.workers.signal()
		more := false
		select {
		case c = <-e.work:
			more = true
		case <-idle.C:
		case <-e.sendCtx.Done():
		}
		e.idleWorkers.Add(-1)
		if !more {
			return
		}
	}
}

// paused reports whether sending is paused (an admin pause, the daily
// quota, or every app's breaker open): due reminders then stay scheduled,
// so no attempt is used. One app's open breaker defers its own reminders
// only (breakers.go).
func (e *Engine) paused(now time.Time) bool {
	return e.admin.Load() != nil || now.UnixMilli() < e.quotaUntil.Load() || e.allQuotaPaused(now) || e.breakersState() == gobreaker.StateOpen
}

// WaitIdle waits until no send is in flight (for tests and the demo).
func (e *Engine) WaitIdle() { e.inflight.Wait() }

// keyedMutex serialises sends per openid: WeChat answers 43108 to
// concurrent sends to one user, and the consent check and the credit
// consumption of one user must not interleave.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*userLock
}

type userLock struct {
	ch   chan struct{}
	refs int
}

// lock takes the key's lock, or gives up when ctx ends.
func (k *keyedMutex) lock(ctx context.Context, key string) (unlock func(), err error) {
	k.mu.Lock()
	l := k.m[key]
	if l == nil {
		l = &userLock{ch: make(chan struct{}, 1)}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()
	release := func() {
		k.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}
