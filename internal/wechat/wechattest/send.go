package wechattest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/reminderd/reminderd/internal/wechat"
)

// beijing is the zone in which WeChat's daily quota resets.
var beijing = time.FixedZone("CST", 8*3600)

// SetFaults replaces the injected faults.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
}

// injectFault applies the configured faults to a request and reports whether
// it has answered it.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request, isSend bool) bool {
	s.mu.Lock()
	f := s.faults
	if !isSend && !f.AllEndpoints {
		s.mu.Unlock()
		return false
	}
	roll := s.rnd.Float64()
	s.mu.Unlock()
	if f.Latency > 0 {
		select {
		case <-time.After(f.Latency):
		case <-r.Context().Done():
			return true
		}
	}
	switch {
	case roll < f.HangRate:
		<-r.Context().Done()
		return true
	case roll < f.HangRate+f.HTTP500Rate:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, "<html><body>500 Internal Server Error</body></html>")
		return true
	case roll < f.HangRate+f.HTTP500Rate+f.BusyRate:
		writeErr(w, -1, "system error")
		return true
	}
	return false
}

type sendReq struct {
	ToUser           string `json:"touser"`
	TemplateID       string `json:"template_id"`
	Page             string `json:"page"`
	MiniprogramState string `json:"miniprogram_state"`
	Lang             string `json:"lang"`
	Data             map[string]struct {
		Value *string `json:"value"`
	} `json:"data"`
}

func (s *Server) handleSend(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("access_token")
	s.mu.Lock()
	s.counts.Send++
	code, msg := s.checkToken(tok)
	s.mu.Unlock()
	if code != 0 {
		writeErr(w, code, msg)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	var req sendReq
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		writeErr(w, 47001, "data format error")
		return
	}
	// The user is "in flight" for the whole request, latency included, so
	// that a concurrent send to the same openid is seen and refused.
	s.mu.Lock()
	busy := s.inflight[req.ToUser] > 0
	s.inflight[req.ToUser]++
	if busy {
		s.counts.UserBusy++
	}
	if s.arrived != nil {
		select {
		case s.arrived <- req.ToUser:
		default: // the test is not waiting for this one
		}
	}
	s.mu.Unlock()
	released := false
	release := func() {
		if released {
			return
		}
		released = true
		s.mu.Lock()
		s.inflight[req.ToUser]--
		if s.inflight[req.ToUser] == 0 {
			delete(s.inflight, req.ToUser)
		}
		s.mu.Unlock()
	}
	defer release()
	if busy {
		writeErr(w, wechat.CodeUserBusy, "reach max api daily quota limit for the user: concurrent requests")
		return
	}
	if s.injectFault(w, r, true) {
		return
	}

	s.mu.Lock()
	sent, code, msg := s.acceptSend(&req)
	fault := NoFaultAfterAccept
	if code == 0 {
		fault = s.afterAcceptFault()
	}
	if code == wechat.CodeNoCredit {
		s.counts.NoCredit++
	}
	s.mu.Unlock()
	if code != 0 {
		writeErr(w, code, msg)
		return
	}
	// Encoded by hand to keep msgid an exact integer.
	answer := fmt.Sprintf(`{"errcode":0,"errmsg":"ok","msgid":%d}`, sent.MsgID)
	if fault != NoFaultAfterAccept {
		// Accepted and delivered: WeChat is done with the request and
		// pushes the sent event whatever happens to the answer (which may
		// reach the client before this handler returns).
		release()
		s.pushSentEvent(sent)
		loseAnswer(w, r, fault, answer)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = io.WriteString(w, answer)
	s.pushSentEvent(sent)
}

// acceptSend applies WeChat's rules to a decoded send. The caller holds s.mu.
func (s *Server) acceptSend(req *sendReq) (Send, int, string) {
	if req.ToUser == "" || !s.users[req.ToUser] {
		return Send{}, wechat.CodeInvalidOpenID, "invalid openid"
	}
	tmpl := s.template(req.TemplateID)
	if tmpl == nil {
		return Send{}, wechat.CodeInvalidTemplate, "invalid template_id"
	}
	if req.MiniprogramState != "" && req.MiniprogramState != "developer" && req.MiniprogramState != "trial" && req.MiniprogramState != "formal" {
		return Send{}, wechat.CodeInvalidArgument, "argument invalid! miniprogram_state invalid"
	}
	if req.Lang != "" && req.Lang != "zh_CN" && req.Lang != "en_US" && req.Lang != "zh_HK" && req.Lang != "zh_TW" {
		return Send{}, wechat.CodeInvalidArgument, "argument invalid! lang invalid"
	}
	if req.Page != "" {
		path, _, _ := strings.Cut(req.Page, "?")
		if !s.pages[strings.TrimPrefix(path, "/")] {
			return Send{}, wechat.CodeInvalidPage, "invalid page"
		}
	}
	data := make(map[string]string, len(tmpl.Keywords))
	for _, kw := range tmpl.Keywords {
		v, ok := req.Data[kw.Key]
		if !ok || v.Value == nil || *v.Value == "" {
			return Send{}, wechat.CodeInvalidArgument, fmt.Sprintf("argument invalid! data.%s.value is emtpy", kw.Key)
		}
		if !valueAccepted(keywordTypeOf(kw.Key), *v.Value, kw.Enum) {
			return Send{}, wechat.CodeInvalidArgument, fmt.Sprintf("argument invalid! data.%s.value invalid", kw.Key)
		}
		data[kw.Key] = *v.Value
	}
	if s.faults.DailyQuota > 0 {
		day := s.now().In(beijing).Format(time.DateOnly)
		if day != s.quotaDay {
			s.quotaDay, s.quotaUsed = day, 0
		}
		if s.quotaUsed >= s.faults.DailyQuota {
			return Send{}, wechat.CodeQuota, "reach max api daily quota limit"
		}
	}
	key := ledgerKey{req.ToUser, req.TemplateID}
	if tmpl.Kind == wechat.LongTerm {
		if !s.longTerm[key] {
			return Send{}, wechat.CodeNoCredit, "user refuse to accept the msg"
		}
	} else {
		if s.credits[key] <= 0 {
			return Send{}, wechat.CodeNoCredit, "user refuse to accept the msg"
		}
		s.credits[key]--
	}
	s.quotaUsed++
	sent := Send{
		MsgID:            s.nextMsgID,
		ToUser:           req.ToUser,
		TemplateID:       req.TemplateID,
		Page:             req.Page,
		MiniprogramState: req.MiniprogramState,
		Lang:             req.Lang,
		Data:             data,
		At:               s.now(),
	}
	s.nextMsgID++
	s.sends = append(s.sends, sent)
	return sent, 0, ""
}

// NotifySends makes every subscribe send that arrives (before its latency
// and its answer) put its openid on ch, if ch has room: a test waits on it
// for a send to be in flight instead of sleeping. nil stops it.
func (s *Server) NotifySends(ch chan<- string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.arrived = ch
}

// Sends returns every send WeChat accepted, in order.
func (s *Server) Sends() []Send {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Send, len(s.sends))
	for i, x := range s.sends {
		x.Data = maps.Clone(x.Data)
		out[i] = x
	}
	return out
}

// Counts returns how many calls each endpoint has answered.
func (s *Server) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts
}

// QuotaResetsAt is when the daily quota resets: the next midnight in Beijing.
func (s *Server) QuotaResetsAt() time.Time {
	t := s.now().In(beijing)
	return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, beijing)
}
