package bench

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/reminderd/reminderd/internal/api"
	"github.com/reminderd/reminderd/internal/app"
	"github.com/reminderd/reminderd/internal/db/postgres"
	"github.com/reminderd/reminderd/internal/scheduler"
	"github.com/reminderd/reminderd/internal/wechat"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// The fleet figure: for each fleet size, that many engines on one
// PostgreSQL schema (the run's own) and one fake WeChat, N reminders due
// at once for N users with a credit each, run until every one is recorded
// sent; the sends per second and the lateness, as the pipeline measures
// them, and whether the fake received each reminder exactly once.

// EngineSpec is what one engine of a fleet is started with.
type EngineSpec struct {
	Index       int    // 0 … size-1
	DB          string // the run's schema: a postgres:// URL with search_path set
	WeChatURL   string // the fake's base URL
	AppID       string
	Secret      string
	Concurrency int // sends in flight in this engine
}

// StartEngine starts one engine of a fleet and returns what stops it.
// `reminderd bench` starts a `reminderd serve` process; nil starts an
// app.New instance in this process (InProcessEngine).
type StartEngine func(ctx context.Context, s EngineSpec) (stop func(), err error)

// FleetRun is one fleet size's run.
type FleetRun struct {
	Engines         int     `json:"engines"`
	LatencyMS       int64   `json:"latency_ms"`
	N               int     `json:"n"`
	Seconds         float64 `json:"seconds"`
	SendsPerSec     float64 `json:"sends_per_sec"`
	Speedup         float64 `json:"speedup_vs_first"` // sends/s over the first size's
	LatenessP50MS   int64   `json:"lateness_p50_ms"`
	LatenessP99MS   int64   `json:"lateness_p99_ms"`
	LatenessMaxMS   int64   `json:"lateness_max_ms"`
	SentExactlyOnce bool    `json:"sent_exactly_once"`
}

// Fleet is the fleet figure.
type Fleet struct {
	Mode        string     `json:"mode"` // processes (reminderd serve children) or in-process (app.New instances)
	Concurrency int        `json:"concurrency_per_engine"`
	Runs        []FleetRun `json:"runs"`
}

// InProcessEngine starts one engine as serve builds it (app.New: its own
// pool, its own owner id, its own engine), in this process.
func InProcessEngine(ctx context.Context, s EngineSpec) (func(), error) {
	a, err := app.New(ctx, app.Config{
		DB:     s.DB,
		WeChat: wechat.Config{BaseURL: s.WeChatURL, AppID: s.AppID, Secret: s.Secret, HTTPClient: httpClient(s.Concurrency)},
		Engine: scheduler.Config{Concurrency: s.Concurrency, DefaultLateness: time.Hour},
		API:    api.Config{MaxScheduledPerUser: math.MaxInt32},
	}, app.Deps{Now: time.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { _ = a.Engine.Run(ctx); close(done) }()
	return func() { cancel(); <-done; a.Close() }, nil
}

// fleet measures each fleet size in turn.
func fleet(ctx context.Context, o *Options, say func(string, ...any)) (*Fleet, error) {
	if o.DB == "" {
		return nil, fmt.Errorf("the fleet figure needs PostgreSQL (--db postgres://…)")
	}
	f := &Fleet{Mode: o.FleetMode, Concurrency: o.Concurrency}
	if f.Mode == "" {
		f.Mode = "in-process"
	}
	start := o.StartEngine
	if start == nil {
		start = InProcessEngine
	}
	for _, size := range o.Fleet {
		say("fleet: %d engine(s) (%s), %d reminders due at once, fake WeChat latency %v, %d in flight each …", size, f.Mode, o.N, o.FleetLatency, o.Concurrency)
		r, err := fleetRun(ctx, o, start, size)
		if err != nil {
			return nil, fmt.Errorf("fleet of %d: %w", size, err)
		}
		if len(f.Runs) > 0 && f.Runs[0].SendsPerSec > 0 {
			r.Speedup = r.SendsPerSec / f.Runs[0].SendsPerSec
		} else {
			r.Speedup = 1
		}
		f.Runs = append(f.Runs, r)
	}
	return f, nil
}

func fleetRun(ctx context.Context, o *Options, start StartEngine, size int) (FleetRun, error) {
	n, latency := o.N, o.FleetLatency
	s, err := newPGScratch(ctx, o.DB, fmt.Sprintf("fleet%d", size))
	if err != nil {
		return FleetRun{}, err
	}
	defer s.drop(ctx)
	// Migrated before the engines start, so that the seed can go in.
	if _, err := postgres.Migrate(ctx, s.pool); err != nil {
		return FleetRun{}, fmt.Errorf("migrate: %w", err)
	}
	fake, err := wechattest.Start("127.0.0.1:0", wechattest.Options{})
	if err != nil {
		return FleetRun{}, err
	}
	defer fake.Close()
	for _, t := range wechattest.DemoTemplates() {
		fake.AddTemplate(t)
	}
	fake.SetFaults(wechattest.Faults{Latency: latency})
	var stops []func()
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	for i := range size {
		stop, err := start(ctx, EngineSpec{Index: i, DB: s.url, WeChatURL: fake.URL, AppID: fake.AppID(), Secret: fake.Secret(), Concurrency: o.Concurrency})
		if err != nil {
			return FleetRun{}, fmt.Errorf("engine %d: %w", i, app.ScrubError(err, o.DB))
		}
		stops = append(stops, stop)
	}
	// Every engine is up: the reminders fall due together a second later
	// (each engine finds them at its next due scan, as a lone one would).
	w := &world{fake: fake, pg: s}
	fire := time.Now().Add(time.Second)
	if err := w.seed(ctx, n, func(int) time.Time { return fire }); err != nil {
		return FleetRun{}, err
	}
	// A bounded poll of the fake (in memory), then of the database's
	// record (a count every 100 ms, on the bench's pool).
	deadline := time.Now().Add(30 * time.Minute)
	for {
		if len(fake.Sends()) >= n {
			var sent int
			if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE status = 'sent'`).Scan(&sent); err != nil {
				return FleetRun{}, err
			}
			if sent >= n {
				break
			}
		}
		if time.Now().After(deadline) {
			return FleetRun{}, fmt.Errorf("only %d of %d sent at the fake after 30 min", len(fake.Sends()), n)
		}
		select {
		case <-ctx.Done():
			return FleetRun{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	for _, stop := range stops {
		stop()
	}
	stops = nil
	firstStart, lastFinish, err := pgSendWindow(ctx, s.pool)
	if err != nil {
		return FleetRun{}, err
	}
	late, err := pgLateness(ctx, s.pool)
	if err != nil {
		return FleetRun{}, err
	}
	r := FleetRun{Engines: size, LatencyMS: latency.Milliseconds(), N: n}
	r.Seconds = float64(lastFinish-firstStart) / 1000
	if r.Seconds > 0 {
		r.SendsPerSec = float64(n) / r.Seconds
	}
	r.LatenessP50MS, r.LatenessP99MS, r.LatenessMaxMS = percentiles(late)
	// Exactly once, as the pipeline checks it, after every engine stopped:
	// the fake received n sends, one to each user, and n are recorded.
	sends := fake.Sends()
	users := map[string]bool{}
	for _, x := range sends {
		users[x.ToUser] = true
	}
	r.SentExactlyOnce = len(users) == n && len(sends) == n && len(late) == n
	return r, nil
}
