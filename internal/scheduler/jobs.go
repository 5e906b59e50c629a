// Package scheduler runs reminderd's periodic work on robfig/cron: the due
// scan, lease rescue, template sync, token refresh and retention.
//
// In a fleet of processes on one database every process runs the due scan
// (AddEveryProcess) and the other jobs (Add) run on the leader only
// (leader.go).
//
// cron only says when to look; the database says what is due, so a restart
// loses nothing.
package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// JobInfo is the state of one periodic job, for GET /admin/v1/jobs.
type JobInfo struct {
	Name      string
	Schedule  string
	LastRunAt time.Time // zero until the first run ends
	NextRunAt time.Time // zero while the runner is stopped
	LastError string
}

type job struct {
	name, spec string
	fn         func(context.Context) error
	every      bool // runs on every process, not only on the leader
	id         cron.EntryID
	running    sync.Mutex // a run that overlaps the previous one is skipped
	lastRun    time.Time
	lastErr    string
}

// Jobs runs named periodic jobs. Add them before Run.
type Jobs struct {
	cron *cron.Cron
	now  func() time.Time
	log  *slog.Logger

	// leader, if set, gates the jobs added with Add: they run only while
	// this process is the fleet's leader (nil: always).
	leader *leader

	mu      sync.Mutex
	jobs    []*job
	ctx     context.Context
	started bool
	wg      sync.WaitGroup

	// scheduleStarted is a test signal (testsignal.go): Run started the
	// schedule, so Status has every next run from then on.
	scheduleStarted testSignal
}

// NewJobs returns a runner whose job records use clock now.
func NewJobs(now func() time.Time, log *slog.Logger) *Jobs {
	return &Jobs{
		cron: cron.New(cron.WithParser(cron.NewParser(
			cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor))),
		now: now,
		log: log,
		ctx: context.Background(),
	}
}

// Add registers fn to run on spec ("@every 1s", "0 */6 * * *", …), on the
// fleet's leader only: on another process a run is skipped. A run's
// context ends if the leadership it started under is lost.
func (j *Jobs) Add(name, spec string, fn func(context.Context) error) error {
	return j.add(&job{name: name, spec: spec, fn: fn})
}

// AddEveryProcess registers fn to run on spec on every process of the
// fleet, leader or not (the due scan).
func (j *Jobs) AddEveryProcess(name, spec string, fn func(context.Context) error) error {
	return j.add(&job{name: name, spec: spec, fn: fn, every: true})
}

func (j *Jobs) add(jb *job) error {
	name, spec := jb.name, jb.spec
	id, err := j.cron.AddFunc(spec, func() { _ = j.runJob(jb) })
	if err != nil {
		return fmt.Errorf("job %s: schedule %q: %w", name, spec, err)
	}
	jb.id = id
	j.mu.Lock()
	j.jobs = append(j.jobs, jb)
	j.mu.Unlock()
	return nil
}

func (j *Jobs) runJob(jb *job) error {
	if !jb.running.TryLock() {
		return nil
	}
	defer jb.running.Unlock()
	j.mu.Lock()
	ctx := j.ctx
	if ctx.Err() != nil {
		j.mu.Unlock()
		return nil
	}
	j.wg.Add(1)
	j.mu.Unlock()
	defer j.wg.Done()
	if !jb.every && j.leader != nil {
		run, cancel, ok := j.leader.hold(ctx)
		if !ok {
			return ErrNotLeader
		}
		defer cancel()
		ctx = run
	}
	err := jb.fn(ctx)
	j.mu.Lock()
	jb.lastRun = j.now()
	jb.lastErr = ""
	if err != nil {
		jb.lastErr = err.Error()
	}
	j.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		j.log.Warn("periodic job failed", "job", jb.name, "error", err)
	}
	return nil
}

// RunNow runs a job once, outside its schedule (for start-up and tests):
// a leader-only job only on the leader (else ErrNotLeader).
func (j *Jobs) RunNow(name string) error {
	j.mu.Lock()
	var found *job
	for _, jb := range j.jobs {
		if jb.name == name {
			found = jb
		}
	}
	j.mu.Unlock()
	if found == nil {
		return fmt.Errorf("no job %q", name)
	}
	return j.runJob(found)
}

// Run starts the schedule and blocks until ctx ends, then waits for running
// jobs to return (their context is canceled).
func (j *Jobs) Run(ctx context.Context) error {
	j.mu.Lock()
	if j.started {
		j.mu.Unlock()
		return fmt.Errorf("jobs already running")
	}
	j.started = true
	j.ctx = ctx
	j.mu.Unlock()
	j.cron.Start()
	j.scheduleStarted.signal()
	<-ctx.Done()
	<-j.cron.Stop().Done()
	j.wg.Wait()
	return nil
}

// Status returns every job's state in registration order.
func (j *Jobs) Status() []JobInfo {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]JobInfo, 0, len(j.jobs))
	for _, jb := range j.jobs {
		info := JobInfo{Name: jb.name, Schedule: jb.spec, LastRunAt: jb.lastRun, LastError: jb.lastErr}
		if j.started && j.ctx.Err() == nil {
			info.NextRunAt = j.cron.Entry(jb.id).Next
		}
		out = append(out, info)
	}
	return out
}
