package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigDefaultsEnvAndFlags(t *testing.T) {
	c, err := parseConfig("t", nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.DB != "reminderd.db" || c.BaseURL != "https://api.weixin.qq.com" ||
		c.MiniprogramState != "formal" || c.Lang != "zh_CN" || c.Timezone != "Asia/Shanghai" || !c.Sandbox() {
		t.Fatalf("defaults %+v", c)
	}
	c, err = parseConfig("t", []string{"--addr", ":9999", "--wechat-secret", "flag-secret"},
		env(map[string]string{"REMINDERD_ADDR": "127.0.0.1:1", "REMINDERD_DB": "/tmp/x.db", "REMINDERD_WECHAT_APPID": "wx1", "REMINDERD_WECHAT_SECRET": "env-secret", "REMINDERD_LANG": "en_US"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":9999" || c.DB != "/tmp/x.db" || c.Secret != "flag-secret" || c.Lang != "en_US" || c.Sandbox() {
		t.Fatalf("env and flags %+v", c)
	}
}

func TestConfigRefusesHalfFilledWeChat(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"REMINDERD_WECHAT_APPID": "wx1"}, "REMINDERD_WECHAT_SECRET is missing"},
		{map[string]string{"REMINDERD_WECHAT_SECRET": "s"}, "REMINDERD_WECHAT_APPID is missing"},
		{map[string]string{"REMINDERD_WECHAT_APPID": "wx1", "REMINDERD_WECHAT_SECRET": "s", "REMINDERD_WECHAT_AES_KEY": strings.Repeat("a", 43)}, "REMINDERD_WECHAT_PUSH_TOKEN is missing"},
		{map[string]string{"REMINDERD_WECHAT_APPID": "wx1", "REMINDERD_WECHAT_SECRET": "s", "REMINDERD_WECHAT_PUSH_TOKEN": "p", "REMINDERD_WECHAT_AES_KEY": "short"}, "43 characters"},
		{map[string]string{"REMINDERD_MINIPROGRAM_STATE": "beta"}, "developer, trial or formal"},
		{map[string]string{"REMINDERD_LANG": "fr"}, "REMINDERD_LANG"},
		{map[string]string{"REMINDERD_TIMEZONE": "Mars/Base"}, "REMINDERD_TIMEZONE"},
	} {
		_, err := parseConfig("t", nil, env(tc.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("env %v: err %v, want %q", tc.env, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "SECRETVALUE") {
			t.Errorf("error echoes a secret: %v", err)
		}
	}
	// The refusal reaches the command line.
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"serve"}, env(map[string]string{"REMINDERD_WECHAT_APPID": "wx1"}), io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), "REMINDERD_WECHAT_SECRET") {
		t.Fatalf("serve with a half-filled config: %v", err)
	}
}

func TestUsageNeverPrintsSecrets(t *testing.T) {
	var stderr bytes.Buffer
	_, err := parseConfig("t", []string{"-h"}, env(map[string]string{"REMINDERD_WECHAT_SECRET": "SECRETVALUE", "REMINDERD_ADMIN_TOKEN": "ADMINVALUE"}), &stderr)
	if err == nil {
		t.Fatal("-h returned no error")
	}
	if out := stderr.String(); !strings.Contains(out, "wechat-secret") || strings.Contains(out, "SECRETVALUE") || strings.Contains(out, "ADMINVALUE") {
		t.Fatalf("usage:\n%s", out)
	}
}

func TestVersionAndUnknownCommand(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		var out bytes.Buffer
		err := run(context.Background(), args, env(nil), &out, io.Discard)
		if err != nil || !strings.HasPrefix(out.String(), "reminderd dev ") || !strings.Contains(out.String(), runtime.Version()) {
			t.Fatalf("%v: %v %q", args, err, out.String())
		}
	}
	for _, args := range [][]string{{"frobnicate"}, {"help", "frobnicate"}} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), args, env(nil), &stdout, &stderr)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), `unknown command "frobnicate"`) {
			t.Fatalf("%v: exit %d, %v", args, exitCode(err), err)
		}
		if !strings.HasPrefix(stderr.String(), `reminderd: unknown command "frobnicate"`) || !strings.Contains(stderr.String(), "\n  backup ") || stdout.Len() > 0 {
			t.Fatalf("%v: stderr %q stdout %q", args, stderr.String(), stdout.String())
		}
	}
}

// The command list: one line per command, on stdout, exit 0, however asked.
func TestHelpListsCommands(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"-help"}, {"help"}} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), args, env(nil), &stdout, &stderr)
		if exitCode(err) != 0 || err != nil || stderr.Len() > 0 {
			t.Fatalf("%v: %v, stderr %q", args, err, stderr.String())
		}
		for _, c := range commands() {
			if n := strings.Count(stdout.String(), "\n  "+c.name+" "); n != 1 {
				t.Errorf("%v: command %s listed %d times:\n%s", args, c.name, n, stdout.String())
			}
		}
	}
}

// Each command's help shows its own flags only, the same whichever way it
// is asked for, with numbers and durations typed.
func TestCommandHelpShowsItsOwnFlags(t *testing.T) {
	for _, tc := range []struct {
		cmd       string
		want, not []string
	}{
		{"serve", []string{"--lease duration", "--send-concurrency int", "--send-rate float", "--max-attempts int", "--addr string", "(env REMINDERD_LEASE)", "(default 2m)"}, []string{"--scan-sizes", "PATH"}},
		{"migrate", []string{"--db file", "(env REMINDERD_DB)"}, []string{"--addr", "--lease", "--scan-sizes"}},
		{"backup", []string{"usage: reminderd backup [--db FILE] PATH", "PATH\n", "--db file"}, []string{"--addr", "--lease", "--scan-sizes"}},
		{"bench", []string{"--n int", "--steady-for duration", "--latencies durations", "--scan-sizes ints", "--db URL"}, []string{"--addr", "--lease", "REMINDERD_"}},
		{"demo", []string{"usage: reminderd demo\n"}, []string{"flags:"}},
		{"version", []string{"usage: reminderd version\n"}, []string{"flags:"}},
		{"help", []string{"usage: reminderd help [COMMAND]\n"}, []string{"flags:"}},
	} {
		var first string
		for _, args := range [][]string{{"help", tc.cmd}, {tc.cmd, "--help"}, {tc.cmd, "-h"}} {
			var stdout, stderr bytes.Buffer
			env := env(map[string]string{"REMINDERD_WECHAT_SECRET": "SECRETVALUE"})
			if err := run(context.Background(), args, env, &stdout, &stderr); err != nil || stderr.Len() > 0 {
				t.Fatalf("%v: %v, stderr %q", args, err, stderr.String())
			}
			out := stdout.String()
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("%v lacks %q:\n%s", args, w, out)
				}
			}
			for _, w := range append(tc.not, "SECRETVALUE") {
				if strings.Contains(out, w) {
					t.Errorf("%v shows %q:\n%s", args, w, out)
				}
			}
			if first == "" {
				first = out
			} else if out != first {
				t.Errorf("%v differs from help %s", args, tc.cmd)
			}
		}
	}
}

// A mistake on the command line exits 2; a failure of the work exits 1.
func TestUsageMistakesExit2(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"serve", "--no-such-flag"}, 2},
		{[]string{"--no-such-flag"}, 2},
		{[]string{"serve", "extra"}, 2},
		{[]string{"migrate", "--addr", ":1"}, 2},
		{[]string{"migrate", "--db", filepath.Join(dir, "m.db"), "extra"}, 2},
		{[]string{"backup", "--db", filepath.Join(dir, "m.db")}, 2},
		{[]string{"bench", "--lease", "1s"}, 2},
		{[]string{"demo", "now"}, 2},
		{[]string{"version", "now"}, 2},
		{[]string{"serve", "--lease", "soon"}, 1}, // a bad value: validation names it
		{[]string{"backup", "--db", filepath.Join(dir, "missing.db"), filepath.Join(dir, "b.db")}, 1},
	} {
		err := run(context.Background(), tc.args, env(nil), io.Discard, io.Discard)
		if got := exitCode(err); got != tc.code {
			t.Errorf("%v: exit %d (%v), want %d", tc.args, got, err, tc.code)
		}
	}
}

// The type a setting's help names is the one validate accepts: a new
// setting whose default misleads settingType fails here.
func TestSettingTypesMatchParsing(t *testing.T) {
	probe := map[string]struct{ good, bad string }{
		"int":      {"3", "1.5"},
		"float":    {"1.5", "1s"},
		"duration": {"90s", "1.5"},
	}
	for _, s := range new(config).settings() {
		typ := settingType(s)
		p, ok := probe[typ]
		if !ok {
			continue
		}
		for v, wantOK := range map[string]bool{p.good: true, p.bad: false} {
			// A long lease, so that any WeChat timeout probed fits its send
			// budget, and a long leader lease for any heartbeat probed (the
			// flag wins where the lease itself is probed).
			_, err := parseConfig("t", []string{"--" + s.flag, v}, env(map[string]string{"REMINDERD_LEASE": "1h", "REMINDERD_LEADER_TTL": "1h"}), io.Discard)
			if gotOK := err == nil || !strings.Contains(err.Error(), s.env); gotOK != wantOK {
				t.Errorf("--%s (%s) %q: accepted %v, want %v (%v)", s.flag, typ, v, gotOK, wantOK, err)
			}
		}
	}
}

func TestMigrateCommand(t *testing.T) {
	var out bytes.Buffer
	path := filepath.Join(t.TempDir(), "m.db")
	if err := run(context.Background(), []string{"migrate", "--db", path}, env(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), fmt.Sprintf("schema version %d", db.LatestVersion())) {
		t.Fatalf("migrate said %q", out.String())
	}
}

// startServe runs `reminderd serve` on :0 in sandbox mode and returns its
// printed lines once it listens.
func startServe(t *testing.T, extra ...string) (base string, stdout *lineBuffer, stderr *lineBuffer, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr = &lineBuffer{}, &lineBuffer{}
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "e2e.db")}, extra...)
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, env(nil), stdout, stderr) }()
	re := regexp.MustCompile(`listening on (http://\S+)`)
	timeout := time.After(10 * time.Second)
	for {
		out, grew := stdout.next()
		if m := re.FindStringSubmatch(out); m != nil && strings.Contains(out, "more codes") {
			base = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v\n%s", err, stderr.String())
		case <-timeout:
			t.Fatalf("serve did not start:\n%s\n%s", stdout.String(), stderr.String())
		case <-grew:
		}
	}
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return base, stdout, stderr, stop
}

func call(t *testing.T, method, url, token string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %q", method, url, raw)
		}
	}
	return res.StatusCode
}

// TestEndToEnd runs the real binary's run(): log in, report consent through
// the fake's popup, create a meeting reminder, list it, cancel it.
func TestEndToEnd(t *testing.T) {
	base, stdout, stderr, stop := startServe(t)
	out := stdout.String()
	code := regexp.MustCompile(`valid 5 minutes\): (\S+)`).FindStringSubmatch(out)[1]
	admin := regexp.MustCompile(`admin token: (\S+)`).FindStringSubmatch(out)[1]
	fakeURL := regexp.MustCompile(`fake WeChat at (\S+)`).FindStringSubmatch(out)[1]
	if first := strings.SplitN(stderr.String(), "\n", 2)[0]; !strings.Contains(first, "sandbox") {
		t.Fatalf("first log line does not say sandbox: %s", first)
	}

	if st := call(t, "GET", base+"/readyz", "", nil, nil); st != 200 {
		t.Fatalf("readyz %d", st)
	}
	var sess struct{ Token, OpenID string }
	if st := call(t, "POST", base+"/v1/session", "", map[string]string{"code": code}, &sess); st != 200 || sess.OpenID != "sandbox-user" {
		t.Fatalf("login %d %+v", st, sess)
	}
	// The user taps "allow" in the popup: the fake pushes the event, the
	// mini-program reports the same result; one credit.
	var popup map[string]string
	if st := call(t, "POST", fakeURL+"/fake/popup", "", map[string]any{"openid": "sandbox-user", "answers": map[string]string{wechattest.MeetingTemplateID: "accept"}}, &popup); st != 200 {
		t.Fatalf("popup %d", st)
	}
	var consents struct {
		Consents []struct {
			TemplateID string `json:"template_id"`
			Credits    int    `json:"credits"`
		}
	}
	if st := call(t, "POST", base+"/v1/consents", sess.Token, map[string]any{"results": popup}, &consents); st != 200 ||
		len(consents.Consents) != 1 || consents.Consents[0].Credits != 1 {
		t.Fatalf("consents %d %+v", st, consents)
	}
	fire := time.Now().Add(time.Hour).Truncate(time.Second)
	body := map[string]any{"template_id": wechattest.MeetingTemplateID, "fire_at": fire.Format(time.RFC3339),
		"data": map[string]string{"thing1": "项目评审会", "time2": fire.Format("2006-01-02 15:04"), "thing3": "A栋201会议室"}, "page": "pages/meeting/detail?id=42"}
	var created map[string]any
	if st := call(t, "POST", base+"/v1/reminders", sess.Token, body, &created); st != 201 {
		t.Fatalf("create %d %v", st, created)
	}
	id := created["id"].(string)
	if cov := created["consent"].(map[string]any)["covered"]; cov != true {
		t.Fatalf("reminder not covered by the accepted consent: %v", created)
	}
	var list struct {
		Reminders []map[string]any
	}
	if st := call(t, "GET", base+"/v1/reminders", sess.Token, nil, &list); st != 200 || len(list.Reminders) != 1 || list.Reminders[0]["id"] != id {
		t.Fatalf("list %d %+v", st, list)
	}
	var admin1 map[string]any
	if st := call(t, "GET", base+"/admin/v1/reminders/"+id, admin, nil, &admin1); st != 200 {
		t.Fatalf("admin get %d", st)
	}
	var jobs struct{ Jobs []map[string]any }
	if st := call(t, "GET", base+"/admin/v1/jobs", admin, nil, &jobs); st != 200 || len(jobs.Jobs) < 2 {
		t.Fatalf("jobs %d %+v", st, jobs)
	}
	// On SQLite the one process, leader (its first heartbeat may follow
	// the listener by a moment: a bounded poll of the process).
	var fleet struct{ Instances []map[string]any }
	for deadline := time.Now().Add(10 * time.Second); ; {
		st := call(t, "GET", base+"/admin/v1/instances", admin, nil, &fleet)
		if st == 200 && len(fleet.Instances) == 1 && fleet.Instances[0]["leader"] == true && fleet.Instances[0]["host"] != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("instances %d %+v", st, fleet)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var canceled map[string]any
	if st := call(t, "DELETE", base+"/v1/reminders/"+id, sess.Token, nil, &canceled); st != 200 || canceled["status"] != "canceled" {
		t.Fatalf("cancel %d %v", st, canceled)
	}
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metricsText, _ := io.ReadAll(res.Body)
	res.Body.Close()
	first := wechattest.DefaultAppID
	for _, want := range []string{`reminderd_reminders{appid="` + first + `",status="canceled"} 1`,
		// One token per sandbox app, each its own.
		`reminderd_token_events_total{appid="` + first + `",kind="fetched"} 1`,
		`reminderd_token_events_total{appid="` + sandboxSecondAppID + `",kind="fetched"} 1`,
		`reminderd_breaker_state{appid="` + first + `",state="closed"} 1`, `reminderd_breakers_state{state="closed"} 1`} {
		if !strings.Contains(string(metricsText), want) {
			t.Fatalf("/metrics lacks %q", want)
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v on shutdown", err)
	}
	if logs := stderr.String(); strings.Contains(logs, sess.Token) || strings.Contains(logs, admin) || strings.Contains(logs, wechattest.DefaultSecret) {
		t.Fatal("logs contain a secret")
	}
}

// TestDemo runs `reminderd demo`: it checks its own outcomes and fails if
// any reminder ends otherwise than it should.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"demo"}, env(nil), &out, io.Discard); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{"no_consent", "page_invalid", "scheduled for its first occurrence", "recurrence must not be @every", "refused at creation (422)", "Every reminder ended as it should",
		"second mini-program wxsandbox00000002: demo-user-of-app-2 logged in", "GET /fake/sends?appid=wxsandbox00000002",
		"GET /admin/v1/apps: " + wechattest.DefaultAppID + " serving", "wxsandbox00000002 serving (sent 1,", "a second mini-program got a reminder"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}
