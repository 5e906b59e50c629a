package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// waitLine waits for a line for which match is true and returns it.
func (l *lineBuffer) waitLine(t *testing.T, d time.Duration, what string, match func(string) bool) string {
	t.Helper()
	timeout := time.After(d)
	for {
		text, changed := l.next()
		for _, l := range strings.Split(text, "\n") {
			if match(l) {
				return l
			}
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("no %s within %s:\n%s", what, d, text)
		}
	}
}

// TestSandboxConsentJustWorks is the first hour of a developer without a
// phone: start the sandbox, log in and grant consent with the banner's own
// curl lines (POST /v1/consents alone, no popup), create a reminder due
// shortly: it is sent, not refused with 43101, because the report was
// granted at the built-in fake WeChat too.
func TestSandboxConsentJustWorks(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &lineBuffer{}, &lineBuffer{}
	args := []string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "sandbox.db")}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, env(nil), stdout, stderr) }()
	t.Cleanup(func() { cancel(); <-done })
	stdout.waitLine(t, 30*time.Second, "banner", func(l string) bool { return strings.HasPrefix(l, "sandbox: more codes:") })
	banner := stdout.String()
	base := regexp.MustCompile(`listening on (http://\S+)`).FindStringSubmatch(banner)[1]
	line := func(prefix string) string {
		for _, l := range strings.Split(banner, "\n") {
			if strings.HasPrefix(l, prefix) {
				return strings.TrimPrefix(l, prefix)
			}
		}
		t.Fatalf("the banner has no %q line:\n%s", prefix, banner)
		return ""
	}

	// The admin page's URL, served.
	adminURL := strings.Fields(line("sandbox: admin page: "))[0]
	if adminURL != base+"/admin/" {
		t.Fatalf("admin page at %s, want %s/admin/", adminURL, base)
	}
	if res, err := http.Get(adminURL); err != nil || res.StatusCode != 200 {
		t.Fatalf("GET %s: %v %v", adminURL, res, err)
	} else {
		res.Body.Close()
	}

	// Log in and grant consent with the banner's lines, as printed.
	login, grant := line("sandbox: log in: "), line("sandbox: grant consent: ")
	code := line("sandbox: a login code for openid sandbox-user (valid 5 minutes): ")
	if !strings.Contains(login, code) || !strings.Contains(login, base+"/v1/session") ||
		!strings.Contains(grant, base+"/v1/consents") || !strings.Contains(grant, wechattest.MeetingTemplateID) {
		t.Fatalf("the curl lines do not use the printed code and address:\n%s\n%s", login, grant)
	}
	var token string
	var report struct {
		Consents []struct {
			TemplateID string `json:"template_id"`
			Credits    int    `json:"credits"`
		} `json:"consents"`
	}
	if _, err := exec.LookPath("curl"); err == nil {
		out, err := exec.Command("bash", "-c", login+"\n"+grant+"\necho\necho \"TOKEN=$TOKEN\"").CombinedOutput()
		if err != nil {
			t.Fatalf("the banner's lines failed: %v\n%s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		token = strings.TrimPrefix(lines[len(lines)-1], "TOKEN=")
		if err := json.Unmarshal([]byte(lines[0]), &report); err != nil {
			t.Fatalf("grant consent answered %q", out)
		}
	} else {
		t.Log("no curl: the banner's lines are played in Go")
		var sess struct{ Token string }
		if st := call(t, "POST", base+"/v1/session", "", map[string]string{"code": code}, &sess); st != 200 {
			t.Fatalf("login %d", st)
		}
		token = sess.Token
		body := regexp.MustCompile(`-d '([^']*)'`).FindStringSubmatch(grant)[1]
		var v any
		_ = json.Unmarshal([]byte(body), &v)
		if st := call(t, "POST", base+"/v1/consents", token, v, &report); st != 200 {
			t.Fatalf("consent %d", st)
		}
	}
	if token == "" || len(report.Consents) != 1 || report.Consents[0].Credits != 1 {
		t.Fatalf("after the banner's lines: token %q, consents %+v", token, report)
	}
	// The access log line of the report says the fake granted it.
	stderr.waitLine(t, 5*time.Second, "the report's access log line", func(l string) bool {
		return strings.Contains(l, `"route":"/v1/consents"`) && strings.Contains(l, `"sandbox_granted":["`+wechattest.MeetingTemplateID+`"]`)
	})

	// A reminder due in a second or two is sent.
	fire := time.Now().Add(2 * time.Second).Truncate(time.Second)
	body := map[string]any{"template_id": wechattest.MeetingTemplateID, "fire_at": fire.Format(time.RFC3339),
		"data": map[string]string{"thing1": "项目评审会", "time2": fire.Format("2006-01-02 15:04"), "thing3": "A栋201会议室"}}
	var created map[string]any
	if st := call(t, "POST", base+"/v1/reminders", token, body, &created); st != 201 {
		t.Fatalf("create %d %v", st, created)
	}
	id := created["id"].(string)
	stderr.waitLine(t, 30*time.Second, "the reminder's send", func(l string) bool {
		return strings.Contains(l, `"msg":"send"`) && strings.Contains(l, `"reminder_id":"`+id+`"`)
	})
	var got map[string]any
	if st := call(t, "GET", base+"/v1/reminders/"+id, token, nil, &got); st != 200 || got["status"] != "sent" {
		t.Fatalf("the reminder ended %v (%v), want sent: %v", got["status"], got["reason"], got)
	}
	if st := call(t, "GET", base+"/v1/consents", token, nil, &report); st != 200 || report.Consents[0].Credits != 0 {
		t.Fatalf("after the send: %+v", report)
	}

	// serve wires the metrics: requests by route pattern, the send by its
	// errcode.
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`reminderd_http_requests_total{method="POST",route="/v1/consents",status="200"} 1`,
		`reminderd_http_requests_total{method="GET",route="/v1/reminders/{id}",status="200"} 1`,
		`reminderd_sends_total{appid="` + wechattest.DefaultAppID + `",errcode="0",reason="",status="sent"} 1`,
	} {
		if !strings.Contains(string(text), want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// The fake pairs a report with its popup within the window reminderd's
// ledger uses.
func TestFakePairsWithinTheLedgersWindow(t *testing.T) {
	if wechattest.PairWindow != store.PairWindow {
		t.Fatalf("wechattest.PairWindow %s, store.PairWindow %s: the sandbox would count accepts otherwise than the ledger", wechattest.PairWindow, store.PairWindow)
	}
}
