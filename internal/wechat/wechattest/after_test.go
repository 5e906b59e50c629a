package wechattest

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/wechat"
)

func fakeClient(t *testing.T, s *Server, clock *Clock) *wechat.Client {
	t.Helper()
	c, err := wechat.New(wechat.Config{BaseURL: s.URL, AppID: s.AppID(), Secret: s.Secret(), Now: clock.Now,
		HTTPClient: wechat.NewHTTPClient(300*time.Millisecond, 2)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func meetingSend(openID string) wechat.SendRequest {
	return wechat.SendRequest{ToUser: openID, TemplateID: MeetingTemplateID,
		Data: map[string]string{"thing1": "项目评审会", "time2": "2026-12-01 14:00", "thing3": "A栋201"}}
}

// Every fault after acceptance: WeChat has the message, the credit is used,
// the sent event is pushed, and the client only knows the outcome is unknown.
func TestFaultsAfterAcceptance(t *testing.T) {
	for _, f := range []FaultAfterAccept{AnswerLost, ConnectionReset, TruncatedAnswer, HangAfterAccept, EmptyAnswer} {
		t.Run(f.String(), func(t *testing.T) {
			s, clock := newFake(t)
			srv, events := receiver(t, "pushtoken", "", clock.Now)
			if err := s.SetPush(srv.URL, "pushtoken", "", true); err != nil {
				t.Fatal(err)
			}
			c := fakeClient(t, s, clock)
			s.Grant("o1", MeetingTemplateID, 2)
			s.FailNextSends(1, f)
			_, err := c.Send(context.Background(), meetingSend("o1"))
			if !errors.Is(err, wechat.ErrOutcomeUnknown) || wechat.Classify(err) != wechat.ClassUnknown {
				t.Fatalf("send answered with %v: err %v, want an unknown outcome", f, err)
			}
			sends := s.Sends()
			if len(sends) != 1 || sends[0].ToUser != "o1" || sends[0].Data["thing1"] != "项目评审会" {
				t.Fatalf("record of sends %+v, want the accepted send", sends)
			}
			if got := s.Credits("o1", MeetingTemplateID); got != 1 {
				t.Fatalf("credits %d, want 1: the accepted send used one", got)
			}
			s.WaitPushes()
			ev := <-events
			if ev.Event != "subscribe_msg_sent_event" || len(ev.Sent) != 1 || ev.Sent[0].MsgID != sends[0].MsgID || ev.Sent[0].ErrorCode != 0 {
				t.Fatalf("sent event %+v, want one for msgid %d", ev, sends[0].MsgID)
			}
			// The fault was for one send only.
			res, err := c.Send(context.Background(), meetingSend("o1"))
			if err != nil || !res.HasMsgID || res.MsgID != sends[0].MsgID+1 {
				t.Fatalf("next send: %+v, %v", res, err)
			}
		})
	}
}

func TestFailNextSendsSkipsRefusedSends(t *testing.T) {
	s, clock := newFake(t)
	c := fakeClient(t, s, clock)
	s.IssueCode("oNone") // known user, no credit
	s.Grant("o1", MeetingTemplateID, 1)
	s.FailNextSends(1, EmptyAnswer)
	var apiErr *wechat.APIError
	if _, err := c.Send(context.Background(), meetingSend("oNone")); !errors.As(err, &apiErr) || apiErr.Code != wechat.CodeNoCredit {
		t.Fatalf("refused send: %v, want 43101 answered normally", err)
	}
	if _, err := c.Send(context.Background(), meetingSend("o1")); !errors.Is(err, wechat.ErrOutcomeUnknown) {
		t.Fatalf("accepted send: %v, want the queued fault", err)
	}
	s.FailNextSends(3, AnswerLost)
	s.FailNextSends(0, AnswerLost) // clears
	s.Grant("o1", MeetingTemplateID, 1)
	if _, err := c.Send(context.Background(), meetingSend("o1")); err != nil {
		t.Fatalf("after clearing the queue: %v", err)
	}
}

func TestFaultRatesAfterAcceptance(t *testing.T) {
	s, clock := newFake(t)
	c := fakeClient(t, s, clock)
	s.Grant("o1", MeetingTemplateID, 100)
	s.SetFaults(Faults{AfterLostRate: 0.25, AfterEmptyRate: 0.25})
	unknown := 0
	for range 100 {
		_, err := c.Send(context.Background(), meetingSend("o1"))
		switch {
		case errors.Is(err, wechat.ErrOutcomeUnknown):
			unknown++
		case err != nil:
			t.Fatalf("send: %v", err)
		}
	}
	if len(s.Sends()) != 100 || s.Credits("o1", MeetingTemplateID) != 0 {
		t.Fatalf("%d sends recorded, %d credits left: every send was accepted", len(s.Sends()), s.Credits("o1", MeetingTemplateID))
	}
	if unknown < 30 || unknown > 70 {
		t.Fatalf("rates 0.25 + 0.25 gave %d/100 unknown outcomes", unknown)
	}
}

func TestFailNextSendsControl(t *testing.T) {
	s, clock := newFake(t)
	for _, body := range []string{`{"n":1,"fault":"nope"}`, `{"n":0,"fault":"hang"}`, `{"n":1,"fault":"none"}`, `{`} {
		resp, err := http.Post(s.URL+"/fake/fail-next-sends", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("control body %s: %s, want 400", body, resp.Status)
		}
	}
	resp, err := http.Post(s.URL+"/fake/fail-next-sends", "application/json", strings.NewReader(`{"n":1,"fault":"truncated_answer"}`))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("control: %v %v", err, resp.Status)
	}
	resp.Body.Close()
	s.Grant("o1", MeetingTemplateID, 1)
	if _, err := fakeClient(t, s, clock).Send(context.Background(), meetingSend("o1")); !errors.Is(err, wechat.ErrOutcomeUnknown) {
		t.Fatalf("send after the control: %v, want an unknown outcome", err)
	}
	for f := range faultNames {
		if g, err := ParseFaultAfterAccept(f.String()); err != nil || g != f {
			t.Errorf("ParseFaultAfterAccept(%q) = %v, %v", f.String(), g, err)
		}
	}
}
