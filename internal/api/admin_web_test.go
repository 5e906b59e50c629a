package api_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/reminderd/reminderd/internal/testkit"
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
	idA2 := h.create(a, meeting(2*time.Hour))["id"].(string)
	idB := h.create(b, meeting(3*time.Hour))["id"].(string)
	testkit.Exec(h.t, h.db, `INSERT INTO deliveries (reminder_id, occurrence_at, attempt, status, errcode, errmsg, started_at, finished_at, latency_ms)
		VALUES (?, 1, 1, 'retry', -1, 'system error rid: 1-2-3', ?, ?, 35)`, idA, t0.UnixMilli(), t0.UnixMilli())
	// The last day's deliveries for the chart: sends, failures and skips in
	// three different hours.
	for i, st := range []string{"sent", "sent", "sent", "failed", "skipped", "sent"} {
		at := t0.Add(-time.Duration(1+i%3) * time.Hour).UnixMilli()
		testkit.Exec(h.t, h.db, `INSERT INTO deliveries (reminder_id, occurrence_at, attempt, status, started_at, finished_at)
			VALUES (?, ?, 1, ?, ?, ?)`, idB, 100+i, st, at, at)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "zh-CN"), chromedp.Flag("accept-lang", "zh-CN,zh"),
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
	shots := t.TempDir()
	shot := func(name string) string {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("browser: screenshot %s: %v", name, err)
		}
		if len(png) < 1000 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
			t.Fatalf("screenshot %s is not a PNG (%d bytes)", name, len(png))
		}
		p := filepath.Join(shots, name+".png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		if dir := os.Getenv("REMINDERD_TEST_SCREENSHOTS"); dir != "" {
			_ = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
		}
		return p
	}
	media := func(scheme string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
			return err
		})
	}
	do(chromedp.Navigate(h.srv.URL+"/admin/"), chromedp.WaitVisible(`#token`))
	if lang := eval(`document.documentElement.lang`); lang != "zh-CN" || !strings.Contains(text(`h1`), "登录") {
		t.Fatalf("the sign-in page is not in Chinese for a zh-CN browser: lang %v, %q", lang, text(`h1`))
	}
	do(chromedp.SendKeys(`#token`, adminToken), chromedp.Click(`#signin`), chromedp.WaitVisible(`#reminders`))
	listText := text(`#reminders`)
	tabsText := text(`#tabs`)
	reminderLinks := eval(`document.querySelectorAll('a.reminder-link').length`)
	cookies := eval(`document.cookie`)
	if refresh := eval(`document.body.dataset.refresh`); refresh != "30" {
		t.Fatalf("the list does not refresh itself: data-refresh %v", refresh)
	}
	// Auto-refresh can be turned off, and stays off.
	do(chromedp.Click(`#refresh-toggle`), chromedp.WaitVisible(`#reminders`))
	if refresh := eval(`document.body.dataset.refresh`); refresh != "0" || !strings.Contains(text(`#refresh`), "关") {
		t.Fatalf("auto-refresh not turned off: data-refresh %v, %q", refresh, text(`#refresh`))
	}
	// Filter by user.
	do(chromedp.SetValue(`input[name=openid]`, "oB"), chromedp.Submit(`#filters`), chromedp.WaitVisible(`#reminders`))
	filtered := text(`#reminders tbody`)
	// Find by text, and by id.
	do(chromedp.Navigate(h.srv.URL+"/admin/"), chromedp.WaitVisible(`#search`),
		chromedp.SetValue(`#search`, "项目评审会"), chromedp.Submit(`#filters`), chromedp.WaitVisible(`#reminders`))
	found := eval(`document.querySelectorAll('a.reminder-link').length`)
	do(chromedp.SetValue(`#search`, "没有这个会"), chromedp.Submit(`#filters`), chromedp.WaitVisible(`#reminders`))
	notFound := eval(`document.querySelectorAll('a.reminder-link').length`)
	do(chromedp.SetValue(`#search`, idB), chromedp.Submit(`#filters`), chromedp.WaitVisible(`#deliveries`))
	byID := text(`h1`)
	// List → detail → cancel, confirmed.
	do(chromedp.Navigate(h.srv.URL+"/admin/?openid=oA"), chromedp.WaitVisible(`a.reminder-link`),
		chromedp.Click(`a.reminder-link`), chromedp.WaitVisible(`#deliveries`))
	detailText := text(`main`)
	do(chromedp.Click(`#cancel`), chromedp.WaitVisible(`#confirm-question`))
	question := text(`#confirm-question`)
	if r := h.do("GET", "/v1/reminders/"+idA, a, nil); r.str("status") != "scheduled" {
		t.Fatalf("the cancel did not wait for its confirmation: %s", r.raw)
	}
	do(chromedp.Click(`#confirm-yes`), chromedp.WaitVisible(`.flash`))
	flash, statusText := text(`.flash`), text(`#status`)
	// Bulk: the buttons say what they will act on; the confirmation counts.
	do(chromedp.Navigate(h.srv.URL+"/admin/?openid=oA"), chromedp.WaitVisible(`#bulk-cancel`))
	before := text(`#bulk-cancel`)
	do(chromedp.Click(`input.pick`), chromedp.WaitVisible(`#bulk-cancel`))
	one := text(`#bulk-cancel`)
	do(chromedp.Click(`#select-all`))
	all := text(`#bulk-cancel`)
	shot("list-desktop")
	do(chromedp.Click(`#bulk-cancel`), chromedp.WaitVisible(`#confirm-question`))
	bulkQuestion := text(`#confirm-question`)
	do(chromedp.Click(`#confirm-yes`), chromedp.WaitVisible(`.flash`))
	bulkFlash := text(`.flash`)
	// The engine: the chart, the pause and its banner on every page.
	do(chromedp.Navigate(h.srv.URL+"/admin/engine"), chromedp.WaitVisible(`#jobs`))
	engineText := text(`main`)
	bars := eval(`[...document.querySelectorAll('#trend rect.bar')].map(r => r.dataset.kind + ':' + (+r.getAttribute('height') > 0)).sort().join(',')`)
	do(chromedp.SetValue(`input[name=reason]`, "模板审核中"), chromedp.Click(`#pause`), chromedp.WaitVisible(`#paused-banner`))
	shot("engine-paused")
	do(chromedp.Navigate(h.srv.URL+"/admin/consents?openid=oA"), chromedp.WaitVisible(`#paused-banner`))
	banner := text(`#paused-banner`)
	consentText := text(`#consents`)
	_, _, pausedNow := h.engine.AdminPaused()
	do(chromedp.Click(`#resume`), chromedp.WaitVisible(`.flash`))
	bannerGone := eval(`document.getElementById('paused-banner') === null`)
	_, _, pausedAfter := h.engine.AdminPaused()
	// English on request.
	do(chromedp.Navigate(h.srv.URL+"/admin/reminders/"+idA), chromedp.WaitVisible(`#lang-switch`),
		chromedp.Click(`#lang-switch`), chromedp.WaitVisible(`#deliveries`))
	english, englishLang := text(`main`), eval(`document.documentElement.lang`)
	// A phone, light and dark.
	do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	widths := map[string]any{}
	for _, page := range []string{"/admin/", "/admin/reminders/" + idA, "/admin/engine", "/admin/consents?openid=oA"} {
		do(chromedp.Navigate(h.srv.URL+page), chromedp.WaitVisible(`main`))
		widths[page] = eval(`document.documentElement.scrollWidth`)
	}
	do(chromedp.Navigate(h.srv.URL+"/admin/engine"), chromedp.WaitVisible(`#trend`))
	shot("engine-phone")
	lightBG := eval(`getComputedStyle(document.body).backgroundColor`)
	do(media("dark"), chromedp.Navigate(h.srv.URL+"/admin/?openid=oA"), chromedp.WaitVisible(`#reminders`))
	darkBG := eval(`getComputedStyle(document.body).backgroundColor`)
	darkWidth := eval(`document.documentElement.scrollWidth`)
	t.Logf("screenshots: %s", shot("list-phone-dark"))

	if reminderLinks != 3.0 || !strings.Contains(listText, idA) || !strings.Contains(listText, idB) || !strings.Contains(listText, "会议提醒") {
		t.Fatalf("list shows %d reminders:\n%s", reminderLinks, listText)
	}
	for _, want := range []string{"已排期", "已发送", "全部 3", "已排期 3"} {
		if !strings.Contains(strings.Join(strings.Fields(tabsText), " "), want) {
			t.Fatalf("the status tabs lack %q: %q", want, tabsText)
		}
	}
	if !strings.Contains(listText, "已排期") || !strings.Contains(listText, "触发时间") {
		t.Fatalf("the list is not in Chinese:\n%s", listText)
	}
	if cookies != "" {
		t.Fatalf("the session cookie is readable by scripts: %q", cookies)
	}
	if !strings.Contains(filtered, idB) || strings.Contains(filtered, idA) {
		t.Fatalf("openid filter:\n%s", filtered)
	}
	if found != 3.0 || notFound != 0.0 || !strings.Contains(byID, idB) {
		t.Fatalf("search: 项目评审会 found %v, another text %v; an id opened %q", found, notFound, byID)
	}
	for _, want := range []string{idA, "项目评审会", "会议名称", "临时失败，稍后重试", "微信系统繁忙", "system error", "35 ms", "发送记录"} {
		if !strings.Contains(detailText, want) {
			t.Fatalf("detail lacks %q:\n%s", want, detailText)
		}
	}
	if !strings.Contains(question, idA) || statusText != "已取消" || !strings.Contains(flash, "已取消") {
		t.Fatalf("cancel: asked %q; then status %q, flash %q", question, statusText, flash)
	}
	if r := h.do("GET", "/v1/reminders/"+idA, a, nil); r.str("status") != "canceled" {
		t.Fatalf("the cancel did not reach the store: %s", r.raw)
	}
	if before != "取消所选" || one != "取消所选 1 条" || all != "取消全部符合条件的" {
		t.Fatalf("the bulk button says %q, %q with one picked, %q with all", before, one, all)
	}
	if !strings.Contains(bulkQuestion, "2 条") || !strings.Contains(bulkFlash, "已取消 1 条；1 条无法取消") {
		t.Fatalf("bulk cancel: asked %q, then %q", bulkQuestion, bulkFlash)
	}
	if r := h.do("GET", "/v1/reminders/"+idA2, a, nil); r.str("status") != "canceled" {
		t.Fatalf("the bulk cancel did not reach the store: %s", r.raw)
	}
	if r := h.do("GET", "/v1/reminders/"+idB, b, nil); r.str("status") != "scheduled" {
		t.Fatalf("the bulk cancel reached beyond its filter: %s", r.raw)
	}
	for _, want := range []string{"due_scan", "closed", "定时任务", "发送 4，失败 1，重试 1，跳过 1"} {
		if !strings.Contains(engineText, want) {
			t.Fatalf("engine page lacks %q:\n%s", want, engineText)
		}
	}
	if bars != "failed:true,retry:true,sent:true,sent:true,sent:true,skipped:true" {
		t.Fatalf("the chart's bars: %v", bars)
	}
	if !pausedNow || !strings.Contains(banner, "发送已暂停") || !strings.Contains(banner, "模板审核中") || bannerGone != true || pausedAfter {
		t.Fatalf("pause: engine paused %v, banner %q; after resume: gone %v, paused %v", pausedNow, banner, bannerGone, pausedAfter)
	}
	if !strings.Contains(consentText, "会议提醒") || !strings.Contains(consentText, "accept") {
		t.Fatalf("consent ledger:\n%s", consentText)
	}
	if englishLang != "en" || !strings.Contains(english, "Delivery attempts") || !strings.Contains(english, "canceled") {
		t.Fatalf("English: lang %v\n%s", englishLang, english)
	}
	for page, w := range widths {
		if w.(float64) > 390 {
			t.Errorf("%s is %v px wide at 390 px: it overflows", page, w)
		}
	}
	if darkBG == lightBG || darkWidth.(float64) > 390 {
		t.Errorf("dark theme: background %v (light %v), width %v", darkBG, lightBG, darkWidth)
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
	if strings.Contains(string(b[:n]), id) || !strings.Contains(string(b[:n]), `id="signin"`) {
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
