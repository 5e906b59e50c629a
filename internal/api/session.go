package api

import (
	"errors"
	"net/http"

	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat"
)

type sessionRequest struct {
	Code string `json:"code"`
	// AppID names the mini-program (required when several are served).
	AppID string `json:"appid"`
}

type sessionResponse struct {
	Token     string `json:"token"`
	OpenID    string `json:"openid"`
	AppID     string `json:"appid"`
	ExpiresAt string `json:"expires_at"`
}

// handleCreateSession exchanges a wx.login code for a reminderd session.
// WeChat's session_key stays inside wechat.Session and goes nowhere.
func (s *Server) handleCreateSession(w http.ResponseWriter, r *http.Request) {
	var req sessionRequest
	if err := decode(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Code == "" || len(req.Code) > 256 {
		s.writeError(w, r, fieldErrors{"code": "is required: the code from wx.login()"}.err())
		return
	}
	app, err := s.loginApp(req.AppID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sess, err := app.Login.Code2Session(r.Context(), req.Code)
	switch {
	case errors.Is(err, wechat.ErrInvalidCode), errors.Is(err, wechat.ErrUserBlocked):
		s.writeError(w, r, errf(http.StatusUnauthorized, "invalid_code", "WeChat rejected the login code: call wx.login() again for a fresh one"))
		return
	case errors.Is(err, wechat.ErrRateLimited):
		w.Header().Set("Retry-After", "60")
		s.writeError(w, r, errf(http.StatusTooManyRequests, "rate_limited", "too many logins; try again in a minute"))
		return
	case err != nil:
		s.logFor(r.Context()).Warn("code2session failed", "error", err)
		s.writeError(w, r, errf(http.StatusServiceUnavailable, "unavailable", "WeChat login is unavailable; try again"))
		return
	}
	now := s.now()
	tok := newToken()
	exp := now.Add(s.sessionTTL)
	if err := s.store.CreateSession(r.Context(), store.Session{
		TokenHash: hashToken(tok), OpenID: sess.OpenID, AppID: app.AppID, CreatedAt: now, ExpiresAt: exp,
	}); err != nil {
		s.writeError(w, r, err)
		return
	}
	encode(w, http.StatusOK, sessionResponse{Token: tok, OpenID: sess.OpenID, AppID: app.AppID, ExpiresAt: formatUTC(exp)})
}
