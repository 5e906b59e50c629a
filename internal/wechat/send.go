package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// SendRequest is one subscribe message. Data maps keyword keys ("thing1") to
// values. Empty MiniprogramState and Lang take the Client's defaults; both
// are always sent.
type SendRequest struct {
	// AppID names the mini-program to send through, for a sender that
	// serves several (a *Client sends through its own and ignores it).
	AppID            string
	ToUser           string
	TemplateID       string
	Page             string
	Data             map[string]string
	MiniprogramState string
	Lang             string
}

// SendResult is WeChat's acceptance of a message. WeChat does not always
// return a msgid; HasMsgID says whether it did. MsgID exceeds 2^53 and is
// decoded exactly.
type SendResult struct {
	MsgID    int64
	HasMsgID bool
}

type sendValue struct {
	Value string `json:"value"`
}

type sendBody struct {
	ToUser           string               `json:"touser"`
	TemplateID       string               `json:"template_id"`
	Page             string               `json:"page,omitempty"`
	MiniprogramState string               `json:"miniprogram_state"`
	Lang             string               `json:"lang"`
	Data             map[string]sendValue `json:"data"`
}

type sendAnswer struct {
	errBody
	MsgID json.Number `json:"msgid"`
}

// A send's answer always has errcode, and losing it leaves the outcome
// unknown: WeChat may have delivered the message.
func (*sendAnswer) impliesSuccess() bool { return false }
func (*sendAnswer) lossIsUnknown() bool  { return true }

// ErrBadRequest wraps a request that is wrong before it is sent.
var ErrBadRequest = errors.New("invalid request")

// Send sends a subscribe message. Errors are *APIError (classify with
// Classify), *TransportError, or ErrBadRequest for a request that could not
// be valid. A token errcode has already been retried once. A
// *TransportError for a request that was written but got no valid answer
// also matches ErrOutcomeUnknown (ClassUnknown): WeChat may have delivered
// the message, and a resend may deliver it twice.
func (c *Client) Send(ctx context.Context, r SendRequest) (SendResult, error) {
	body := sendBody{
		ToUser:           r.ToUser,
		TemplateID:       r.TemplateID,
		Page:             r.Page,
		MiniprogramState: r.MiniprogramState,
		Lang:             r.Lang,
		Data:             make(map[string]sendValue, len(r.Data)),
	}
	if body.MiniprogramState == "" {
		body.MiniprogramState = c.state
	}
	if body.Lang == "" {
		body.Lang = c.lang
	}
	switch {
	case body.ToUser == "":
		return SendResult{}, fmt.Errorf("%w: touser is empty", ErrBadRequest)
	case body.TemplateID == "":
		return SendResult{}, fmt.Errorf("%w: template_id is empty", ErrBadRequest)
	case len(r.Data) == 0:
		return SendResult{}, fmt.Errorf("%w: data is empty", ErrBadRequest)
	case !validState(body.MiniprogramState):
		return SendResult{}, fmt.Errorf("%w: miniprogram_state %q", ErrBadRequest, body.MiniprogramState)
	case !validLang(body.Lang):
		return SendResult{}, fmt.Errorf("%w: lang %q", ErrBadRequest, body.Lang)
	}
	for k, v := range r.Data {
		body.Data[k] = sendValue{Value: v}
	}
	ans, err := doWithToken[sendAnswer](ctx, c, "subscribe send", http.MethodPost, "/cgi-bin/message/subscribe/send", body)
	if err != nil {
		return SendResult{}, err
	}
	var res SendResult
	if ans.MsgID != "" {
		id, err := strconv.ParseInt(ans.MsgID.String(), 10, 64)
		if err != nil {
			// Accepted, but the msgid is unusable: keep the send, lose the id.
			c.log.Warn("wechat returned a msgid that is not an int64", "msgid", ans.MsgID.String())
		} else {
			res = SendResult{MsgID: id, HasMsgID: true}
		}
	}
	return res, nil
}
