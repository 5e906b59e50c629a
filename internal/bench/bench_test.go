package bench

import (
	"context"
	"database/sql"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db"
)

// A small run of every measurement: each one completes, sends each reminder
// once, and reports figures that add up. (The figures themselves are
// measured by `reminderd bench`, not asserted here.)
func TestRunMeasuresEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline, the API and the scans")
	}
	res, err := Run(context.Background(), Options{N: 300, Latencies: []time.Duration{0}, SteadyPerMin: -1, APICreates: 300,
		ScanSizes: []int{1000, 2000}, ScanReps: 3, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Pipelines) != 1 {
		t.Fatalf("%d pipeline runs, want 1", len(res.Pipelines))
	}
	p := res.Pipelines[0]
	if !p.SentExactlyOnce || p.SendsPerSec <= 0 || p.CeilingPerSec <= 0 || p.Ratio != p.SendsPerSec/p.CeilingPerSec {
		t.Errorf("pipeline %+v", p)
	}
	if res.API.Creates != 300 || res.API.ErrorCount != 0 {
		t.Errorf("api %+v", res.API)
	}
	if len(res.Scans) != 2 || res.ScanRatio <= 0 {
		t.Errorf("scans %+v, ratio %v", res.Scans, res.ScanRatio)
	}
	if res.Floor.N != 300 {
		t.Errorf("floor %+v", res.Floor)
	}
	if runtime.GOOS == "linux" && (p.CPUMicrosPerSend <= 0 || p.CeilingCPUMicrosPerSend <= 0 || res.Floor.CPUMicrosPerSend <= 0) {
		t.Errorf("CPU per send not measured: pipeline %v, ceiling %v, floor %v", p.CPUMicrosPerSend, p.CeilingCPUMicrosPerSend, res.Floor.CPUMicrosPerSend)
	}
	sum := Summary(res)
	for _, want := range []string{"of the ceiling", "CPU per send", "floor:", "80 % of the ceiling leaves", "creates/s"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
}

// The floor does the whole of a durable claim and record for every
// reminder: each sent once, one delivery each, every credit taken.
func TestFloorClaimsAndRecordsEveryReminder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "floor.db")
	f, err := floor(context.Background(), path, 250)
	if err != nil {
		t.Fatal(err)
	}
	if f.N != 250 {
		t.Fatalf("floor %+v", f)
	}
	conn, err := sql.Open("sqlite", db.DSN(path, true))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var sent, attempts, deliveries, distinct, credits int
	err = conn.QueryRow(`SELECT (SELECT count(*) FROM reminders WHERE status = 'sent'), (SELECT sum(attempts) FROM reminders),
		(SELECT count(*) FROM deliveries), (SELECT count(DISTINCT reminder_id) FROM deliveries), (SELECT sum(credits) FROM consents)`).
		Scan(&sent, &attempts, &deliveries, &distinct, &credits)
	if err != nil {
		t.Fatal(err)
	}
	if sent != 250 || attempts != 250 || deliveries != 250 || distinct != 250 || credits != 0 {
		t.Fatalf("sent %d, attempts %d, deliveries %d (%d reminders), credits left %d; want 250, 250, 250 (250), 0",
			sent, attempts, deliveries, distinct, credits)
	}
}
