package wechat

import (
	"context"
	"errors"
	"net/http"
	"net/url"
)

// Session is the outcome of code2Session. SessionKey never leaves the server:
// it prints, logs and encodes as "[REDACTED]".
type Session struct {
	OpenID     string
	UnionID    string
	SessionKey Secret
}

type sessionAnswer struct {
	errBody
	OpenID     string `json:"openid"`
	UnionID    string `json:"unionid"`
	SessionKey string `json:"session_key"`
}

// A code2session answer omits errcode on success.
func (a *sessionAnswer) impliesSuccess() bool { return a.OpenID != "" }

// Code2Session exchanges a wx.login code for the user's openid. Errors match
// ErrInvalidCode (40029: bad, expired or used code), ErrUserBlocked (40226),
// ErrRateLimited (45011) or ErrUnavailable (-1 and transport failures) with
// errors.Is.
func (c *Client) Code2Session(ctx context.Context, code string) (Session, error) {
	if code == "" {
		return Session{}, &loginError{kind: ErrInvalidCode, api: &APIError{Code: CodeInvalidCode, Msg: "empty code"}}
	}
	q := url.Values{
		"appid":      {c.appID},
		"secret":     {c.secret.Reveal()},
		"js_code":    {code},
		"grant_type": {"authorization_code"},
	}
	var ans sessionAnswer
	if err := c.do(ctx, "code2session", http.MethodGet, "/sns/jscode2session", q, nil, &ans); err != nil {
		return Session{}, errors.Join(ErrUnavailable, err)
	}
	if err := ans.err(); err != nil {
		apiErr := err.(*APIError)
		switch apiErr.Code {
		case CodeInvalidCode:
			return Session{}, &loginError{ErrInvalidCode, apiErr}
		case CodeUserBlocked:
			return Session{}, &loginError{ErrUserBlocked, apiErr}
		case CodeTooFrequent:
			return Session{}, &loginError{ErrRateLimited, apiErr}
		case CodeBusy:
			return Session{}, &loginError{ErrUnavailable, apiErr}
		}
		return Session{}, err
	}
	if ans.OpenID == "" {
		return Session{}, errors.Join(ErrUnavailable, &TransportError{Op: "code2session", Err: errors.New("answer has no openid")})
	}
	return Session{OpenID: ans.OpenID, UnionID: ans.UnionID, SessionKey: NewSecret(ans.SessionKey)}, nil
}
