package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/reminderd/reminderd/internal/wechat/wechattest"
)

// The demo's event: a meeting with two leads and two templates as
// alternatives (the meeting-start template first, then the meeting
// template). The user accepts the meeting-start template once: the first
// lead goes out through it, the second through the meeting template, whose
// credits the user accepted before. The event is moved (PATCH) before its
// first lead.

type demoEventJSON struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	StartAt   string `json:"start_at"`
	Title     string `json:"title"`
	Reminders []struct {
		ID         string            `json:"id"`
		Lead       string            `json:"lead"`
		Status     string            `json:"status"`
		TemplateID string            `json:"template_id"`
		FireAt     string            `json:"fire_at"`
		Data       map[string]string `json:"data"`
	} `json:"reminders"`
}

// demoEvent grants the meeting-start template once, creates the event and
// moves it; it answers the moved event.
func demoEvent(c *demoClient, base, fakeURL, openid string, now time.Time, say func(string, ...any)) (demoEventJSON, error) {
	var ev demoEventJSON
	var res map[string]string
	if st, err := c.call("POST", fakeURL+"/fake/popup", map[string]any{"openid": openid,
		"answers": map[string]string{wechattest.MeetingStartTemplateID: "accept"}}, &res); err != nil || st != 200 {
		return ev, fmt.Errorf("popup: %d %v", st, err)
	}
	if st, err := c.call("POST", base+"/v1/consents", map[string]any{"results": res}, nil); err != nil || st != 200 {
		return ev, fmt.Errorf("report consent: %d %v", st, err)
	}
	say("user accepted the meeting-start template once: 1 credit")
	body := map[string]any{"title": "季度评审会", "start_at": now.Add(8 * time.Second).Format(time.RFC3339Nano), "location": "B栋302",
		"timezone": demoZone.String(), "page": "pages/meeting/detail?id=9", "external_ref": "meeting-9", "leads": []string{"PT5S", "PT3S"},
		"templates": []map[string]any{
			{"template_id": wechattest.MeetingStartTemplateID, "data": map[string]string{"thing1": "{title}", "time4": "{start}"}},
			{"template_id": wechattest.MeetingTemplateID, "data": map[string]string{"thing1": "{title}", "time2": "{start}", "thing3": "{location}"}},
		}}
	if st, err := c.call("POST", base+"/v1/events", body, &ev); err != nil || st != 201 {
		return ev, fmt.Errorf("create event: %d %v", st, err)
	}
	say("created event %s starting %s, leads PT5S and PT3S, templates meeting-start then meeting", ev.ID, ev.StartAt)
	patch := map[string]any{"start_at": now.Add(9 * time.Second).Format(time.RFC3339Nano), "title": "季度评审会（改期）"}
	if st, err := c.call("PATCH", base+"/v1/events/"+ev.ID, patch, &ev); err != nil || st != 200 {
		return ev, fmt.Errorf("move event: %d %v", st, err)
	}
	for _, r := range ev.Reminders {
		say("moved event %s: lead %s now fires at %s (%s)", ev.ID, r.Lead, r.FireAt, r.Data["thing1"])
	}
	if len(ev.Reminders) != 2 {
		return ev, fmt.Errorf("the event has %d reminders, want 2", len(ev.Reminders))
	}
	return ev, nil
}

// demoEventOutcome prints which template each lead went out through and
// says what differs from the story.
func demoEventOutcome(c *demoClient, base, id string, stdout io.Writer) []string {
	var ev demoEventJSON
	if st, err := c.call("GET", base+"/v1/events/"+id, nil, &ev); err != nil || st != 200 {
		return []string{fmt.Sprintf("read event %s: %d %v", id, st, err)}
	}
	want := map[string]string{"PT5S": wechattest.MeetingStartTemplateID, "PT3S": wechattest.MeetingTemplateID}
	fmt.Fprintf(stdout, "\nEVENT %s (%s, %s): ", ev.ID, ev.Title, ev.Status)
	var failures []string
	for i, r := range ev.Reminders {
		if i > 0 {
			fmt.Fprint(stdout, "; ")
		}
		fmt.Fprintf(stdout, "lead %s %s through %s", r.Lead, r.Status, r.TemplateID)
		if r.TemplateID != want[r.Lead] {
			failures = append(failures, fmt.Sprintf("event lead %s went through %s, want %s", r.Lead, r.TemplateID, want[r.Lead]))
		}
	}
	fmt.Fprintln(stdout)
	if ev.Status != "done" || ev.Title != "季度评审会（改期）" {
		failures = append(failures, fmt.Sprintf("the event is %s titled %q, want done and moved", ev.Status, ev.Title))
	}
	return failures
}

// demoSnooze plays the card's 稍后提醒 tap on the event's lead that went out
// through the meeting template: the tap requests that template (the popup
// accepts, earning the credit for the snoozed send), and the snooze records
// that consent in the same transaction that makes the reminder due again
// in 2 s. It waits for the second send.
func demoSnooze(ctx context.Context, c *demoClient, base, fakeURL, openid string, ev demoEventJSON, say func(string, ...any)) error {
	id := ""
	for _, r := range ev.Reminders {
		if r.Lead == "PT3S" {
			id = r.ID
		}
	}
	if id == "" {
		return errors.New("snooze: the event has no PT3S lead")
	}
	var res map[string]string
	if st, err := c.call("POST", fakeURL+"/fake/popup", map[string]any{"openid": openid,
		"answers": map[string]string{wechattest.MeetingTemplateID: "accept"}}, &res); err != nil || st != 200 {
		return fmt.Errorf("snooze popup: %d %v", st, err)
	}
	var r demoReminder
	if st, err := c.call("POST", base+"/v1/reminders/"+id+"/snooze", map[string]any{"in": "PT2S", "consent": res}, &r); err != nil || st != 200 {
		return fmt.Errorf("snooze: %d %v", st, err)
	}
	say("%-28s snoozed from the card (稍后提醒): due again at %s, the tap's accept recorded with it", "event lead PT3S", r.FireAt)
	for {
		if ctx.Err() != nil {
			return errors.New("the snoozed reminder was not sent again in time")
		}
		if _, err := c.call("GET", base+"/v1/reminders/"+id, nil, &r); err != nil {
			return err
		}
		sent := 0
		for _, d := range r.Deliveries {
			if d.Status == "sent" {
				sent++
			}
		}
		if r.Status == "sent" && sent == 2 {
			say("%-28s sent again after the snooze (2 sent deliveries)", "event lead PT3S")
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
}
