package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/testkit"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// serve with an apps file, then SIGHUP: an added app is served, a
// malformed file is refused with a log line and the running apps kept, a
// removed app is no longer served.
func TestServeAppsFileAndSIGHUP(t *testing.T) {
	fake := testkit.WeChat(t, wechattest.Options{})
	path := filepath.Join(t.TempDir(), "apps.json")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	one := `{"apps":[{"appid":"` + fake.AppID() + `","secret_env":"A_SECRET"}]}`
	two := `{"apps":[{"appid":"` + fake.AppID() + `","secret_env":"A_SECRET"},{"appid":"wxsecond000000002","secret_env":"B_SECRET","lang":"en_US"}]}`
	write(one)
	vars := env(map[string]string{"A_SECRET": fake.Secret(), "B_SECRET": "secret-b", "REMINDERD_ADMIN_TOKEN": testAdmin,
		"REMINDERD_WECHAT_BASE_URL": fake.URL, "REMINDERD_APPS": path})
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &lineBuffer{}, &lineBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "apps.db")}, vars, stdout, stderr)
	}()
	t.Cleanup(func() { cancel(); <-done })
	line := stdout.waitLine(t, 10*time.Second, "listening line", func(l string) bool { return strings.Contains(l, "listening on") })
	base := regexp.MustCompile(`(http://\S+)`).FindString(line)

	served := func() []string {
		t.Helper()
		var out struct {
			Apps []struct{ AppID, State string }
		}
		if st := call(t, "GET", base+"/admin/v1/apps", testAdmin, nil, &out); st != 200 {
			t.Fatalf("apps: %d", st)
		}
		var ids []string
		for _, a := range out.Apps {
			ids = append(ids, a.AppID+":"+a.State)
		}
		return ids
	}
	if got := strings.Join(served(), " "); got != fake.AppID()+":serving" {
		t.Fatalf("served %s", got)
	}
	var sess struct{ AppID string }
	if st := call(t, "POST", base+"/v1/session", "", map[string]string{"code": fake.IssueCode("u1")}, &sess); st != 200 || sess.AppID != fake.AppID() {
		t.Fatalf("login: %d %+v", st, sess)
	}
	hup := func(want string) {
		t.Helper()
		n := strings.Count(stderr.String(), want)
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		stderr.waitLine(t, 10*time.Second, want, func(string) bool { return strings.Count(stderr.String(), want) > n })
	}

	write(two)
	hup("apps file re-read")
	if got := strings.Join(served(), " "); got != fake.AppID()+":serving wxsecond000000002:serving" {
		t.Fatalf("after adding: %s", got)
	}
	// Several apps now: a login must name its app.
	if st := call(t, "POST", base+"/v1/session", "", map[string]string{"code": fake.IssueCode("u1")}, nil); st != 422 {
		t.Fatalf("login without appid among two apps: %d", st)
	}

	write(`{"apps":[{"appid":"` + fake.AppID() + `","secret_env":"UNSET_VAR"}]}`)
	hup("the apps file is refused")
	if !strings.Contains(stderr.String(), "UNSET_VAR") {
		t.Fatalf("the refusal does not name the variable:\n%s", stderr.String())
	}
	write(`{"apps":[`)
	hup("the apps file is refused")
	if got := served(); len(got) != 2 {
		t.Fatalf("a refused file changed the apps: %v", got)
	}

	write(one)
	hup("apps file re-read")
	if got := strings.Join(served(), " "); got != fake.AppID()+":serving" {
		t.Fatalf("after removing: %s", got)
	}
	if st := call(t, "POST", base+"/v1/session", "", map[string]string{"code": fake.IssueCode("u2"), "appid": "wxsecond000000002"}, nil); st != 422 {
		t.Fatalf("login to a removed app: %d", st)
	}
}
