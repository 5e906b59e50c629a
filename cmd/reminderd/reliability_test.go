package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// The reliability suites run the real binary on a real database file
// against the fake WeChat on loopback. REMINDERD_HEAVY=1 runs the heavy
// variants (more reminders, more crash cycles).

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary builds reminderd once for the suites (with -race when the tests
// run with it, so the build reuses the test's compiled packages).
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "reminderd-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "reminderd")
		args := []string{"build", "-o", binPath}
		if raceBuild {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func heavy() bool { return os.Getenv("REMINDERD_HEAVY") == "1" }

const (
	suitePushToken = "suitepushtoken"
	suiteAESKey    = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
)

type suite struct {
	t    *testing.T
	fake *wechattest.Server
	dbp  string
	bin  string
	logs *os.File
}

func newSuite(t *testing.T, latency time.Duration) *suite {
	t.Helper()
	fake, err := wechattest.Start("127.0.0.1:0", wechattest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	for _, tm := range wechattest.DemoTemplates() {
		fake.AddTemplate(tm)
	}
	fake.SetFaults(wechattest.Faults{Latency: latency})
	dir := t.TempDir()
	logs, err := os.Create(filepath.Join(dir, "reminderd.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logs.Close() })
	return &suite{t: t, fake: fake, dbp: filepath.Join(dir, "reminderd.db"), bin: binary(t), logs: logs}
}

// seed creates n reminders due now for n users, each with two credits in
// reminderd's ledger and on WeChat (so that a duplicate send, if the
// guarantee's window is hit, is accepted and becomes visible).
func (s *suite) seed(n int) {
	s.t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, s.dbp)
	if err != nil {
		s.t.Fatal(err)
	}
	defer d.Close()
	now := time.Now()
	err = d.WithTx(ctx, func(q *dbsqlc.Queries) error {
		for i := range n {
			o := fmt.Sprintf("crash-user-%04d", i)
			data, _ := json.Marshal(map[string]string{"thing1": fmt.Sprintf("rem_crash_%04d", i), "time2": "2026-12-01 14:00", "thing3": "A栋201"})
			if err := q.InsertReminder(ctx, dbsqlc.InsertReminderParams{ID: fmt.Sprintf("rem_crash_%04d", i), Openid: o,
				TemplateID: wechattest.MeetingTemplateID, FireAt: now.UnixMilli(), Timezone: "Asia/Shanghai", Data: string(data), Now: now.UnixMilli()}); err != nil {
				return err
			}
			if err := q.AddCredit(ctx, dbsqlc.AddCreditParams{Openid: o, TemplateID: wechattest.MeetingTemplateID, Credits: 2, Now: now.UnixMilli()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	for i := range n {
		s.fake.Grant(fmt.Sprintf("crash-user-%04d", i), wechattest.MeetingTemplateID, 2)
	}
}

// start runs `reminderd serve` in production mode against the fake.
func (s *suite) start() *exec.Cmd {
	s.t.Helper()
	cmd, _ := s.serve()
	return cmd
}

// serve is start with settings added (or overridden: the last of a name
// wins) that also returns the process's base URL. The fake pushes its
// events to the process started last.
func (s *suite) serve(extraEnv ...string) (*exec.Cmd, string) {
	s.t.Helper()
	cmd := exec.Command(s.bin, "serve")
	cmd.Env = append(os.Environ(),
		"REMINDERD_ADDR=127.0.0.1:0", "REMINDERD_DB="+s.dbp, "REMINDERD_ADMIN_TOKEN=suite-admin-token-0123456789",
		"REMINDERD_WECHAT_APPID="+s.fake.AppID(), "REMINDERD_WECHAT_SECRET="+s.fake.Secret(), "REMINDERD_WECHAT_BASE_URL="+s.fake.URL,
		// A short lease for quick rescues needs a short WeChat timeout: the
		// lease must be longer than the send budget (4.5 × 400 ms = 1.8 s).
		"REMINDERD_LEASE=3s", "REMINDERD_WECHAT_TIMEOUT=400ms", "REMINDERD_SEND_CONCURRENCY=4", "REMINDERD_SCAN_EVERY=200ms",
		// Message push in safe mode: the fake pushes the sent event of
		// every send it accepts (lost while the process is down). An answer
		// lost after WeChat accepted a send waits 1 s for that event before
		// the resend.
		"REMINDERD_WECHAT_PUSH_TOKEN="+suitePushToken, "REMINDERD_WECHAT_AES_KEY="+suiteAESKey,
		"REMINDERD_UNKNOWN_WAIT=1s")
	cmd.Env = append(cmd.Env, extraEnv...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Stderr = s.logs
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	re := regexp.MustCompile(`listening on (\S+)`)
	up := make(chan string, 1)
	go func() {
		ok := false
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); !ok && m != nil {
				ok = true
				up <- m[1]
			}
		}
		if !ok {
			up <- ""
		}
	}()
	var base string
	select {
	case addr := <-up:
		if addr == "" {
			_ = cmd.Wait()
			s.t.Fatalf("reminderd exited before listening; log %s", s.logs.Name())
		}
		if !strings.HasPrefix(addr, "http") {
			addr = "http://" + addr
		}
		base = strings.TrimSuffix(addr, "/")
		if err := s.fake.SetPush(base+"/wechat/push", suitePushToken, suiteAESKey, true); err != nil {
			s.t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		s.t.Fatal("reminderd did not start")
	}
	return cmd, base
}

type tally struct {
	byStatus      map[string]int
	sendingRows   int
	sentRows      map[string]int // reminder → sent delivery rows
	explainedRows map[string]int // reminder → abandoned + unknown + duplicate rows
	markedRows    map[string]int // reminder → rows marked possible_duplicate
	settledRows   int            // unknown attempts settled by their sent event
	msgids        map[int64]bool
	credits       map[string]int64
}

func (s *suite) tally() tally {
	s.t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, s.dbp)
	if err != nil {
		s.t.Fatal(err)
	}
	defer d.Close()
	tl := tally{byStatus: map[string]int{}, sentRows: map[string]int{}, explainedRows: map[string]int{}, markedRows: map[string]int{},
		msgids: map[int64]bool{}}
	for st, n := range s.counts(d, `SELECT status, count(*) FROM reminders GROUP BY status`) {
		tl.byStatus[st] = int(n)
	}
	tl.credits = s.counts(d, `SELECT openid, credits FROM consents`)
	rows, err := d.R.Query(`SELECT reminder_id, status, coalesce(msgid, 0), possible_duplicate, errmsg FROM deliveries`)
	if err != nil {
		s.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, st, errmsg string
		var msgid, marked int64
		if err := rows.Scan(&id, &st, &msgid, &marked, &errmsg); err != nil {
			s.t.Fatal(err)
		}
		tl.markedRows[id] += int(marked)
		if st == "sent" && errmsg == "settled by WeChat's sent event" {
			tl.settledRows++
		}
		switch st {
		case "sending":
			tl.sendingRows++
		case "sent":
			tl.sentRows[id]++
		case "abandoned", "duplicate", "unknown":
			tl.explainedRows[id]++
		}
		if msgid != 0 {
			tl.msgids[msgid] = true
		}
	}
	if err := rows.Err(); err != nil {
		s.t.Fatal(err)
	}
	return tl
}

// counts reads a query of (key, number) rows into a map.
func (s *suite) counts(d *db.DB, query string) map[string]int64 {
	s.t.Helper()
	rows, err := d.R.Query(query)
	if err != nil {
		s.t.Fatal(err)
	}
	defer rows.Close()
	m := map[string]int64{}
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			s.t.Fatal(err)
		}
		m[k] = n
	}
	if err := rows.Err(); err != nil {
		s.t.Fatal(err)
	}
	return m
}

func (s *suite) waitTerminal(n int, limit time.Duration) tally {
	s.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		tl := s.tally()
		if tl.byStatus["sent"]+tl.byStatus["failed"]+tl.byStatus["skipped"] == n {
			return tl
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("not every reminder finished within %v: %v (log %s)", limit, tl.byStatus, s.logs.Name())
		}
		time.Sleep(200 * time.Millisecond) // kept: polls another process's database; no signal crosses the process boundary
	}
}

// check asserts the delivery guarantee of docs/reminders.md.
func (s *suite) check(tl tally, n int) {
	s.t.Helper()
	if total := tl.byStatus["sent"] + tl.byStatus["failed"] + tl.byStatus["skipped"]; total != n || tl.byStatus["sent"] != n {
		s.t.Fatalf("reminders by status %v: want all %d sent, none lost", tl.byStatus, n)
	}
	sends := map[string]int{}
	for _, x := range s.fake.Sends() {
		sends[x.Data["thing1"]]++
		if !tl.msgids[x.MsgID] && tl.explainedRows[x.Data["thing1"]] == 0 {
			s.t.Errorf("WeChat accepted %s (msgid %d) and no delivery record shows it", x.Data["thing1"], x.MsgID)
		}
	}
	dups := 0
	for i := range n {
		id := fmt.Sprintf("rem_crash_%04d", i)
		if tl.sentRows[id] != 1 {
			s.t.Errorf("%s has %d sent delivery rows, want 1", id, tl.sentRows[id])
		}
		if sends[id] == 0 {
			s.t.Errorf("%s is recorded sent but WeChat never accepted it", id)
		}
		if extra := sends[id] - 1; extra > 0 {
			dups += extra
			if tl.explainedRows[id] < extra {
				s.t.Errorf("%s was sent %d times with only %d abandoned/unknown/duplicate records to explain it", id, sends[id], tl.explainedRows[id])
			}
			if tl.markedRows[id] < extra {
				s.t.Errorf("%s was sent %d times with only %d deliveries marked possible_duplicate", id, sends[id], tl.markedRows[id])
			}
		}
		o := fmt.Sprintf("crash-user-%04d", i)
		if tl.credits[o] != 1 || s.fake.Credits(o, wechattest.MeetingTemplateID) < 0 {
			s.t.Errorf("%s: ledger %d credits after one send from two (WeChat has %d)", o, tl.credits[o], s.fake.Credits(o, wechattest.MeetingTemplateID))
		}
	}
	s.t.Logf("%d reminders, %d WeChat sends, %d duplicates (each explained by an abandoned, unknown or duplicate record and marked possible_duplicate), %d unknown outcomes settled by their sent event",
		n, len(s.fake.Sends()), dups, tl.settledRows)
}

// TestCrashSuite kills reminderd with SIGKILL at random moments while it
// sends, restarts it, and repeats; then lets it finish.
func TestCrashSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	n, cycles := 200, 10
	if heavy() {
		n, cycles = 1000, 40
	}
	s := newSuite(t, 40*time.Millisecond)
	// Besides the kills, WeChat loses the answer of a share of the sends it
	// accepted.
	s.fake.SetFaults(wechattest.Faults{Latency: 40 * time.Millisecond, AfterLostRate: 0.02, AfterResetRate: 0.01, AfterEmptyRate: 0.01})
	s.seed(n)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for c := range cycles {
		cmd := s.start()
		time.Sleep(time.Duration(100+rng.IntN(500)) * time.Millisecond) // kept: the random kill moment is the point of the test
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		tl := s.tally()
		t.Logf("cycle %d: killed with %v", c+1, tl.byStatus)
	}
	cmd := s.start()
	tl := s.waitTerminal(n, 2*time.Minute)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	tl = s.tally()
	if tl.sendingRows != 0 {
		t.Fatalf("%d delivery rows left in sending after a clean stop", tl.sendingRows)
	}
	s.check(tl, n)
}

// TestShutdownSuite sends SIGTERM under load: nothing is left in sending,
// and after a restart every reminder is sent exactly once.
func TestShutdownSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	n := 150
	if heavy() {
		n = 600
	}
	s := newSuite(t, 100*time.Millisecond)
	s.seed(n)
	cmd := s.start()
	// kept: polls another process's database; no signal crosses the process boundary.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if tl := s.tally(); tl.byStatus["sent"] >= 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing was sent")
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("reminderd exited with %v on SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("reminderd did not stop on SIGTERM")
	}
	tl := s.tally()
	if tl.byStatus["sending"] != 0 || tl.sendingRows != 0 {
		t.Fatalf("after SIGTERM: %d reminders and %d deliveries left in sending", tl.byStatus["sending"], tl.sendingRows)
	}
	if tl.byStatus["sent"] == n {
		t.Fatal("everything was sent before SIGTERM: the test did not stop it under load")
	}
	cmd = s.start()
	tl = s.waitTerminal(n, 2*time.Minute)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	s.check(s.tally(), n)
	for _, x := range s.fake.Sends() {
		if strings.HasPrefix(x.Data["thing1"], "rem_crash_") && tl.explainedRows[x.Data["thing1"]] > 0 {
			t.Fatalf("a graceful stop left %s abandoned", x.Data["thing1"])
		}
	}
}
