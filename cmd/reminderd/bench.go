package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/reminderd/reminderd/internal/app"
	"github.com/reminderd/reminderd/internal/bench"
	"github.com/reminderd/reminderd/internal/db"
)

// benchOptions are the flags of reminderd bench, parsed.
type benchOptions struct {
	o                                bench.Options
	lat, scans, cpuProfile, sync, db *string
	fleet                            *string
	serverRSS, fleetInProcess        *bool
}

// benchFlags registers bench's flags (into b when it is not nil).
func benchFlags(output io.Writer, b *benchOptions) *flag.FlagSet {
	if b == nil {
		b = new(benchOptions)
	}
	fs := newFlagSet("bench", output)
	o := &b.o
	fs.IntVar(&o.N, "n", 20000, "reminders due at once per pipeline run")
	b.lat = fs.String("latencies", "0,50ms", "fake WeChat latency of each pipeline run (comma-separated `durations`)")
	fs.IntVar(&o.Concurrency, "concurrency", 16, "sends in flight (pipeline and ceiling)")
	fs.IntVar(&o.SteadyPerMin, "steady-per-min", 1000, "due per minute in the lateness run (-1 skips it)")
	fs.DurationVar(&o.SteadyFor, "steady-for", time.Minute, "length of the lateness run")
	fs.IntVar(&o.APIClients, "api-clients", 16, "concurrent clients creating reminders")
	fs.IntVar(&o.APICreates, "api-creates", 10000, "reminders created through the API")
	b.scans = fs.String("scan-sizes", "10000,1000000", "table sizes for the due-scan cost (comma-separated `ints`)")
	fs.IntVar(&o.ScanReps, "scan-reps", 300, "times each scan is measured, for its mean")
	b.serverRSS = fs.Bool("server-rss", true, "measure the real server's peak RSS on the largest table")
	b.cpuProfile = fs.String("cpuprofile", "", "write a CPU profile of the whole bench to this `file`")
	b.sync = fs.String("sync", "full", "the writer's durability, as serve's --sync: full or normal (SQLite only)")
	b.db = fs.String("db", "", "a postgres:// `URL`: measure on that PostgreSQL database, each run in a schema of its own dropped after it (the user needs CREATE on the database); empty: temporary SQLite files")
	b.fleet = fs.String("fleet", "", "fleet sizes, say 1,3 (comma-separated `ints`): measure only the fleet figure on --db, each size that many `reminderd serve` processes on one schema, -n reminders due at once")
	fs.DurationVar(&o.FleetLatency, "fleet-latency", 50*time.Millisecond, "fake WeChat latency of the fleet runs")
	b.fleetInProcess = fs.Bool("fleet-in-process", false, "run the fleet's engines as app.New instances in the bench process instead of serve processes")
	return fs
}

func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var b benchOptions
	fs := benchFlags(stderr, &b)
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("bench: unexpected argument %q", fs.Arg(0))
	}
	o, lat, scans, serverRSS, cpuProfile := b.o, b.lat, b.scans, b.serverRSS, b.cpuProfile
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	o.Latencies = nil
	for _, s := range strings.Split(*lat, ",") {
		if s == "0" {
			o.Latencies = append(o.Latencies, 0)
			continue
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("--latencies: %q is not a duration", s)
		}
		o.Latencies = append(o.Latencies, d)
	}
	switch o.Sync = db.Sync(*b.sync); o.Sync {
	case db.SyncFull, db.SyncNormal:
	default:
		return usageErrorf("bench: --sync %q must be full or normal", *b.sync)
	}
	if *b.db != "" {
		if !app.IsPostgres(*b.db) {
			return usageErrorf("bench: --db must be a postgres:// or postgresql:// URL (without it the bench uses temporary SQLite files)")
		}
		if err := app.CheckPostgresURL("bench --db", *b.db); err != nil {
			return err
		}
		o.DB = *b.db
	}
	if *b.fleet != "" {
		if o.DB == "" {
			return usageErrorf("bench: --fleet needs --db postgres://… (several processes share one PostgreSQL)")
		}
		for _, s := range strings.Split(*b.fleet, ",") {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 64 {
				return fmt.Errorf("--fleet: %q must be a whole number from 1 to 64", s)
			}
			o.Fleet = append(o.Fleet, n)
		}
		o.StartEngine, o.FleetMode = serveEngine, "processes"
		if *b.fleetInProcess {
			o.StartEngine, o.FleetMode = bench.InProcessEngine, "in-process"
		}
		*serverRSS = false
	}
	o.ScanSizes = nil
	for _, s := range strings.Split(*scans, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 100 {
			return fmt.Errorf("--scan-sizes: %q must be a whole number of at least 100", s)
		}
		o.ScanSizes = append(o.ScanSizes, n)
	}
	dir, err := os.MkdirTemp("", "reminderd-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	o.Dir, o.Log = dir, stderr
	res, err := bench.Run(ctx, o)
	if err != nil {
		return app.ScrubError(err, o.DB)
	}
	var rss float64
	if *serverRSS && len(o.ScanSizes) > 0 && o.DB != "" {
		fmt.Fprintln(stderr, "server: the peak RSS of `reminderd serve` is measured on SQLite only (on its largest scan table); skipped on PostgreSQL")
	} else if *serverRSS && len(o.ScanSizes) > 0 {
		largest := o.ScanSizes[len(o.ScanSizes)-1]
		fmt.Fprintf(stderr, "server: peak RSS of `reminderd serve` with %d reminders stored …\n", largest)
		rss, err = measureServerRSS(ctx, filepath.Join(dir, fmt.Sprintf("scan%d.db", largest)))
		if err != nil {
			return fmt.Errorf("server RSS: %w", err)
		}
	}
	fmt.Fprint(stdout, bench.Summary(res))
	if rss > 0 {
		fmt.Fprintf(stdout, "peak RSS of `reminderd serve` with %d reminders stored: %.0f MB (target ≤ 100 MB)\n", o.ScanSizes[len(o.ScanSizes)-1], rss)
	}
	line, _ := json.Marshal(struct {
		*bench.Result
		ServerPeakRSSMB float64 `json:"server_peak_rss_mb,omitempty"`
	}{res, rss})
	fmt.Fprintln(stdout, string(line))
	return nil
}

// measureServerRSS runs this binary's `serve` (sandbox) on the database,
// exercises it for a few seconds and reads its peak resident set.
func measureServerRSS(ctx context.Context, dbPath string) (float64, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(ctx, exe, "serve", "--addr", "127.0.0.1:0", "--db", dbPath)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	sc := bufio.NewScanner(out)
	var base, admin string
	for sc.Scan() && (base == "" || admin == "") {
		if m := regexp.MustCompile(`listening on (\S+)`).FindStringSubmatch(sc.Text()); m != nil {
			base = m[1]
		}
		if m := regexp.MustCompile(`admin token: (\S+)`).FindStringSubmatch(sc.Text()); m != nil {
			admin = m[1]
		}
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	if base == "" {
		return 0, fmt.Errorf("the server did not start")
	}
	get := func(path string) {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	for range 5 { // due scans run every second meanwhile
		get("/readyz")
		get("/admin/v1/stats")
		get("/admin/v1/reminders?limit=200")
		get("/metrics")
		time.Sleep(time.Second)
	}
	return bench.PeakRSSMB(strconv.Itoa(cmd.Process.Pid)), nil
}

// serveEngine starts one engine of the bench's fleet: this binary's
// `reminderd serve` on a free 127.0.0.1 port, on the run's schema (its
// URL carries search_path), sending to the bench's fake WeChat with
// s.Concurrency in flight and an hour of lateness allowed (as the
// pipeline's). It returns once the process listens; stopping it is a
// SIGTERM (a kill after 30 s).
func serveEngine(ctx context.Context, s bench.EngineSpec) (func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"REMINDERD_ADDR=127.0.0.1:0", "REMINDERD_DB=" + s.DB,
		"REMINDERD_WECHAT_APPID=" + s.AppID, "REMINDERD_WECHAT_SECRET=" + s.Secret, "REMINDERD_WECHAT_BASE_URL=" + s.WeChatURL,
		"REMINDERD_SEND_CONCURRENCY=" + strconv.Itoa(s.Concurrency), "REMINDERD_DEFAULT_LATENESS=1h",
		"REMINDERD_MAX_SCHEDULED_PER_USER=1000000"}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	errs := &headWriter{max: 4096}
	cmd.Stderr = errs
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	sc := bufio.NewScanner(out)
	listening := false
	for !listening && sc.Scan() {
		listening = strings.HasPrefix(sc.Text(), "reminderd listening on ")
	}
	go func() { _, _ = io.Copy(io.Discard, out); _ = cmd.Wait(); close(exited) }()
	if !listening {
		stop()
		return nil, fmt.Errorf("reminderd serve %d did not start: %s", s.Index, strings.TrimSpace(errs.String()))
	}
	return stop, nil
}

// headWriter keeps the first max bytes written to it.
type headWriter struct {
	mu  sync.Mutex
	b   []byte
	max int
}

func (w *headWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if room := w.max - len(w.b); room > 0 {
		w.b = append(w.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (w *headWriter) String() string { w.mu.Lock(); defer w.mu.Unlock(); return string(w.b) }
