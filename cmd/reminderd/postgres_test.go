package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db/pgtest"
	"github.com/reminderd/reminderd/internal/db/postgres"
	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// TestMain stops the PostgreSQL server pgtest started for this binary's
// tests, if one did, after they all ran.
func TestMain(m *testing.M) { pgtest.Main(m) }

// A bad PostgreSQL URL is refused by the configuration, naming the setting,
// and neither the refusal nor the usage output prints its password.
func TestPostgresSettingNeverShowsThePassword(t *testing.T) {
	const pw = "SECRETPW"
	for _, u := range []string{
		"postgres://reminderd:" + pw + "@db.example:notaport/reminderd",
		"postgresql://reminderd:" + pw + "@db.example/reminderd?sslmode=sometimes",
		"postgres://db.example/reminderd?password=" + pw + "&connect_timeout=soon",
	} {
		for _, args := range [][]string{{"serve"}, {"migrate"}, {"backup", "/tmp/x"}} {
			err := run(context.Background(), args, env(map[string]string{"REMINDERD_DB": u}), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "REMINDERD_DB") || strings.Contains(err.Error(), pw) {
				t.Errorf("%v with %s: %v", args, u, err)
			}
		}
	}
	var out bytes.Buffer
	good := "postgres://reminderd:" + pw + "@db.example:5432/reminderd"
	for _, cmd := range []string{"serve", "migrate"} {
		if err := run(context.Background(), []string{"help", cmd}, env(map[string]string{"REMINDERD_DB": good}), &out, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(out.String(), pw) || !strings.Contains(out.String(), "postgres://reminderd:xxxxx@db.example:5432/reminderd") {
		t.Fatalf("help shows the database as:\n%s", out.String())
	}
	// A URL that parses but names no reachable server: the error names the
	// server, not the password.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, env(map[string]string{"REMINDERD_DB": "postgres://reminderd:" + pw + "@127.0.0.1:1/reminderd?connect_timeout=5"}), io.Discard, io.Discard)
	if err == nil || strings.Contains(err.Error(), pw) {
		t.Fatalf("serve on an unreachable server: %v", err)
	}
}

// TestPostgresEndToEnd runs the real run() on PostgreSQL (REMINDERD_DB a
// postgres:// URL) against a fake WeChat: log in, report consent, create a
// reminder due now; the fake receives the send and the reminder ends sent
// with its delivery. A restart of the process on the same database keeps
// everything: the session, the reminder, its delivery, the spent credit and
// the access token (fetched once across both processes).
func TestPostgresEndToEnd(t *testing.T) {
	dbURL := pgtest.Database(t)
	fake := testkit.WeChat(t, wechattest.Options{})
	admin := randomToken(24)
	vars := env(map[string]string{
		"REMINDERD_DB": dbURL, "REMINDERD_ADDR": "127.0.0.1:0", "REMINDERD_ADMIN_TOKEN": admin,
		"REMINDERD_WECHAT_APPID": fake.AppID(), "REMINDERD_WECHAT_SECRET": fake.Secret(), "REMINDERD_WECHAT_BASE_URL": fake.URL,
		"REMINDERD_SCAN_EVERY": "200ms",
	})
	start := func() (base string, stderr *lineBuffer, stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		stdout, stderr := &lineBuffer{}, &lineBuffer{}
		done := make(chan error, 1)
		go func() { done <- run(ctx, nil, vars, stdout, stderr) }()
		stopped := false
		stop = func() {
			if stopped {
				return
			}
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve returned %v\n%s", err, stderr.String())
			}
		}
		t.Cleanup(stop)
		line := stdout.waitLine(t, 60*time.Second, "listening line", func(l string) bool { return strings.Contains(l, "listening on ") })
		return regexp.MustCompile(`listening on (http://\S+)`).FindStringSubmatch(line)[1], stderr, stop
	}

	base, stderr, stop := start()
	stderr.waitLine(t, 5*time.Second, "the PostgreSQL log line", func(l string) bool { return strings.Contains(l, "database: PostgreSQL") })
	var sess struct{ Token, OpenID string }
	if st := call(t, "POST", base+"/v1/session", "", map[string]string{"code": fake.IssueCode("pg-user")}, &sess); st != 200 || sess.OpenID != "pg-user" {
		t.Fatalf("login %d %+v", st, sess)
	}
	answers, err := fake.Popup(context.Background(), "pg-user", map[string]string{wechattest.MeetingTemplateID: "accept"})
	if err != nil {
		t.Fatal(err)
	}
	type consents struct {
		Consents []struct {
			TemplateID string `json:"template_id"`
			Credits    int    `json:"credits"`
		}
	}
	var report consents
	if st := call(t, "POST", base+"/v1/consents", sess.Token, map[string]any{"results": answers}, &report); st != 200 ||
		len(report.Consents) != 1 || report.Consents[0].Credits != 1 {
		t.Fatalf("consent report %d %+v", st, report)
	}
	fire := time.Now().Add(time.Second).Truncate(time.Second) // due now: the next whole second (a past fire_at is refused)
	body := map[string]any{"template_id": wechattest.MeetingTemplateID, "fire_at": fire.Format(time.RFC3339),
		"data": map[string]string{"thing1": "项目评审会", "time2": fire.Format("2006-01-02 15:04"), "thing3": "A栋201会议室"}, "page": "pages/meeting/detail?id=42"}
	var created map[string]any
	if st := call(t, "POST", base+"/v1/reminders", sess.Token, body, &created); st != 201 {
		t.Fatalf("create %d %v", st, created)
	}
	id := created["id"].(string)
	stderr.waitLine(t, 30*time.Second, "the reminder's send", func(l string) bool {
		return strings.Contains(l, `"msg":"send"`) && strings.Contains(l, `"reminder_id":"`+id+`"`)
	})
	sends := fake.Sends()
	if len(sends) != 1 || sends[0].ToUser != "pg-user" || sends[0].TemplateID != wechattest.MeetingTemplateID || sends[0].Page != "pages/meeting/detail?id=42" {
		t.Fatalf("the fake received %+v", sends)
	}
	msgid := strconv.FormatInt(sends[0].MsgID, 10)
	check := func(when string) {
		t.Helper()
		var got map[string]any
		if st := call(t, "GET", base+"/v1/reminders/"+id, sess.Token, nil, &got); st != 200 || got["status"] != "sent" {
			t.Fatalf("%s: the reminder is %v (%v), want sent: %v", when, got["status"], got["reason"], got)
		}
		ds, _ := got["deliveries"].([]any)
		if len(ds) != 1 {
			t.Fatalf("%s: deliveries %v", when, got["deliveries"])
		}
		if d := ds[0].(map[string]any); d["status"] != "sent" || d["msgid"] != msgid || d["errcode"] != 0.0 {
			t.Fatalf("%s: delivery %v, want sent with msgid %s", when, d, msgid)
		}
		var after consents
		if st := call(t, "GET", base+"/v1/consents", sess.Token, nil, &after); st != 200 || len(after.Consents) != 1 || after.Consents[0].Credits != 0 {
			t.Fatalf("%s: consents %d %+v, want the credit spent", when, st, after)
		}
	}
	check("after the send")
	// Readiness and the metrics work on PostgreSQL too (no WAL of SQLite's
	// to report: its gauges stay 0).
	if st := call(t, "GET", base+"/readyz", "", nil, nil); st != 200 {
		t.Fatalf("readyz %d", st)
	}
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{`reminderd_reminders{appid="` + fake.AppID() + `",status="sent"} 1`, `reminderd_sends_total{appid="` + fake.AppID() + `",errcode="0",reason="",status="sent"} 1`} {
		if !strings.Contains(string(text), want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	stop()

	// The same database, a new process: nothing is lost, nothing sent again.
	base, stderr, stop = start()
	check("after the restart")
	var admin1 map[string]any
	if st := call(t, "GET", base+"/admin/v1/reminders/"+id, admin, nil, &admin1); st != 200 || admin1["status"] != "sent" {
		t.Fatalf("admin get %d %v", st, admin1)
	}
	stop()
	if n := len(fake.Sends()); n != 1 {
		t.Fatalf("the fake received %d sends, want 1", n)
	}
	if c := fake.Counts(); c.StableToken+c.LegacyToken != 1 {
		t.Errorf("access token fetched %d times, want once (kept in PostgreSQL across the restart)", c.StableToken+c.LegacyToken)
	}
	if logs := stderr.String(); strings.Contains(logs, sess.Token) || strings.Contains(logs, admin) || strings.Contains(logs, fake.Secret()) {
		t.Fatal("logs contain a secret")
	}
}

// `reminderd migrate` on PostgreSQL applies the embedded migrations and
// prints the version, the URL without its password.
func TestMigrateCommandOnPostgres(t *testing.T) {
	u := pgtest.Database(t)
	for range 2 { // the second finds nothing to do
		var out bytes.Buffer
		if err := run(context.Background(), []string{"migrate"}, env(map[string]string{"REMINDERD_DB": u}), &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("is at schema version %d\n", postgres.LatestVersion()); !strings.HasSuffix(out.String(), want) {
			t.Fatalf("migrate said %q, want …%q", out.String(), want)
		}
	}
}

// `reminderd demo` runs its whole story on an empty PostgreSQL database
// named by REMINDERD_DB, and refuses one that already holds reminders.
func TestDemoOnPostgres(t *testing.T) {
	u := pgtest.Database(t)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"demo"}, env(map[string]string{"REMINDERD_DB": u}), &out, io.Discard); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{"running on PostgreSQL", "Every reminder ended as it should"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	err := run(context.Background(), []string{"demo"}, env(map[string]string{"REMINDERD_DB": u}), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "needs an empty one") {
		t.Fatalf("demo on a database with reminders: %v", err)
	}
}
