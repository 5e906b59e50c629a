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
func (a *Account) SetFaults(f Faults) {
	a.mu.Lock()
	a.faults = f
	a.mu.Unlock()
}

// injectFault applies the configured faults to a request and reports whether
// it has answered it.
func (a *Account) injectFault(w http.ResponseWriter, r *http.Request, isSend bool) bool {
	a.mu.Lock()
	f := a.faults
	if !isSend && !f.AllEndpoints {
		a.mu.Unlock()
		return false
	}
	roll := a.rnd.Float64()
	a.mu.Unlock()
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

// handleSend answers a send on the account that issued its token: a token
// reaches only its own account's users, templates and ledgers.
func (s *Server) handleSend(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("access_token")
	s.tokenAccount(tok).serveSend(w, r, tok)
}

func (a *Account) serveSend(w http.ResponseWriter, r *http.Request, tok string) {
	a.mu.Lock()
	a.counts.Send++
	code, msg := a.checkToken(tok)
	a.mu.Unlock()
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
	a.mu.Lock()
	busy := a.inflight[req.ToUser] > 0
	a.inflight[req.ToUser]++
	if busy {
		a.counts.UserBusy++
	}
	if a.arrived != nil {
		select {
		case a.arrived <- req.ToUser:
		default: // the test is not waiting for this one
		}
	}
	a.mu.Unlock()
	released := false
	release := func() {
		if released {
			return
		}
		released = true
		a.mu.Lock()
		a.inflight[req.ToUser]--
		if a.inflight[req.ToUser] == 0 {
			delete(a.inflight, req.ToUser)
		}
		a.mu.Unlock()
	}
	defer release()
	if busy {
		writeErr(w, wechat.CodeUserBusy, "reach max api daily quota limit for the user: concurrent requests")
		return
	}
	if a.injectFault(w, r, true) {
		return
	}

	a.mu.Lock()
	sent, code, msg := a.acceptSend(&req)
	fault := NoFaultAfterAccept
	if code == 0 {
		fault = a.afterAcceptFault()
	}
	if code == wechat.CodeNoCredit {
		a.counts.NoCredit++
	}
	a.mu.Unlock()
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
		a.pushSentEvent(sent)
		loseAnswer(w, r, fault, answer)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = io.WriteString(w, answer)
	a.pushSentEvent(sent)
}

// acceptSend applies WeChat's rules to a decoded send. The caller holds a.mu.
func (a *Account) acceptSend(req *sendReq) (Send, int, string) {
	if req.ToUser == "" || !a.users[req.ToUser] {
		return Send{}, wechat.CodeInvalidOpenID, "invalid openid"
	}
	tmpl := a.template(req.TemplateID)
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
		if !a.pages[strings.TrimPrefix(path, "/")] {
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
	if a.faults.DailyQuota > 0 {
		day := a.now().In(beijing).Format(time.DateOnly)
		if day != a.quotaDay {
			a.quotaDay, a.quotaUsed = day, 0
		}
		if a.quotaUsed >= a.faults.DailyQuota {
			return Send{}, wechat.CodeQuota, "reach max api daily quota limit"
		}
	}
	key := ledgerKey{req.ToUser, req.TemplateID}
	if tmpl.Kind == wechat.LongTerm {
		if !a.longTerm[key] {
			return Send{}, wechat.CodeNoCredit, "user refuse to accept the msg"
		}
	} else {
		if a.credits[key] <= 0 {
			return Send{}, wechat.CodeNoCredit, "user refuse to accept the msg"
		}
		a.credits[key]--
	}
	a.quotaUsed++
	sent := Send{
		MsgID:            a.srv.lastMsgID.Add(1),
		ToUser:           req.ToUser,
		TemplateID:       req.TemplateID,
		Page:             req.Page,
		MiniprogramState: req.MiniprogramState,
		Lang:             req.Lang,
		Data:             data,
		At:               a.now(),
	}
	a.sends = append(a.sends, sent)
	return sent, 0, ""
}

// NotifySends makes every subscribe send that arrives (before its latency
// and its answer) put its openid on ch, if ch has room: a test waits on it
// for a send to be in flight instead of sleeping. nil stops it.
func (a *Account) NotifySends(ch chan<- string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.arrived = ch
}

// Sends returns every send WeChat accepted, in order.
func (a *Account) Sends() []Send {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Send, len(a.sends))
	for i, x := range a.sends {
		x.Data = maps.Clone(x.Data)
		out[i] = x
	}
	return out
}

// Counts returns how many calls each endpoint has answered.
func (a *Account) Counts() Counts {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.counts
}

// QuotaResetsAt is when the daily quota resets: the next midnight in Beijing.
func (a *Account) QuotaResetsAt() time.Time {
	t := a.now().In(beijing)
	return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, beijing)
}
