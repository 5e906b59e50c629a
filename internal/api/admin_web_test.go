package api_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser finds Chromium. .ci/run installs Debian's chromium package; a
// machine without one skips the browser test, loudly.
func browser(t *testing.T) string {
	for _, name := range []string{os.Getenv("REMINDERD_TEST_BROWSER"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Log("##########################################################################")
	t.Log("## SKIPPED: no Chromium found. The admin web page was NOT tested in a  ##")
	t.Log("## browser. Install Debian's chromium package (apt-get install chromium)##")
	t.Log("##########################################################################")
	t.Skip("no browser")
	return ""
}

func TestAdminPageInBrowser(t *testing.T) {
	exe := browser(t)
	h := newHarness(t)
	a, b := h.login("oA"), h.login("oB")
	h.do("POST", "/v1/consents", a, map[string]any{"results": map[string]string{meetingID: "accept"}})
	idA := h.create(a, meeting(time.Hour))["id"].(string)
	h.create(a, meeting(2*time.Hour))
	idB := h.create(b, meeting(3*time.Hour))["id"].(string)
	if _, err := h.db.W.Exec(`INSERT INTO deliveries (reminder_id, occurrence_at, attempt, status, errcode, errmsg, started_at, finished_at, latency_ms)
		VALUES (?, 1, 1, 'retry', -1, 'system error rid: 1-2-3', ?, ?, 35)`, idA, t0.UnixMilli(), t0.UnixMilli()); err != nil {
		t.Fatal(err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	defer cancelT()

	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("browser: %v", err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("browser: text of %s: %v", sel, err)
		}
		return v
	}
	eval := func(js string) any {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[any](js))
		if err != nil {
			t.Fatalf("browser: %s: %v", js, err)
		}
		return v
	}
	do(chromedp.Navigate(h.srv.URL+"/admin/"), chromedp.WaitVisible(`#token`),
		chromedp.SendKeys(`#token`, adminToken), chromedp.Click(`#signin`), chromedp.WaitVisible(`#reminders`))
	listText := text(`#reminders`)
	reminderLinks := eval(`document.querySelectorAll('a.reminder-link').length`)
	cookies := eval(`document.cookie`)
	// Filter by user.
	do(chromedp.SetValue(`input[name=openid]`, "oB"), chromedp.Submit(`#filters`), chromedp.WaitVisible(`#reminders`))
	filtered := text(`#reminders tbody`)
	// List → detail → cancel.
	do(chromedp.Navigate(h.srv.URL+"/admin/?openid=oA"), chromedp.WaitVisible(`a.reminder-link`),
		chromedp.Click(`a.reminder-link`), chromedp.WaitVisible(`#deliveries`))
	detailText := text(`main`)
	do(chromedp.Click(`#cancel`), chromedp.WaitVisible(`.flash`))
	flash, statusText := text(`.flash`), text(`#status`)
	// The engine and the ledger.
	do(chromedp.Navigate(h.srv.URL+"/admin/engine"), chromedp.WaitVisible(`#jobs`))
	engineText := text(`main`)
	do(chromedp.Navigate(h.srv.URL+"/admin/consents?openid=oA"), chromedp.WaitVisible(`#consents`))
	consentText := text(`#consents`)

	if reminderLinks != 3.0 || !strings.Contains(listText, idA) || !strings.Contains(listText, idB) || !strings.Contains(listText, "会议提醒") {
		t.Fatalf("list shows %d reminders:\n%s", reminderLinks, listText)
	}
	if cookies != "" {
		t.Fatalf("the session cookie is readable by scripts: %q", cookies)
	}
	if !strings.Contains(filtered, idB) || strings.Contains(filtered, idA) {
		t.Fatalf("openid filter:\n%s", filtered)
	}
	for _, want := range []string{idA, "项目评审会", "会议名称", "retry", "system error", "35 ms", "Delivery attempts"} {
		if !strings.Contains(detailText, want) {
			t.Fatalf("detail lacks %q:\n%s", want, detailText)
		}
	}
	if statusText != "canceled" || !strings.Contains(flash, "canceled") {
		t.Fatalf("after cancel: status %q, flash %q", statusText, flash)
	}
	if r := h.do("GET", "/v1/reminders/"+idA, a, nil); r.str("status") != "canceled" {
		t.Fatalf("the cancel did not reach the store: %s", r.raw)
	}
	for _, want := range []string{"due_scan", "closed", "Periodic jobs"} {
		if !strings.Contains(engineText, want) {
			t.Fatalf("engine page lacks %q:\n%s", want, engineText)
		}
	}
	if !strings.Contains(consentText, "会议提醒") || !strings.Contains(consentText, "accept") {
		t.Fatalf("consent ledger:\n%s", consentText)
	}
}

// webClient signs in over plain HTTP and keeps the cookie.
func webClient(t *testing.T, h *harness) *http.Client {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.PostForm(h.srv.URL+"/admin/login", url.Values{"token": {adminToken}})
	if err != nil || res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %v %v", err, res.Status)
	}
	res.Body.Close()
	return c
}

func TestAdminPageRefusesForgedForms(t *testing.T) {
	h := newHarness(t)
	a := h.login("oA")
	id := h.create(a, meeting(time.Hour))["id"].(string)
	c := webClient(t, h)
	post := func(form url.Values, origin string) int {
		req, _ := http.NewRequest("POST", h.srv.URL+"/admin/reminders/"+id+"/cancel", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if st := post(url.Values{}, ""); st != http.StatusForbidden {
		t.Fatalf("cancel without a CSRF token: %d", st)
	}
	if st := post(url.Values{"csrf": {"0000"}}, ""); st != http.StatusForbidden {
		t.Fatalf("cancel with a wrong CSRF token: %d", st)
	}
	if r := h.do("GET", "/v1/reminders/"+id, a, nil); r.str("status") != "scheduled" {
		t.Fatal("a forged form canceled the reminder")
	}
	// Signed-out and wrong-token attempts never see data.
	res, _ := http.Get(h.srv.URL + "/admin/?openid=oA")
	b := make([]byte, 1<<16)
	n, _ := res.Body.Read(b)
	res.Body.Close()
	if strings.Contains(string(b[:n]), id) || !strings.Contains(string(b[:n]), "Sign in") {
		t.Fatal("the admin page showed data without a session")
	}
	res, _ = http.PostForm(h.srv.URL+"/admin/login", url.Values{"token": {"guess"}})
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", res.StatusCode)
	}
	// A forged session cookie is not a session.
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(h.srv.URL + "/admin/")
	jar.SetCookies(u, []*http.Cookie{{Name: "reminderd_admin", Value: "9999999999.deadbeef", Path: "/admin"}})
	res, _ = (&http.Client{Jar: jar}).Get(h.srv.URL + "/admin/?openid=oA")
	n, _ = res.Body.Read(b)
	res.Body.Close()
	if strings.Contains(string(b[:n]), id) {
		t.Fatal("a forged cookie opened the admin page")
	}
}
