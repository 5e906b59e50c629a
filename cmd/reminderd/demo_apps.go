package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// The demo's second act: the sandbox serves a second mini-program from the
// same fake WeChat (its own account there). A user of it logs in naming
// its appid, accepts the meeting template, and gets a reminder sent through
// that app; the fake shows the message at that account only, and the admin
// API lists both apps with their counts.

// demoSecondUser is the second app's user: an openid of that app only, as
// WeChat gives each mini-program its own openids.
const demoSecondUser = "demo-user-of-app-2"

// demoSecondApp is the second act's state between its start and its end.
type demoSecondApp struct {
	appID      string
	c          *demoClient // the second app's session
	reminderID string
}

// demoSecondAppStart logs the user in to the second app, grants consent
// there (popup event and report, counted once) and creates a reminder due
// in two seconds.
func demoSecondAppStart(c0 *demoClient, base, fakeURL, appID string, now time.Time, say func(string, ...any)) (*demoSecondApp, error) {
	d := &demoSecondApp{appID: appID, c: &demoClient{http: c0.http, base: base}}
	var login struct {
		Code string `json:"code"`
	}
	if st, err := d.c.call("POST", fakeURL+"/fake/login?appid="+appID, map[string]string{"openid": demoSecondUser}, &login); err != nil || st != 200 {
		return nil, fmt.Errorf("second app: fake login: %d %v", st, err)
	}
	var sess struct {
		Token string `json:"token"`
		AppID string `json:"appid"`
	}
	if st, err := d.c.call("POST", base+"/v1/session", map[string]string{"code": login.Code, "appid": appID}, &sess); err != nil || st != 200 || sess.AppID != appID {
		return nil, fmt.Errorf("second app: login: %d %v (appid %q)", st, err, sess.AppID)
	}
	d.c.token = sess.Token
	var res map[string]string
	if st, err := d.c.call("POST", fakeURL+"/fake/popup?appid="+appID, map[string]any{"openid": demoSecondUser,
		"answers": map[string]string{wechattest.MeetingTemplateID: "accept"}}, &res); err != nil || st != 200 {
		return nil, fmt.Errorf("second app: popup: %d %v", st, err)
	}
	var consents struct {
		Consents []struct {
			Credits int `json:"credits"`
		} `json:"consents"`
	}
	if st, err := d.c.call("POST", base+"/v1/consents", map[string]any{"results": res}, &consents); err != nil || st != 200 ||
		len(consents.Consents) != 1 || consents.Consents[0].Credits != 1 {
		return nil, fmt.Errorf("second app: consent: %d %v %+v, want 1 credit", st, err, consents.Consents)
	}
	fire := now.Add(2 * time.Second)
	body := map[string]any{"template_id": wechattest.MeetingTemplateID, "fire_at": fire.Format(time.RFC3339Nano),
		"data": map[string]string{"thing1": "第二个小程序的会议", "time2": fire.Add(15 * time.Minute).Format("2006-01-02 15:04"), "thing3": "B栋101"}}
	var r demoReminder
	if st, err := d.c.call("POST", base+"/v1/reminders", body, &r); err != nil || st != 201 {
		return nil, fmt.Errorf("second app: create: %d %v", st, err)
	}
	d.reminderID = r.ID
	say("second mini-program %s: %s logged in, accepted once (1 credit), reminder %s fires at %s", appID, demoSecondUser, r.ID, r.FireAt)
	return d, nil
}

// end waits for the second app's reminder to be sent and delivered, then
// shows where it arrived and the apps' counts; it answers what differs from
// what should have happened.
func (d *demoSecondApp) end(ctx context.Context, fakeURL string, admin *demoClient, say func(string, ...any)) []string {
	r, err := d.waitDelivered(ctx)
	if err != nil {
		return []string{"second app: " + err.Error()}
	}
	var failures []string
	say("second mini-program %s: reminder %s %s, msgid %s, delivered", d.appID, r.ID, r.Status, *r.Deliveries[0].MsgID)
	var atFake struct {
		Sends []struct {
			MsgID  string `json:"msgid"`
			ToUser string `json:"touser"`
		} `json:"sends"`
	}
	for _, id := range []string{d.appID, wechattest.DefaultAppID} {
		if _, err := d.c.call("GET", fakeURL+"/fake/sends?appid="+id, nil, &atFake); err != nil {
			return append(failures, "second app: "+err.Error())
		}
		n := 0
		for _, s := range atFake.Sends {
			if s.ToUser == demoSecondUser {
				n++
			}
		}
		if want := map[bool]int{true: 1, false: 0}[id == d.appID]; n != want {
			failures = append(failures, fmt.Sprintf("the fake's account %s holds %d messages to %s, want %d", id, n, demoSecondUser, want))
		}
		if id == d.appID {
			say("the fake WeChat's account %s received it (GET /fake/sends?appid=%s); the first app's account did not", id, id)
		}
	}
	var apps struct {
		Apps []struct {
			AppID     string           `json:"appid"`
			State     string           `json:"state"`
			Reminders map[string]int64 `json:"reminders"`
		} `json:"apps"`
	}
	if st, err := admin.call("GET", admin.base+"/admin/v1/apps", nil, &apps); err != nil || st != 200 {
		return append(failures, fmt.Sprintf("GET /admin/v1/apps: %d %v", st, err))
	}
	var line []string
	for _, a := range apps.Apps {
		line = append(line, fmt.Sprintf("%s %s (sent %d, skipped %d, failed %d, canceled %d)", a.AppID, a.State,
			a.Reminders["sent"], a.Reminders["skipped"], a.Reminders["failed"], a.Reminders["canceled"]))
		if a.AppID == d.appID && a.Reminders["sent"] != 1 {
			failures = append(failures, fmt.Sprintf("GET /admin/v1/apps counts %d sent for %s, want 1", a.Reminders["sent"], d.appID))
		}
	}
	if len(apps.Apps) != 2 {
		failures = append(failures, fmt.Sprintf("GET /admin/v1/apps lists %d apps, want 2", len(apps.Apps)))
	}
	say("GET /admin/v1/apps: %s", strings.Join(line, "; "))
	return failures
}

// waitDelivered polls the second app's reminder until it is sent and
// WeChat's sent event marked it delivered.
func (d *demoSecondApp) waitDelivered(ctx context.Context) (demoReminder, error) {
	for {
		var r demoReminder
		if _, err := d.c.call("GET", d.c.base+"/v1/reminders/"+d.reminderID, nil, &r); err != nil {
			return r, err
		}
		if r.Status != "scheduled" && r.Status != "sending" {
			if r.Status != "sent" || len(r.Deliveries) == 0 || r.Deliveries[0].MsgID == nil {
				return r, fmt.Errorf("the reminder ended %s, want sent", r.Status)
			}
			if del := r.Deliveries[len(r.Deliveries)-1].Delivered; del != nil && *del {
				return r, nil
			}
		}
		select {
		case <-ctx.Done():
			return r, errors.New("the reminder was not sent and delivered in time")
		case <-time.After(100 * time.Millisecond):
		}
	}
}
