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
	serverRSS                        *bool
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
