package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/reminderd/reminderd/internal/app"
	"github.com/reminderd/reminderd/internal/db/postgres"
	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// lineBuffer collects serve's stdout so the demo can read what it printed;
// a reader waits for the output it looks for (next) instead of polling.
type lineBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // made by next, closed by the write after
}

func (l *lineBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
	return l.b.Write(p)
}

// next returns the output so far and a channel closed at the next write.
func (l *lineBuffer) next() (string, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changed == nil {
		l.changed = make(chan struct{})
	}
	return l.b.String(), l.changed
}

func (l *lineBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lineBuffer) find(re *regexp.Regexp) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if m := re.FindSubmatch(l.b.Bytes()); m != nil {
		return string(m[1])
	}
	return ""
}

// demoClient is the demo's mini-program: plain HTTP against the API.
type demoClient struct {
	http  *http.Client
	base  string
	token string
}

func (c *demoClient) call(method, url string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, err
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return res.StatusCode, fmt.Errorf("%s %s: answer %q", method, url, raw)
		}
	}
	return res.StatusCode, nil
}

type demoReminder struct {
	ID         string            `json:"id"`
	TemplateID string            `json:"template_id"`
	Status     string            `json:"status"`
	Reason     *string           `json:"reason"`
	FireAt     string            `json:"fire_at"`
	Recurrence *string           `json:"recurrence"`
	Data       map[string]string `json:"data"`
	Attempts   int               `json:"attempts"`
	Deliveries []struct {
		Attempt   int     `json:"attempt"`
		Status    string  `json:"status"`
		Errcode   *int    `json:"errcode"`
		MsgID     *string `json:"msgid"`
		Delivered *bool   `json:"delivered"`
	} `json:"deliveries"`
}

// demoZone is the recurring reminder's zone.
var demoZone, _ = time.LoadLocation("Asia/Shanghai")

// othersEnded reports whether every case but skip was last seen finished.
func othersEnded(seen map[string]string, cases []demoCase, skip string) bool {
	for _, cs := range cases {
		if cs.id == skip {
			continue
		}
		st, ok := seen[cs.id]
		if !ok || strings.HasPrefix(st, "scheduled") || strings.HasPrefix(st, "sending") {
			return false
		}
	}
	return true
}

type demoCase struct {
	label      string
	id         string
	wantStatus string
	wantReason string
}

// demoDatabaseEmpty refuses a PostgreSQL database that already holds
// reminders: the demo counts its own user's credits and outcomes.
func demoDatabaseEmpty(ctx context.Context, u string) error {
	if err := app.CheckPostgresURL("REMINDERD_DB", u); err != nil {
		return err
	}
	d, err := postgres.Open(ctx, u, postgres.Options{})
	if err != nil {
		return app.ScrubError(err, u)
	}
	defer d.Close()
	c, err := d.CountReminders(ctx, time.Now())
	if err != nil {
		return app.ScrubError(err, u)
	}
	var n int64
	for _, k := range c.ByStatus {
		n += k
	}
	if n > 0 {
		return fmt.Errorf("demo: the PostgreSQL database in REMINDERD_DB holds %d reminders; the demo needs an empty one (createdb reminderd_demo)", n)
	}
	return nil
}

// demo runs the whole story against the built-in fake WeChat and checks
// that every reminder ends as it should.
func demo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("demo takes no arguments")
	}
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	dir, err := os.MkdirTemp("", "reminderd-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	say := func(format string, a ...any) {
		fmt.Fprintf(stdout, "%s  %s\n", time.Now().Format("15:04:05.0"), fmt.Sprintf(format, a...))
	}

	// 1. reminderd in sandbox mode: a fake WeChat on loopback, a temporary
	// database (or the PostgreSQL one REMINDERD_DB names, if empty).
	dbArg := filepath.Join(dir, "demo.db")
	if u := getenv("REMINDERD_DB"); app.IsPostgres(u) {
		if err := demoDatabaseEmpty(ctx, u); err != nil {
			return err
		}
		dbArg = u
		say("running on PostgreSQL: %s", app.RedactURL(u))
	}
	out := &lineBuffer{}
	serveCtx, stopServe := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- run(serveCtx, []string{"serve", "--addr", "127.0.0.1:0", "--db", dbArg},
			func(string) string { return "" }, out, io.Discard)
	}()
	defer func() { stopServe(); <-served }()
	var base, fakeURL, code, adminToken, secondApp string
	for {
		_, grew := out.next()
		base = out.find(regexp.MustCompile(`listening on (\S+)`))
		fakeURL = out.find(regexp.MustCompile(`fake WeChat at (\S+)`))
		code = out.find(regexp.MustCompile(`valid 5 minutes\): (\S+)`))
		adminToken = out.find(regexp.MustCompile(`admin token: (\S+)`))
		secondApp = out.find(regexp.MustCompile(`a second mini-program (\S+)`))
		if base != "" && fakeURL != "" && code != "" && adminToken != "" && secondApp != "" {
			break
		}
		select {
		case err := <-served:
			return fmt.Errorf("reminderd stopped: %v", err)
		case <-ctx.Done():
			return errors.New("reminderd did not start")
		case <-grew:
		}
	}
	say("reminderd is up at %s, talking to a fake WeChat at %s", base, fakeURL)
	c := &demoClient{http: &http.Client{Timeout: 10 * time.Second}, base: base}

	// 2. The user opens the mini-program: wx.login → /v1/session.
	var sess struct {
		Token  string `json:"token"`
		OpenID string `json:"openid"`
	}
	if st, err := c.call("POST", base+"/v1/session", map[string]string{"code": code}, &sess); err != nil || st != 200 {
		return fmt.Errorf("login: %d %v", st, err)
	}
	c.token = sess.Token
	say("logged in as %s (the session_key stays on the server)", sess.OpenID)

	// 3. Three taps on "remind me": each popup accept is pushed by WeChat as
	// an event and reported by the mini-program; each counts once.
	for range 3 {
		var res map[string]string
		if st, err := c.call("POST", fakeURL+"/fake/popup", map[string]any{"openid": sess.OpenID,
			"answers": map[string]string{wechattest.MeetingTemplateID: "accept"}}, &res); err != nil || st != 200 {
			return fmt.Errorf("popup: %d %v", st, err)
		}
		if st, err := c.call("POST", base+"/v1/consents", map[string]any{"results": res}, nil); err != nil || st != 200 {
			return fmt.Errorf("report consent: %d %v", st, err)
		}
	}
	var consents struct {
		Consents []struct {
			TemplateID string `json:"template_id"`
			Credits    int    `json:"credits"`
		} `json:"consents"`
	}
	if _, err := c.call("GET", base+"/v1/consents", nil, &consents); err != nil {
		return err
	}
	if len(consents.Consents) != 1 || consents.Consents[0].Credits != 3 {
		return fmt.Errorf("ledger after three accepts (each seen twice): %+v, want 3 credits", consents.Consents)
	}
	say("user accepted the meeting template 3 times: ledger holds 3 credits (event + report counted once each)")

	// 4. Meeting reminders a few seconds ahead.
	now := time.Now()
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339Nano) }
	meeting := func(title, page string, d time.Duration) map[string]any {
		return map[string]any{"template_id": wechattest.MeetingTemplateID, "fire_at": at(d),
			"data": map[string]string{"thing1": title, "time2": now.Add(d + 15*time.Minute).Format("2006-01-02 15:04"), "thing3": "A栋201会议室"},
			"page": page}
	}
	var cases []demoCase
	create := func(label string, body map[string]any, wantStatus, wantReason string) error {
		var r demoReminder
		st, err := c.call("POST", base+"/v1/reminders", body, &r)
		if err != nil || st != 201 {
			return fmt.Errorf("create %s: %d %v", label, st, err)
		}
		cases = append(cases, demoCase{label, r.ID, wantStatus, wantReason})
		say("created %-28s %s fires at %s", label, r.ID, r.FireAt)
		return nil
	}
	if err := create("meeting with consent", meeting("项目评审会", "pages/meeting/detail?id=42", 2*time.Second), "sent", ""); err != nil {
		return err
	}
	deadline := map[string]any{"template_id": wechattest.DeadlineTemplateID, "fire_at": at(3 * time.Second),
		"data": map[string]string{"thing1": "提交季度报告", "date2": now.Format("2006-01-02"), "enum_string3": "高", "character_string4": "Q4-2026"}}
	if err := create("deadline, no consent", deadline, "skipped", "no_consent"); err != nil {
		return err
	}
	if err := create("meeting, page WeChat rejects", meeting("架构讨论", "pages/unknown/index", 4*time.Second), "failed", "page_invalid"); err != nil {
		return err
	}
	var bad struct {
		Error struct {
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	// A recurrence is a calendar rule at least REMINDERD_MIN_INTERVAL (1h)
	// apart: a daily stand-up at 09:00, first due at the next 09:00.
	recurring := meeting("每日站会", "pages/meeting/detail?id=7", 0)
	delete(recurring, "fire_at")
	recurring["recurrence"] = "@every 3s"
	st, err := c.call("POST", base+"/v1/reminders", recurring, &bad)
	if err != nil || st != 422 {
		return fmt.Errorf("@every recurrence: %d %v, want 422", st, err)
	}
	say("refused at creation (422): recurrence %s", bad.Error.Fields["recurrence"])
	recurring["recurrence"], recurring["timezone"] = "0 9 * * *", demoZone.String()
	if err := create("daily stand-up, recurring", recurring, "canceled", ""); err != nil {
		return err
	}
	st, err = c.call("POST", base+"/v1/reminders", meeting("这是一个超过二十个字符的非常长的会议名称示例", "", 6*time.Second), &bad)
	if err != nil || st != 422 {
		return fmt.Errorf("invalid value: %d %v, want 422", st, err)
	}
	say("refused at creation (422): data.thing1 %s — it never reaches WeChat", bad.Error.Fields["data.thing1"])

	// An event: a meeting with two leads and two templates as alternatives.
	ev, err := demoEvent(c, base, fakeURL, sess.OpenID, now, say)
	if err != nil {
		return err
	}
	for _, r := range ev.Reminders {
		cases = append(cases, demoCase{"event lead " + r.Lead, r.ID, "sent", ""})
	}

	// The second mini-program's user, on the same fake WeChat.
	second, err := demoSecondAppStart(c, base, fakeURL, secondApp, time.Now(), say)
	if err != nil {
		return err
	}

	// 5. Watch them fire.
	seen := map[string]string{}
	recurringID := cases[3].id
	recurringNext := ""
	for {
		if ctx.Err() != nil {
			return errors.New("the demo ran out of time")
		}
		done := true
		for _, cs := range cases {
			var r demoReminder
			if _, err := c.call("GET", base+"/v1/reminders/"+cs.id, nil, &r); err != nil {
				return err
			}
			state := r.Status
			if r.Reason != nil {
				state += " (" + *r.Reason + ")"
			}
			if cs.id == recurringID {
				// Its first occurrence is hours away: once the others
				// have ended, it is canceled, series and all.
				if r.Status == "scheduled" && recurringNext == "" {
					recurringNext = r.FireAt
					say("%-28s scheduled for its first occurrence at %s, then every day at 09:00", cs.label, r.FireAt)
				}
				if r.Status == "scheduled" && othersEnded(seen, cases, recurringID) {
					if st, err := c.call("DELETE", base+"/v1/reminders/"+cs.id, nil, nil); err != nil || st != 200 {
						return fmt.Errorf("cancel recurring: %d %v", st, err)
					}
					say("%-28s canceled before its first occurrence", cs.label)
				}
			} else if seen[cs.id] != state {
				seen[cs.id] = state
				say("%-28s %s", cs.label, state)
			}
			if r.Status == "scheduled" || r.Status == "sending" {
				done = false
			}
		}
		if done {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	// The card of the event's last lead is opened, and its 稍后提醒 tapped.
	if err := demoSnooze(ctx, c, base, fakeURL, sess.OpenID, ev, say); err != nil {
		return err
	}
	// WeChat's sent events mark each accepted send delivered.
	for waitUntil := time.Now().Add(5 * time.Second); ; {
		missing := 0
		for _, cs := range cases {
			var r demoReminder
			if _, err := c.call("GET", base+"/v1/reminders/"+cs.id, nil, &r); err != nil {
				return err
			}
			for _, d := range r.Deliveries {
				if d.Status == "sent" && (d.Delivered == nil || !*d.Delivered) {
					missing++
				}
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(waitUntil) {
			return fmt.Errorf("%d sent messages never got WeChat's sent event", missing)
		}
		time.Sleep(100 * time.Millisecond)
	}
	say("WeChat's sent events marked every accepted message delivered")
	secondFailures := second.end(ctx, fakeURL, &demoClient{http: c.http, base: base, token: adminToken}, say)

	// 6. The outcomes.
	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REMINDER\tID\tSTATUS\tREASON\tATTEMPTS\tDELIVERIES (errcode, msgid, delivered)")
	var failures []string
	for _, cs := range cases {
		var r demoReminder
		if _, err := c.call("GET", base+"/v1/reminders/"+cs.id, nil, &r); err != nil {
			return err
		}
		reason := ""
		if r.Reason != nil {
			reason = *r.Reason
		}
		var ds []string
		for _, d := range r.Deliveries {
			s := d.Status
			if d.Errcode != nil {
				s += fmt.Sprintf(" %d", *d.Errcode)
			}
			if d.MsgID != nil {
				s += " " + *d.MsgID
			}
			if d.Delivered != nil && *d.Delivered {
				s += " ✓"
			}
			ds = append(ds, s)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", cs.label, cs.id, r.Status, reason, r.Attempts, strings.Join(ds, "; "))
		if r.Status != cs.wantStatus || reason != cs.wantReason {
			failures = append(failures, fmt.Sprintf("%s ended %s/%s, want %s/%s", cs.label, r.Status, reason, cs.wantStatus, cs.wantReason))
		}
	}
	tw.Flush()
	failures = append(failures, demoEventOutcome(c, base, ev.ID, stdout)...)
	failures = append(failures, secondFailures...)
	if recurringNext == "" {
		failures = append(failures, "the recurring reminder was never seen scheduled")
	} else if f, err := time.Parse(time.RFC3339, recurringNext); err != nil || f.Before(now) || f.After(now.Add(24*time.Hour)) ||
		f.In(demoZone).Format("15:04") != "09:00" {
		failures = append(failures, fmt.Sprintf("the recurring reminder's first occurrence is %s, want the next 09:00 in %s", recurringNext, demoZone))
	}
	if len(failures) > 0 {
		return fmt.Errorf("demo outcomes differ: %s", strings.Join(failures, "; "))
	}
	fmt.Fprintln(stdout, "\nEvery reminder ended as it should: sent with consent, skipped without, refused by WeChat for a bad page,")
	fmt.Fprintln(stdout, "a recurring one scheduled for its next 09:00 (an @every one refused), an invalid value stopped before it could reach WeChat,")
	fmt.Fprintln(stdout, "and an event moved after its creation whose two leads went out through its two templates, each where the user had a credit,")
	fmt.Fprintln(stdout, "one of them snoozed from its card and sent again on the credit its 稍后提醒 tap earned;")
	fmt.Fprintln(stdout, "and a user of a second mini-program got a reminder through that app's own account at the same fake WeChat.")
	return nil
}
