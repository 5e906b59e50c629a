package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// The sandbox serves its two apps from one fake WeChat with two accounts: a
// user of the second mini-program logs in with a code of that account (the
// first app refuses it), the report is granted at that account, the
// reminder goes out through it, and the first account sees none of it.
func TestSandboxSecondAppOnTheSameFake(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &lineBuffer{}, &lineBuffer{}
	args := []string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "sandbox.db")}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, env(nil), stdout, stderr) }()
	t.Cleanup(func() { cancel(); <-done })
	stdout.waitLine(t, 30*time.Second, "the second app's banner", func(l string) bool { return strings.HasPrefix(l, "sandbox: its codes:") })
	banner := stdout.String()
	find := func(re string) string {
		m := regexp.MustCompile(re).FindStringSubmatch(banner)
		if m == nil {
			t.Fatalf("the banner has no %s:\n%s", re, banner)
		}
		return m[1]
	}
	base, fakeURL := find(`listening on (http://\S+)`), find(`fake WeChat at (http://\S+)`)
	second, admin := find(`a second mini-program (\S+)`), find(`admin token: (\S+)`)
	if second == wechattest.DefaultAppID || !strings.Contains(banner, fakeURL+"/fake/login?appid="+second) {
		t.Fatalf("the second app's lines do not name its account at the fake %s:\n%s", fakeURL, banner)
	}

	// Its codes are its account's: the first app (the default) refuses one.
	code := func() string {
		var out struct{ Code, AppID string }
		if st := call(t, "POST", fakeURL+"/fake/login?appid="+second, "", map[string]string{"openid": sandboxUser}, &out); st != 200 || out.AppID != second {
			t.Fatalf("/fake/login of %s: %d %+v", second, st, out)
		}
		return out.Code
	}
	if st := call(t, "POST", base+"/v1/session", "", map[string]string{"code": code()}, nil); st == 200 {
		t.Fatal("the first app accepted a login code of the second")
	}
	var sess struct{ Token, AppID string }
	if st := call(t, "POST", base+"/v1/session", "", map[string]string{"code": code(), "appid": second}, &sess); st != 200 || sess.AppID != second {
		t.Fatalf("login to %s: %d %+v", second, st, sess)
	}
	var report struct {
		Consents []struct{ Credits int }
	}
	if st := call(t, "POST", base+"/v1/consents", sess.Token, map[string]any{"results": map[string]string{wechattest.MeetingTemplateID: "accept"}}, &report); st != 200 ||
		len(report.Consents) != 1 || report.Consents[0].Credits != 1 {
		t.Fatalf("consent at %s: %d %+v", second, st, report)
	}

	fire := time.Now().Add(2 * time.Second).Truncate(time.Second)
	body := map[string]any{"template_id": wechattest.MeetingTemplateID, "fire_at": fire.Format(time.RFC3339),
		"data": map[string]string{"thing1": "第二个小程序", "time2": fire.Format("2006-01-02 15:04"), "thing3": "B栋"}}
	var created struct{ ID string }
	if st := call(t, "POST", base+"/v1/reminders", sess.Token, body, &created); st != 201 {
		t.Fatalf("create %d", st)
	}
	stderr.waitLine(t, 30*time.Second, "the reminder's send", func(l string) bool {
		return strings.Contains(l, `"msg":"send"`) && strings.Contains(l, `"reminder_id":"`+created.ID+`"`)
	})
	var got struct{ Status string }
	if st := call(t, "GET", base+"/v1/reminders/"+created.ID, sess.Token, nil, &got); st != 200 || got.Status != "sent" {
		t.Fatalf("the second app's reminder: %d %+v, want sent", st, got)
	}

	// The fake shows the message at the second account, none at the first.
	type sends struct {
		AppID string
		Sends []struct{ ToUser, Template_ID string }
	}
	var b, a sends
	if st := call(t, "GET", fakeURL+"/fake/sends?appid="+second, "", nil, &b); st != 200 || b.AppID != second ||
		len(b.Sends) != 1 || b.Sends[0].ToUser != sandboxUser {
		t.Fatalf("sends at %s: %d %+v", second, st, b)
	}
	if st := call(t, "GET", fakeURL+"/fake/sends", "", nil, &a); st != 200 || a.AppID != wechattest.DefaultAppID || len(a.Sends) != 0 {
		t.Fatalf("sends at the first app: %d %+v", st, a)
	}
	var apps struct {
		Apps []struct {
			AppID     string
			Reminders map[string]int
		}
	}
	if st := call(t, "GET", base+"/admin/v1/apps", admin, nil, &apps); st != 200 || len(apps.Apps) != 2 {
		t.Fatalf("admin apps: %d %+v", st, apps)
	}
	for _, x := range apps.Apps {
		if want := map[bool]int{true: 1, false: 0}[x.AppID == second]; x.Reminders["sent"] != want {
			t.Errorf("app %s counts %v, want %d sent", x.AppID, x.Reminders, want)
		}
	}
}
