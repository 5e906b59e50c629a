package wechattest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/reminderd/reminderd/internal/wechat"
)

// AddTemplate registers a template with the account, replacing one with the
// same ID. Content is rendered from Keywords when empty; Keywords are parsed
// from Content when empty.
func (a *Account) AddTemplate(t wechat.Template) {
	if t.Kind == "" {
		t.Kind = wechat.OneTime
	}
	if len(t.Keywords) == 0 {
		t.Keywords = wechat.ParseContent(t.Content)
	}
	for i, k := range t.Keywords {
		if k.Type == "" {
			t.Keywords[i].Type, _, _ = wechat.KeywordType(k.Key)
		}
	}
	if t.Content == "" {
		var b strings.Builder
		for _, k := range t.Keywords {
			fmt.Fprintf(&b, "%s:{{%s.DATA}}\n", k.Label, k.Key)
		}
		t.Content = b.String()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.templates = slices.DeleteFunc(a.templates, func(x wechat.Template) bool { return x.ID == t.ID })
	a.templates = append(a.templates, t)
}

// RemoveTemplate deletes a template from the account.
func (a *Account) RemoveTemplate(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.templates = slices.DeleteFunc(a.templates, func(x wechat.Template) bool { return x.ID == id })
}

// template finds a template. The caller holds a.mu.
func (a *Account) template(id string) *wechat.Template {
	for i := range a.templates {
		if a.templates[i].ID == id {
			return &a.templates[i]
		}
	}
	return nil
}

// Template IDs of DemoTemplates.
const (
	MeetingTemplateID  = "fakeMeetingReminder00000000000000000000001"
	DeadlineTemplateID = "fakeDeadlineReminder0000000000000000000002"
	ClinicTemplateID   = "fakeClinicAppointment000000000000000000003"
	// MeetingStartTemplateID is a second one-time meeting template with
	// other keywords (an event's alternative to the meeting template).
	MeetingStartTemplateID = "fakeMeetingStart000000000000000000000004"
)

// DemoTemplates are the first templates the sandbox and the demo register:
// a one-time meeting reminder, a one-time deadline reminder with an enum,
// and a long-term appointment reminder.
func DemoTemplates() []wechat.Template {
	return []wechat.Template{
		{ID: MeetingTemplateID, Title: "会议提醒", Kind: wechat.OneTime, Keywords: []wechat.Keyword{
			{Key: "thing1", Label: "会议名称"}, {Key: "time2", Label: "会议时间"}, {Key: "thing3", Label: "会议地点"},
		}, Example: "会议名称:项目评审会\n会议时间:2026-12-01 14:00\n会议地点:A栋201会议室\n"},
		{ID: DeadlineTemplateID, Title: "截止提醒", Kind: wechat.OneTime, Keywords: []wechat.Keyword{
			{Key: "thing1", Label: "事项"}, {Key: "date2", Label: "截止日期"},
			{Key: "enum_string3", Label: "优先级", Enum: []string{"高", "中", "低"}},
			{Key: "character_string4", Label: "编号"},
		}},
		{ID: ClinicTemplateID, Title: "预约提醒", Kind: wechat.LongTerm, Keywords: []wechat.Keyword{
			{Key: "name1", Label: "就诊人"}, {Key: "time2", Label: "预约时间"}, {Key: "thing3", Label: "科室"},
			{Key: "phone_number4", Label: "联系电话"},
		}},
	}
}

// MeetingStartTemplate is a second one-time meeting template with other
// keywords: an event's alternative to the meeting template.
func MeetingStartTemplate() wechat.Template {
	return wechat.Template{ID: MeetingStartTemplateID, Title: "会议开始提醒", Kind: wechat.OneTime, Keywords: []wechat.Keyword{
		{Key: "thing1", Label: "会议名称"}, {Key: "time4", Label: "开始时间"},
	}, Example: "会议名称:项目评审会\n开始时间:2026-12-01 14:00\n"}
}

// SandboxTemplates are the templates the sandbox, the demo and the shared
// test harness register: DemoTemplates and MeetingStartTemplate.
func SandboxTemplates() []wechat.Template {
	return append(DemoTemplates(), MeetingStartTemplate())
}

// Popup simulates the user answering wx.requestSubscribeMessage for the
// given template ids with the given status per id ("accept", "reject", …),
// and returns what the mini-program's call resolves with, errMsg included.
// It enforces the platform's limits: at most 3 ids, all known, one-time and
// long-term not mixed. Each accept adds one credit (one-time) or grants the
// template (long-term). If a push target is set, the signed popup event is
// pushed before Popup returns.
func (a *Account) Popup(ctx context.Context, openID string, answers map[string]string) (map[string]string, error) {
	if len(answers) == 0 || len(answers) > 3 {
		return nil, fmt.Errorf("requestSubscribeMessage:fail 10002 between 1 and 3 template ids, got %d", len(answers))
	}
	a.mu.Lock()
	var kinds []wechat.TemplateKind
	for id := range answers {
		t := a.template(id)
		if t == nil {
			a.mu.Unlock()
			return nil, fmt.Errorf("requestSubscribeMessage:fail 20001 no template data for %s", id)
		}
		kinds = append(kinds, t.Kind)
	}
	if slices.Contains(kinds, wechat.OneTime) && slices.Contains(kinds, wechat.LongTerm) {
		a.mu.Unlock()
		return nil, fmt.Errorf("requestSubscribeMessage:fail 20002 one-time and long-term templates mixed")
	}
	a.users[openID] = true
	out := map[string]string{"errMsg": "requestSubscribeMessage:ok"}
	ev := &wechat.Event{ToUserName: a.originalID, FromUserName: openID, CreateTime: a.now().Unix(),
		MsgType: "event", Event: "subscribe_msg_popup_event"}
	ids := slices.Sorted(maps.Keys(answers))
	for _, id := range ids {
		status := answers[id]
		out[id] = status
		key := ledgerKey{openID, id}
		if strings.HasPrefix(status, "accept") && !a.claimAccept(a.reportAccepts, key) {
			if a.template(id).Kind == wechat.LongTerm {
				a.longTerm[key] = true
			} else {
				a.credits[key]++
			}
			a.addPending(a.popupAccepts, key)
		}
		if status == "accept" || status == "reject" || strings.HasPrefix(status, "accept") {
			st := "reject"
			if strings.HasPrefix(status, "accept") {
				st = "accept"
			}
			ev.Popup = append(ev.Popup, wechat.PopupItem{TemplateID: id, SubscribeStatus: st, PopupScene: 0})
		}
	}
	a.mu.Unlock()
	if len(ev.Popup) > 0 {
		if err := a.pushEvent(ctx, ev); err != nil {
			return out, err
		}
	}
	return out, nil
}

// PairWindow is how far apart a popup and a report of the same accept may be
// and still be one accept: reminderd's ledger pairs a client report with
// WeChat's popup event within the same window (store.PairWindow), and
// ReportAccept pairs the same way, so that both sides count alike.
const PairWindow = 120 * time.Second

// ReportAccept is the sandbox's stand-in for a popup the developer cannot
// tap: reminderd was told (POST /v1/consents) that the user accepted
// templateID, and the fake grants that accept as if the popup had been
// answered, without pushing an event (reminderd already recorded the
// report). If a Popup of the same accept happened within PairWindow and no
// report claimed it yet, that popup was the accept being reported: nothing
// is added and granted is false. A Popup within PairWindow after a report
// pairs with it the same way. Each call claims or grants one accept.
func (a *Account) ReportAccept(openID, templateID string) (granted bool, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.template(templateID)
	if t == nil {
		return false, fmt.Errorf("no template %s in the fake account", templateID)
	}
	key := ledgerKey{openID, templateID}
	if a.claimAccept(a.popupAccepts, key) {
		return false, nil
	}
	a.users[openID] = true
	if t.Kind == wechat.LongTerm {
		a.longTerm[key] = true
	} else {
		a.credits[key]++
	}
	a.addPending(a.reportAccepts, key)
	return true, nil
}

// claimAccept takes the oldest accept of key in pending that is at most
// PairWindow old, dropping older ones; it reports whether there was one.
// The caller holds a.mu.
func (a *Account) claimAccept(pending map[ledgerKey][]time.Time, key ledgerKey) bool {
	since := a.now().Add(-PairWindow)
	list := pending[key]
	for len(list) > 0 && list[0].Before(since) {
		list = list[1:]
	}
	claimed := len(list) > 0
	if claimed {
		list = list[1:]
	}
	if len(list) == 0 {
		delete(pending, key)
	} else {
		pending[key] = list
	}
	return claimed
}

// addPending records an accept of key, now, in pending, dropping those
// older than PairWindow. The caller holds a.mu.
func (a *Account) addPending(pending map[ledgerKey][]time.Time, key ledgerKey) {
	since := a.now().Add(-PairWindow)
	list := pending[key]
	for len(list) > 0 && list[0].Before(since) {
		list = list[1:]
	}
	pending[key] = append(list, a.now())
}

// Unsubscribe simulates the user turning templates off in settings: credits
// drop to zero and, with a push target, a change event is pushed.
func (a *Account) Unsubscribe(ctx context.Context, openID string, templateIDs ...string) error {
	a.mu.Lock()
	ev := &wechat.Event{ToUserName: a.originalID, FromUserName: openID, CreateTime: a.now().Unix(),
		MsgType: "event", Event: "subscribe_msg_change_event"}
	for _, id := range templateIDs {
		key := ledgerKey{openID, id}
		delete(a.credits, key)
		delete(a.longTerm, key)
		ev.Change = append(ev.Change, wechat.ChangeItem{TemplateID: id, SubscribeStatus: "reject"})
	}
	a.mu.Unlock()
	return a.pushEvent(ctx, ev)
}

// Credits returns the user's remaining one-time credits for a template.
func (a *Account) Credits(openID, templateID string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.credits[ledgerKey{openID, templateID}]
}

// Grant adds credits without a popup (test setup).
func (a *Account) Grant(openID, templateID string, credits int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.users[openID] = true
	key := ledgerKey{openID, templateID}
	if t := a.template(templateID); t != nil && t.Kind == wechat.LongTerm {
		a.longTerm[key] = credits > 0
		return
	}
	a.credits[key] += credits
}

// pushTarget is where events are pushed, as configured in the mini-program
// console.
type pushTarget struct {
	url  string
	json bool
	rcv  *wechat.Receiver
}

// PushRecord is one push delivery attempt.
type PushRecord struct {
	Event  string
	Status int    // HTTP status, 0 when the request failed
	Body   string // the receiver's reply
	Err    string
}

// SetPush configures message push: events are POSTed to url, signed with
// token and, when aesKey is set, encrypted (safe mode); json selects the
// JSON format instead of XML. An empty url turns pushing off.
func (a *Account) SetPush(url, token, aesKey string, json bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if url == "" {
		a.push = nil
		return nil
	}
	rcv, err := wechat.NewReceiver(wechat.PushConfig{Token: token, AESKey: aesKey, AppID: a.appID, Now: a.now})
	if err != nil {
		return fmt.Errorf("fake push config: %w", err)
	}
	a.push = &pushTarget{url: url, json: json, rcv: rcv}
	return nil
}

// Pushes returns every push attempt so far.
func (a *Account) Pushes() []PushRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.pushes)
}

// WaitPushes waits for asynchronous pushes (sent events) in flight, of
// every account of the server.
func (a *Account) WaitPushes() { a.srv.pushWG.Wait() }

// pushEvent delivers one event to the push target, if any.
func (a *Account) pushEvent(ctx context.Context, ev *wechat.Event) error {
	a.mu.Lock()
	target := a.push
	a.mu.Unlock()
	if target == nil {
		return nil
	}
	msg, err := wechat.MarshalEvent(ev, target.json)
	if err != nil {
		return err
	}
	q, body, err := target.rcv.Seal(msg, ev.ToUserName, target.json)
	if err != nil {
		return err
	}
	rec := PushRecord{Event: ev.Event}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.url+"?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	if target.json {
		req.Header.Set("Content-Type", "application/json")
	} else {
		req.Header.Set("Content-Type", "text/xml")
	}
	resp, err := a.srv.pushClient.Do(req)
	if err != nil {
		rec.Err = err.Error()
	} else {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		rec.Status, rec.Body = resp.StatusCode, string(b)
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("push %s: HTTP %d", ev.Event, resp.StatusCode)
		}
	}
	a.mu.Lock()
	a.pushes = append(a.pushes, rec)
	a.mu.Unlock()
	return err
}

// pushSentEvent pushes the sent event for an accepted send in the background,
// as WeChat reports the final outcome later.
func (a *Account) pushSentEvent(sent Send) {
	a.mu.Lock()
	on := a.push != nil
	ev := &wechat.Event{ToUserName: a.originalID, FromUserName: sent.ToUser, CreateTime: a.now().Unix(),
		MsgType: "event", Event: "subscribe_msg_sent_event",
		Sent: []wechat.SentItem{{TemplateID: sent.TemplateID, MsgID: sent.MsgID, ErrorCode: 0, ErrorStatus: "success"}}}
	if on {
		a.srv.pushWG.Add(1)
	}
	a.mu.Unlock()
	if !on {
		return
	}
	go func() {
		defer a.srv.pushWG.Done()
		if err := a.pushEvent(context.Background(), ev); err != nil {
			a.srv.log.Warn("fake wechat: sent event push failed", "appid", a.appID, "error", err)
		}
	}()
}
