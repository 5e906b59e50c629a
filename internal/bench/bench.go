// Package bench measures reminderd on the machine it runs on: the whole
// pipeline against a ceiling, lateness at a steady rate, API create
// throughput, due-scan cost against table size, and peak memory. It is
// `reminderd bench`; it prints a human summary and one JSON line.
package bench

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reminderd/reminderd/internal/api"
	"github.com/reminderd/reminderd/internal/app"
	"github.com/reminderd/reminderd/internal/bench/benchdb"
	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/scheduler"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// Options choose what to measure. Zero values take the defaults.
type Options struct {
	N            int             // reminders due at once per pipeline run (20,000)
	Latencies    []time.Duration // fake WeChat latency per pipeline run (0 and 50 ms)
	Concurrency  int             // sends in flight, pipeline and ceiling alike (16)
	SteadyPerMin int             // due per minute for the lateness run (1,000); negative skips it
	SteadyFor    time.Duration   // how long the steady run lasts (1 min)
	APIClients   int             // concurrent HTTP clients creating reminders (16)
	APICreates   int             // reminders they create (10,000)
	ScanSizes    []int           // table sizes for the due-scan cost (10,000 and 1,000,000)
	ScanReps     int             // times each scan is measured, for its mean (300)
	Sync         db.Sync         // the writer's durability, as REMINDERD_SYNC (full; SQLite only)
	// DB, a postgres:// URL, measures on PostgreSQL: each run in a schema
	// of its own in that database, dropped after it. Empty: SQLite files
	// in Dir.
	DB string
	// Fleet, fleet sizes (say 1 and 3), measures only the fleet figure
	// (on PostgreSQL): for each size that many engines, started by
	// StartEngine (nil: InProcessEngine; FleetMode names it), at the fake
	// WeChat latency FleetLatency (50 ms), N reminders due at once.
	Fleet        []int
	FleetLatency time.Duration
	StartEngine  StartEngine
	FleetMode    string
	Dir          string    // scratch directory (a new temporary one)
	Log          io.Writer // progress lines (discard)
}

func (o *Options) defaults() {
	if o.N <= 0 {
		o.N = 20000
	}
	if o.Latencies == nil {
		o.Latencies = []time.Duration{0, 50 * time.Millisecond}
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.SteadyPerMin == 0 {
		o.SteadyPerMin = 1000
	}
	if o.SteadyFor <= 0 {
		o.SteadyFor = time.Minute
	}
	if o.APIClients <= 0 {
		o.APIClients = 16
	}
	if o.APICreates <= 0 {
		o.APICreates = 10000
	}
	if o.ScanReps <= 0 {
		o.ScanReps = 300
	}
	if o.ScanSizes == nil {
		o.ScanSizes = []int{10000, 1000000}
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.FleetLatency == 0 {
		o.FleetLatency = 50 * time.Millisecond
	}
}

// Pipeline is one run of N reminders due at once.
type Pipeline struct {
	LatencyMS       int64   `json:"latency_ms"`
	N               int     `json:"n"`
	Seconds         float64 `json:"seconds"`
	SendsPerSec     float64 `json:"sends_per_sec"`
	CeilingPerSec   float64 `json:"ceiling_per_sec"`
	Ratio           float64 `json:"ratio"`
	LatenessP50MS   int64   `json:"lateness_p50_ms"`
	LatenessP99MS   int64   `json:"lateness_p99_ms"`
	LatenessMaxMS   int64   `json:"lateness_max_ms"`
	CommitsPerSend  float64 `json:"commits_per_send"` // SQLite's; 0 on PostgreSQL (not counted)
	SentExactlyOnce bool    `json:"sent_exactly_once"`
	// CPU time of the whole process (reminderd, the fake, the load) per
	// send, during the run and during the ceiling's.
	CPUMicrosPerSend        float64 `json:"cpu_us_per_send"`
	CeilingCPUMicrosPerSend float64 `json:"ceiling_cpu_us_per_send"`
}

// Steady is the lateness at a steady rate of due reminders.
type Steady struct {
	PerMinute     int   `json:"per_minute"`
	N             int   `json:"n"`
	LatenessP50MS int64 `json:"lateness_p50_ms"`
	LatenessP99MS int64 `json:"lateness_p99_ms"`
	LatenessMaxMS int64 `json:"lateness_max_ms"`
}

// APIResult is API create throughput.
type APIResult struct {
	Clients    int     `json:"clients"`
	Creates    int     `json:"creates"`
	Seconds    float64 `json:"seconds"`
	PerSec     float64 `json:"creates_per_sec"`
	ErrorCount int64   `json:"errors"`
}

// Scan is the due-scan cost with Rows reminders in the table.
type Scan struct {
	Rows        int     `json:"rows"`
	ScanMicros  float64 `json:"scan_100_due_us"`  // finding the due rows
	ClaimMicros float64 `json:"claim_100_due_us"` // finding and claiming them (100 row updates)
	NextMicros  float64 `json:"next_due_us"`
}

// Result is everything measured.
type Result struct {
	Machine    string     `json:"machine"`
	Store      string     `json:"store"` // sqlite or postgres
	Pipelines  []Pipeline `json:"pipelines"`
	Steady     *Steady    `json:"steady,omitempty"`
	API        APIResult  `json:"api"`
	Scans      []Scan     `json:"scans"`
	ScanRatio  float64    `json:"scan_ratio_largest_smallest"`
	ClaimRatio float64    `json:"claim_ratio_largest_smallest"`
	PeakRSSMB  float64    `json:"bench_peak_rss_mb"`
	Floor      Floor      `json:"floor"` // SQLite's; not measured on PostgreSQL
	Fleet      *Fleet     `json:"fleet,omitempty"`
}

// Machine describes this machine.
func Machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				_, model, _ = strings.Cut(l, ": ")
				break
			}
		}
	}
	return fmt.Sprintf("%d CPU %s, %s, %s/%s", runtime.NumCPU(), strings.TrimSpace(model), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// PeakRSSMB reads a process's peak resident set (VmHWM) from /proc.
func PeakRSSMB(pid string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:")), "%f", &kb)
			return kb / 1024
		}
	}
	return 0
}

// Run measures everything opts asks for.
func Run(ctx context.Context, opts Options) (*Result, error) {
	opts.defaults()
	dir := opts.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "reminderd-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	opts.Dir = dir
	res := &Result{Machine: Machine(), Store: "sqlite"}
	say := func(f string, a ...any) { fmt.Fprintf(opts.Log, f+"\n", a...) }
	if opts.DB != "" {
		res.Store = "postgres"
		say("on PostgreSQL %s: each run in a schema of its own, dropped after it", app.RedactURL(opts.DB))
		if opts.Sync == db.SyncNormal {
			say("--sync normal: SQLite's; ignored on PostgreSQL")
		}
	}
	if len(opts.Fleet) > 0 {
		f, err := fleet(ctx, &opts, say)
		if err != nil {
			return nil, err
		}
		res.Fleet = f
		res.PeakRSSMB = PeakRSSMB("self")
		return res, nil
	}
	for i, lat := range opts.Latencies {
		say("pipeline: %d reminders due at once, fake WeChat latency %v, %d in flight …", opts.N, lat, opts.Concurrency)
		p, err := pipeline(ctx, &opts, fmt.Sprintf("pipeline%d", i), opts.N, lat, opts.Concurrency)
		if err != nil {
			return nil, fmt.Errorf("pipeline at %v: %w", lat, err)
		}
		say("ceiling: the same sends straight to the fake …")
		p.CeilingPerSec, p.CeilingCPUMicrosPerSend, err = ceiling(ctx, opts.N, lat, opts.Concurrency)
		if err != nil {
			return nil, fmt.Errorf("ceiling at %v: %w", lat, err)
		}
		p.Ratio = p.SendsPerSec / p.CeilingPerSec
		res.Pipelines = append(res.Pipelines, p)
	}
	if opts.SteadyPerMin > 0 {
		say("steady: %d due per minute for %v …", opts.SteadyPerMin, opts.SteadyFor)
		s, err := steady(ctx, &opts, "steady", opts.SteadyPerMin, opts.SteadyFor, opts.Concurrency)
		if err != nil {
			return nil, fmt.Errorf("steady: %w", err)
		}
		res.Steady = s
	}
	say("api: %d creates from %d clients …", opts.APICreates, opts.APIClients)
	a, err := apiCreates(ctx, &opts, "api", opts.APIClients, opts.APICreates)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	res.API = a
	if res.Scans, err = scanCosts(ctx, &opts, opts.ScanSizes, opts.ScanReps, say); err != nil {
		return nil, err
	}
	if len(res.Scans) >= 2 {
		res.ScanRatio = res.Scans[len(res.Scans)-1].ScanMicros / res.Scans[0].ScanMicros
		res.ClaimRatio = res.Scans[len(res.Scans)-1].ClaimMicros / res.Scans[0].ClaimMicros
	}
	if opts.DB != "" {
		say("floor: skipped on PostgreSQL (it is the least work of SQLite's claim and record, on a SQLite file)")
	} else {
		say("floor: the least database work of a durable claim and record …")
		if res.Floor, err = floor(ctx, filepath.Join(dir, "floor.db"), opts.N); err != nil {
			return nil, fmt.Errorf("floor: %w", err)
		}
	}
	res.PeakRSSMB = PeakRSSMB("self")
	return res, nil
}

// world is the application as serve builds it (app.New), on its own
// database and fake WeChat, for one run.
type world struct {
	app   *app.App
	db    *db.DB           // SQLite; nil on PostgreSQL
	reads *benchdb.Queries // the bench's own queries, on SQLite's read pool
	pg    *pgScratch       // PostgreSQL: the run's schema and the bench's pool on it
	fake  *wechattest.Server
	sent  atomic.Int64 // sent outcomes recorded, counted by the engine's observer
}

// newWorld builds the application with the bench's settings: concurrency
// sends in flight, claims of up to 256, an hour of lateness allowed (a
// burst of 20,000 at 50 ms takes minutes to drain), no per-user limit in
// the way of the creates, no logs, and the writer's durability o.Sync.
// The database is the SQLite file name.db in o.Dir, or on PostgreSQL a
// schema of its own for the run.
func newWorld(ctx context.Context, o *Options, name string, latency time.Duration, concurrency int) (*world, error) {
	dbSetting := filepath.Join(o.Dir, name+".db")
	var pg *pgScratch
	if o.DB != "" {
		var err error
		if pg, err = newPGScratch(ctx, o.DB, name); err != nil {
			return nil, err
		}
		dbSetting = pg.url
	}
	fake, err := wechattest.Start("127.0.0.1:0", wechattest.Options{})
	if err != nil {
		if pg != nil {
			pg.drop(ctx)
		}
		return nil, err
	}
	for _, t := range wechattest.DemoTemplates() {
		fake.AddTemplate(t)
	}
	fake.SetFaults(wechattest.Faults{Latency: latency})
	w := &world{fake: fake, pg: pg}
	a, err := app.New(ctx, app.Config{
		DB:        dbSetting,
		DBOptions: db.Options{Sync: o.Sync},
		WeChat:    wechat.Config{BaseURL: fake.URL, AppID: fake.AppID(), Secret: fake.Secret(), HTTPClient: httpClient(concurrency)},
		Engine: scheduler.Config{Concurrency: concurrency, BatchSize: 256, DefaultLateness: time.Hour,
			Observer: func(o scheduler.Outcome) {
				if o.Status == "sent" {
					w.sent.Add(1)
				}
			}},
		API: api.Config{MaxScheduledPerUser: math.MaxInt32},
	}, app.Deps{Now: time.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fake.Close()
		if pg != nil {
			pg.drop(ctx)
		}
		return nil, err
	}
	w.app = a
	if !a.Catalog.Synced() {
		w.close()
		return nil, fmt.Errorf("template sync: %s", a.Catalog.LastError())
	}
	if a.DB != nil {
		w.db, w.reads = a.DB, benchdb.New(a.DB.R)
	}
	return w, nil
}

func (w *world) close() {
	w.fake.Close()
	w.app.Close()
	if w.pg != nil {
		w.pg.drop(context.Background())
	}
}

// sendWindow is the first start and the last finish of the sent
// deliveries, in unix ms.
func (w *world) sendWindow(ctx context.Context) (first, last int64, err error) {
	if w.pg != nil {
		return pgSendWindow(ctx, w.pg.pool)
	}
	win, err := w.reads.BenchSendWindow(ctx)
	return win.FirstStart, win.LastFinish, err
}

// lateness is finished minus scheduled of every sent delivery, in ms,
// sorted.
func (w *world) lateness(ctx context.Context) ([]int64, error) {
	if w.pg != nil {
		return pgLateness(ctx, w.pg.pool)
	}
	return w.reads.BenchLateness(ctx)
}

// commits is SQLite's count of the writer's commits; -1 on PostgreSQL,
// which the bench does not count.
func (w *world) commits() int64 {
	if w.db == nil {
		return -1
	}
	return int64(w.db.Commits())
}

func httpClient(conns int) *http.Client { return wechat.NewHTTPClient(30*time.Second, conns) }

var meetingData = `{"thing1":"项目评审会","time2":"2026-12-01 14:00","thing3":"A栋201会议室"}`

// seed inserts n reminders for n users, one credit each, firing at
// fire(i); the fake grants the same credits.
func (w *world) seed(ctx context.Context, n int, fire func(i int) time.Time) error {
	if w.pg != nil {
		if err := pgSeed(ctx, w.pg.pool, n, fire); err != nil {
			return err
		}
		for i := range n {
			w.fake.Grant(fmt.Sprintf("bench-user-%06d", i), wechattest.MeetingTemplateID, 1)
		}
		return nil
	}
	now := time.Now().UnixMilli()
	for start := 0; start < n; start += 5000 {
		err := w.db.WithTx(ctx, func(q *dbsqlc.Queries) error {
			for i := start; i < min(n, start+5000); i++ {
				o := fmt.Sprintf("bench-user-%06d", i)
				if err := q.InsertReminder(ctx, dbsqlc.InsertReminderParams{ID: fmt.Sprintf("rem_bench_%06d", i), Openid: o,
					TemplateID: wechattest.MeetingTemplateID, FireAt: fire(i).UnixMilli(), Timezone: "Asia/Shanghai",
					Data: meetingData, Now: now}); err != nil {
					return err
				}
				if err := q.AddCredit(ctx, dbsqlc.AddCreditParams{Openid: o, TemplateID: wechattest.MeetingTemplateID, Credits: 1, Now: now}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for i := range n {
		w.fake.Grant(fmt.Sprintf("bench-user-%06d", i), wechattest.MeetingTemplateID, 1)
	}
	return nil
}

// runUntilSent runs the engine until n reminders are sent. It watches the
// engine's own count (a query per poll would take CPU from what is measured).
func runUntilSent(ctx context.Context, w *world, n int, limit time.Duration) error {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.app.Engine.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(limit)
	for {
		sent := w.sent.Load()
		if int(sent) >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d sent after %v", sent, n, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func percentiles(ms []int64) (p50, p99, maxv int64) {
	if len(ms) == 0 {
		return 0, 0, 0
	}
	slices.Sort(ms)
	at := func(p float64) int64 { return ms[min(len(ms)-1, int(p*float64(len(ms))))] }
	return at(0.50), at(0.99), ms[len(ms)-1]
}

func pipeline(ctx context.Context, o *Options, name string, n int, latency time.Duration, concurrency int) (Pipeline, error) {
	w, err := newWorld(ctx, o, name, latency, concurrency)
	if err != nil {
		return Pipeline{}, err
	}
	defer w.close()
	fire := time.Now().Add(time.Second)
	if err := w.seed(ctx, n, func(int) time.Time { return fire }); err != nil {
		return Pipeline{}, err
	}
	commits, cpu := w.commits(), processCPU()
	if err := runUntilSent(ctx, w, n, 30*time.Minute); err != nil {
		return Pipeline{}, err
	}
	cpu = processCPU() - cpu
	firstStart, lastFinish, err := w.sendWindow(ctx)
	if err != nil {
		return Pipeline{}, err
	}
	late, err := w.lateness(ctx)
	if err != nil {
		return Pipeline{}, err
	}
	p := Pipeline{LatencyMS: latency.Milliseconds(), N: n}
	p.Seconds = float64(lastFinish-firstStart) / 1000
	p.SendsPerSec = float64(n) / p.Seconds
	p.LatenessP50MS, p.LatenessP99MS, p.LatenessMaxMS = percentiles(late)
	if commits >= 0 {
		p.CommitsPerSend = float64(w.commits()-commits) / float64(n)
	}
	p.CPUMicrosPerSend = float64(cpu.Microseconds()) / float64(n)
	users := map[string]bool{}
	for _, s := range w.fake.Sends() {
		users[s.ToUser] = true
	}
	p.SentExactlyOnce = len(users) == n && len(w.fake.Sends()) == n
	return p, nil
}

// ceiling sends n messages straight to the fake with the same concurrency:
// what the pipeline would reach with a free database and scheduler. It
// returns the sends per second and the process's CPU time per send.
func ceiling(ctx context.Context, n int, latency time.Duration, concurrency int) (perSec, cpuMicros float64, err error) {
	fake, err := wechattest.Start("127.0.0.1:0", wechattest.Options{})
	if err != nil {
		return 0, 0, err
	}
	defer fake.Close()
	fake.AddTemplate(wechattest.DemoTemplates()[0])
	fake.SetFaults(wechattest.Faults{Latency: latency})
	for i := range n {
		fake.Grant(fmt.Sprintf("bench-user-%06d", i), wechattest.MeetingTemplateID, 1)
	}
	client, err := wechat.New(wechat.Config{BaseURL: fake.URL, AppID: fake.AppID(), Secret: fake.Secret(), HTTPClient: httpClient(concurrency)})
	if err != nil {
		return 0, 0, err
	}
	if _, err := client.AccessToken(ctx); err != nil {
		return 0, 0, err
	}
	var data map[string]string
	_ = json.Unmarshal([]byte(meetingData), &data)
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	start, cpu := time.Now(), processCPU()
	for range concurrency {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				if _, err := client.Send(ctx, wechat.SendRequest{ToUser: fmt.Sprintf("bench-user-%06d", i),
					TemplateID: wechattest.MeetingTemplateID, Data: data}); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		return 0, 0, fmt.Errorf("%d direct sends failed", failed.Load())
	}
	return float64(n) / time.Since(start).Seconds(), float64((processCPU() - cpu).Microseconds()) / float64(n), nil
}

func steady(ctx context.Context, o *Options, name string, perMin int, dur time.Duration, concurrency int) (*Steady, error) {
	w, err := newWorld(ctx, o, name, 0, concurrency)
	if err != nil {
		return nil, err
	}
	defer w.close()
	n := int(float64(perMin) * dur.Minutes())
	step := time.Minute / time.Duration(perMin)
	first := time.Now().Add(2 * time.Second)
	if err := w.seed(ctx, n, func(i int) time.Time { return first.Add(time.Duration(i) * step) }); err != nil {
		return nil, err
	}
	if err := runUntilSent(ctx, w, n, dur+time.Minute); err != nil {
		return nil, err
	}
	late, err := w.lateness(ctx)
	if err != nil {
		return nil, err
	}
	s := &Steady{PerMinute: perMin, N: n}
	s.LatenessP50MS, s.LatenessP99MS, s.LatenessMaxMS = percentiles(late)
	return s, nil
}

// apiCreates measures POST /v1/reminders through real HTTP.
func apiCreates(ctx context.Context, o *Options, name string, clients, total int) (APIResult, error) {
	w, err := newWorld(ctx, o, name, 0, clients)
	if err != nil {
		return APIResult{}, err
	}
	defer w.close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return APIResult{}, err
	}
	hs := &http.Server{Handler: w.app.Handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	base := "http://" + ln.Addr().String()
	hc := httpClient(clients)
	tokens := make([]string, clients)
	for i := range clients {
		body := fmt.Sprintf(`{"code":%q}`, w.fake.IssueCode(fmt.Sprintf("api-user-%d", i)))
		resp, err := hc.Post(base+"/v1/session", "application/json", strings.NewReader(body))
		if err != nil {
			return APIResult{}, err
		}
		var s struct{ Token string }
		_ = json.NewDecoder(resp.Body).Decode(&s)
		resp.Body.Close()
		tokens[i] = s.Token
	}
	fire := time.Now().Add(24 * time.Hour).Format(time.RFC3339)
	body := `{"template_id":"` + wechattest.MeetingTemplateID + `","fire_at":"` + fire + `","data":` + meetingData + `,"page":"pages/meeting/detail?id=42"}`
	var next, errs atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			for next.Add(1) <= int64(total) {
				req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1/reminders", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+tokens[c])
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					errs.Add(1)
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	return APIResult{Clients: clients, Creates: total, Seconds: el, PerSec: float64(total) / el, ErrorCount: errs.Load()}, nil
}

// templateSet looks templates up in a fixed list.
type templateSet []wechat.Template

func (ts templateSet) Get(id string) (*wechat.Template, bool) {
	for i := range ts {
		if ts[i].ID == id {
			return &ts[i], true
		}
	}
	return nil, false
}

// scanTable is a table of rows reminders (100 due, the rest sent or
// scheduled for later) and the time its due scans took.
type scanTable struct {
	rows, reps        int
	now               time.Time
	scan, claim, next time.Duration
	// The driver's: the due scan (how many it found), the claim rolled
	// back (how many it claimed), the next-due lookup, and closing.
	due      func(ctx context.Context) (int, error)
	claimDue func(ctx context.Context, p store.ClaimParams) (int, error)
	nextDue  func(ctx context.Context) error
	close    func()
}

func newScanTable(ctx context.Context, path string, rows int) (*scanTable, error) {
	d, err := db.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	t := &scanTable{rows: rows, now: time.Now(), close: func() { d.Close() }}
	if err := fillScanTable(ctx, d, t); err != nil {
		d.Close()
		return nil, err
	}
	t.due = func(ctx context.Context) (int, error) {
		ids, err := d.Read.DueReminders(ctx, dbsqlc.DueRemindersParams{Now: t.now.UnixMilli(), MaxRows: 256})
		return len(ids), err
	}
	t.claimDue = d.ClaimDueRolledBack
	t.nextDue = func(ctx context.Context) error { _, err := d.Read.NextDueAt(ctx); return err }
	return t, nil
}

func fillScanTable(ctx context.Context, d *db.DB, t *scanTable) error {
	now := t.now
	// Fixture: one generating statement (a million single inserts would
	// take minutes). 100 rows are due; the rest fire within 1,000 hours.
	if _, err := d.W.ExecContext(ctx, `WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?1)
		INSERT INTO reminders (id, openid, template_id, status, fire_at, due_at, timezone, data, page, created_at, updated_at)
		SELECT printf('rem_scan_%07d', i), 'u' || (i % 50000), ?2, 'scheduled',
		       CASE WHEN i < 100 THEN ?3 ELSE ?4 + (i % 1000 + 1) * 3600000 END,
		       CASE WHEN i < 100 THEN ?3 ELSE ?4 + (i % 1000 + 1) * 3600000 END,
		       'Asia/Shanghai', ?5, '', ?4, ?4 FROM seq`,
		t.rows, wechattest.MeetingTemplateID, now.Add(-time.Minute).UnixMilli(), now.UnixMilli(), meetingData); err != nil {
		return err
	}
	// The due reminders' users have a credit each, which the claim reserves.
	if _, err := d.W.ExecContext(ctx, `INSERT INTO consents (appid, openid, template_id, credits, status, updated_at)
		SELECT DISTINCT appid, openid, template_id, 1, 'accept', ?1 FROM reminders WHERE due_at <= ?1`, now.UnixMilli()); err != nil {
		return err
	}
	// Half of the rest are finished: the due scan must not read them.
	if _, err := d.W.ExecContext(ctx, `UPDATE reminders SET status = 'sent' WHERE rowid % 2 = 0 AND fire_at > ?`, now.UnixMilli()); err != nil {
		return err
	}
	if _, err := d.W.ExecContext(ctx, `ANALYZE`); err != nil {
		return err
	}
	return nil
}

// measure times one due scan, its claim (rolled back, so that each
// repetition sees the same table) and the next-due lookup.
func (t *scanTable) measure(ctx context.Context) error {
	now := t.now
	start := time.Now()
	found, err := t.due(ctx)
	t.scan += time.Since(start)
	if err != nil || found != 100 {
		return fmt.Errorf("scan found %d due (%v), want 100", found, err)
	}
	start = time.Now()
	got, err := t.claimDue(ctx, store.ClaimParams{Now: now, LeaseUntil: now.Add(time.Minute), Owner: "bench", Max: 256,
		Kind: scheduler.TemplateKinds(templateSet(wechattest.DemoTemplates()))})
	t.claim += time.Since(start)
	if err != nil {
		return err
	}
	if got != 100 {
		return fmt.Errorf("claimed %d, want the 100 due", got)
	}
	start = time.Now()
	if err := t.nextDue(ctx); err != nil {
		return err
	}
	t.next += time.Since(start)
	t.reps++
	return nil
}

func (t *scanTable) result() Scan {
	reps := float64(max(t.reps, 1))
	return Scan{Rows: t.rows, ScanMicros: float64(t.scan.Microseconds()) / reps, ClaimMicros: float64(t.claim.Microseconds()) / reps,
		NextMicros: float64(t.next.Microseconds()) / reps}
}

// scanCosts measures the due scan on a table of each size, in turn: one
// repetition on each table, reps times over, so that a change in the
// machine's speed during the run weighs on every size alike.
func scanCosts(ctx context.Context, o *Options, sizes []int, reps int, say func(string, ...any)) ([]Scan, error) {
	var tables []*scanTable
	defer func() {
		for _, t := range tables {
			t.close()
		}
	}()
	for _, n := range sizes {
		say("scan: a table of %d reminders …", n)
		var t *scanTable
		var err error
		if o.DB != "" {
			t, err = newPGScanTable(ctx, o.DB, n)
		} else {
			t, err = newScanTable(ctx, filepath.Join(o.Dir, fmt.Sprintf("scan%d.db", n)), n)
		}
		if err != nil {
			return nil, fmt.Errorf("scan at %d: %w", n, err)
		}
		tables = append(tables, t)
	}
	say("scan: the due-scan cost, %d times on each table in turn …", reps)
	for range reps {
		for _, t := range tables {
			if err := t.measure(ctx); err != nil {
				return nil, fmt.Errorf("scan at %d: %w", t.rows, err)
			}
		}
	}
	scans := make([]Scan, len(tables))
	for i, t := range tables {
		scans[i] = t.result()
	}
	return scans, nil
}

// Summary renders a result for people.
func Summary(r *Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "machine: %s\nstore: %s\n\n", r.Machine, cmp.Or(r.Store, "sqlite"))
	if f := r.Fleet; f != nil {
		fmt.Fprintf(&b, "fleet (engines: %s; %d sends in flight each):\n", f.Mode, f.Concurrency)
		for _, x := range f.Runs {
			fmt.Fprintf(&b, "  %d engine(s), %d due at once, WeChat latency %d ms: %.0f sends/s (%.2f× the first size); lateness p50 %d ms, p99 %d ms, max %d ms; each sent exactly once: %v\n",
				x.Engines, x.N, x.LatencyMS, x.SendsPerSec, x.Speedup, x.LatenessP50MS, x.LatenessP99MS, x.LatenessMaxMS, x.SentExactlyOnce)
		}
		if len(f.Runs) >= 2 && f.Runs[0].Engines == 1 {
			last := f.Runs[len(f.Runs)-1]
			fmt.Fprintf(&b, "  %d engines vs 1: %.2f× the sends/s (target ≥ 2.5× for 3)\n", last.Engines, last.Speedup)
		}
		if len(r.Pipelines) == 0 {
			fmt.Fprintf(&b, "peak RSS of the bench process: %.0f MB\n", r.PeakRSSMB)
			return b.String()
		}
	}
	for _, p := range r.Pipelines {
		fmt.Fprintf(&b, "pipeline, %d due at once, WeChat latency %d ms:\n", p.N, p.LatencyMS)
		fmt.Fprintf(&b, "  %.0f sends/s vs ceiling %.0f sends/s: %.0f %% of the ceiling (target ≥ 80 %%)\n", p.SendsPerSec, p.CeilingPerSec, 100*p.Ratio)
		fmt.Fprintf(&b, "  lateness p50 %d ms, p99 %d ms, max %d ms (a burst: the queue drains at the send rate)\n", p.LatenessP50MS, p.LatenessP99MS, p.LatenessMaxMS)
		if r.Store == "postgres" {
			fmt.Fprintf(&b, "  commits per send: not counted on PostgreSQL; each sent exactly once: %v\n", p.SentExactlyOnce)
		} else {
			fmt.Fprintf(&b, "  %.3f SQLite commits per send; each sent exactly once: %v\n", p.CommitsPerSend, p.SentExactlyOnce)
		}
		fmt.Fprintf(&b, "  CPU per send (the whole process, fake and load included): %.0f µs, the ceiling's %.0f µs\n",
			p.CPUMicrosPerSend, p.CeilingCPUMicrosPerSend)
	}
	if s := r.Steady; s != nil {
		fmt.Fprintf(&b, "steady %d due per minute (%d reminders): lateness p50 %d ms, p99 %d ms, max %d ms (target p99 ≤ 1000 ms)\n",
			s.PerMinute, s.N, s.LatenessP50MS, s.LatenessP99MS, s.LatenessMaxMS)
	}
	fmt.Fprintf(&b, "API: %d creates from %d clients in %.1f s: %.0f creates/s, %d errors (target ≥ 3000/s)\n",
		r.API.Creates, r.API.Clients, r.API.Seconds, r.API.PerSec, r.API.ErrorCount)
	for _, s := range r.Scans {
		fmt.Fprintf(&b, "due scan with %d rows: finding the 100 due %.0f µs; claiming them %.0f µs; next-due lookup %.0f µs\n", s.Rows, s.ScanMicros, s.ClaimMicros, s.NextMicros)
	}
	if r.ScanRatio > 0 {
		fmt.Fprintf(&b, "scan cost largest/smallest table: %.2f× (target ≤ 1.2×); claim cost %.2f×\n", r.ScanRatio, r.ClaimRatio)
	}
	if f := r.Floor; f.N > 0 {
		fmt.Fprintf(&b, "floor: the least database work of a durable claim and record (no index but the primary keys and the due one, 100 per transaction): %.0f µs of CPU per send\n",
			f.CPUMicrosPerSend)
		for _, p := range r.Pipelines {
			if p.LatencyMS == 0 && p.CeilingCPUMicrosPerSend > 0 && p.CPUMicrosPerSend > 0 {
				// Both runs keep the cores busy: 80 % of the ceiling's rate
				// is at most 1/0.8 of its CPU per send.
				fmt.Fprintf(&b, "  at WeChat latency 0, 80 %% of the ceiling leaves %.0f µs per send for the database and the engine; they take %.0f µs\n",
					p.CeilingCPUMicrosPerSend/4, p.CPUMicrosPerSend-p.CeilingCPUMicrosPerSend)
			}
		}
	}
	fmt.Fprintf(&b, "peak RSS of the bench process (fake WeChat and load generators included): %.0f MB\n", r.PeakRSSMB)
	return b.String()
}
