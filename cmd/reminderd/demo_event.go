package main

import (
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
