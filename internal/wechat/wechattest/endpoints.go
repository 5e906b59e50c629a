package wechattest

import (
	"encoding/json"
	"io"
	"net/http"
	"time"
)

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, map[string]any{"errcode": code, "errmsg": msg + rid()})
}

// tokenOverlap is how long a superseded token keeps working.
const tokenOverlap = 5 * time.Minute

// credentialed returns the account appID names if secret is its secret, or
// WeChat's errcode for the pair.
func (s *Server) credentialed(appID, secret string) (*Account, int, string) {
	a := s.App(appID)
	switch {
	case a == nil:
		return nil, 40013, "invalid appid"
	case secret != a.secret:
		return nil, 40125, "invalid appsecret"
	}
	return a, 0, ""
}

// faultsOf is the account whose faults apply to a request naming appID: its
// own, or the default account's for an appid the fake does not know.
func (s *Server) faultsOf(appID string) *Account {
	if a := s.App(appID); a != nil {
		return a
	}
	return s.Account
}

// issueToken mints a token. The caller holds a.mu.
func (a *Account) issueToken(now time.Time, legacy bool) string {
	tok := "FAKE_TOKEN_" + randomHex(16)
	ttl := a.srv.tokenTTL
	a.tokens[tok] = &tokenRec{expiresAt: now.Add(ttl), validUntil: now.Add(ttl), legacy: legacy}
	return tok
}

// hasToken reports whether the account issued tok.
func (a *Account) hasToken(tok string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tokens[tok] != nil
}

func (s *Server) handleStableToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		GrantType    string `json:"grant_type"`
		AppID        string `json:"appid"`
		Secret       string `json:"secret"`
		ForceRefresh bool   `json:"force_refresh"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		writeErr(w, 47001, "data format error")
		return
	}
	if s.faultsOf(req.AppID).injectFault(w, r, false) {
		return
	}
	if req.GrantType != "client_credential" {
		writeErr(w, 40002, "invalid grant_type")
		return
	}
	a, code, msg := s.credentialed(req.AppID, req.Secret)
	if code != 0 {
		writeErr(w, code, msg)
		return
	}
	tok, expiresIn := a.stableToken(req.ForceRefresh)
	writeJSON(w, map[string]any{"access_token": tok, "expires_in": expiresIn})
}

// stableToken answers a stable_token call: the current token, or a new one.
func (a *Account) stableToken(forceRefresh bool) (string, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.counts.StableToken++
	now := a.now()
	cur := a.tokens[a.stable]
	switch {
	case forceRefresh:
		if cur != nil {
			cur.validUntil = now // invalidated at once
		}
		a.stable = a.issueToken(now, false)
	case cur == nil || !now.Before(cur.validUntil) || !now.Before(cur.expiresAt.Add(-tokenOverlap)):
		// Normal mode: a new token 5 minutes before expiry; the old one
		// keeps working until it expires (the overlap).
		a.stable = a.issueToken(now, false)
	}
	rec := a.tokens[a.stable]
	return a.stable, int(rec.expiresAt.Sub(now) / time.Second)
}

func (s *Server) handleLegacyToken(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if s.faultsOf(q.Get("appid")).injectFault(w, r, false) {
		return
	}
	if q.Get("grant_type") != "client_credential" {
		writeErr(w, 40002, "invalid grant_type")
		return
	}
	a, code, msg := s.credentialed(q.Get("appid"), q.Get("secret"))
	if code != 0 {
		writeErr(w, code, msg)
		return
	}
	writeJSON(w, map[string]any{"access_token": a.legacyToken(), "expires_in": int(s.tokenTTL / time.Second)})
}

// legacyToken answers a /cgi-bin/token call: always a new token.
func (a *Account) legacyToken() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.counts.LegacyToken++
	now := a.now()
	// Every call supersedes every earlier legacy token after the overlap.
	// Stable tokens are isolated from legacy ones, as on WeChat.
	for _, rec := range a.tokens {
		if rec.legacy {
			if until := now.Add(tokenOverlap); until.Before(rec.validUntil) {
				rec.validUntil = until
			}
		}
	}
	a.legacy = a.issueToken(now, true)
	return a.legacy
}

// checkToken answers a token errcode for a bad token. The caller holds a.mu.
func (a *Account) checkToken(tok string) (int, string) {
	rec := a.tokens[tok]
	now := a.now()
	switch {
	case tok == "":
		return 41001, "access_token missing"
	case rec == nil:
		return 40001, "invalid credential, access_token is invalid or not latest"
	case !now.Before(rec.expiresAt):
		return 42001, "access_token expired"
	case !now.Before(rec.validUntil):
		return 40001, "invalid credential, access_token is invalid or not latest"
	}
	return 0, ""
}

// tokenAccount is the account a call with tok is answered by: the one that
// issued it, else the default account (which refuses the token).
func (s *Server) tokenAccount(tok string) *Account {
	if a := s.tokenOwner(tok); a != nil {
		return a
	}
	return s.Account
}

// RevokeTokens invalidates every token of the account at once, as a
// force_refresh by another party or a secret reset would.
func (a *Account) RevokeTokens() {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	for _, rec := range a.tokens {
		rec.validUntil = now
	}
}

// IssueCode returns a fresh wx.login code of the account for openid: valid
// 5 minutes, usable once, by this account's appid and secret only.
func (a *Account) IssueCode(openID string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	code := "code_" + randomHex(12)
	a.codes[code] = &codeRec{openID: openID, expiresAt: a.now().Add(5 * time.Minute)}
	a.users[openID] = true
	return code
}

// BlockUser makes code2Session answer 40226 for openid.
func (a *Account) BlockUser(openID string) {
	a.mu.Lock()
	a.blocked[openID] = true
	a.mu.Unlock()
}

func (s *Server) handleCode2Session(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if s.faultsOf(q.Get("appid")).injectFault(w, r, false) {
		return
	}
	a, code, msg := s.credentialed(q.Get("appid"), q.Get("secret"))
	if code != 0 {
		writeErr(w, code, msg)
		return
	}
	if q.Get("grant_type") != "authorization_code" {
		writeErr(w, 40002, "invalid grant_type")
		return
	}
	openID, code, msg := a.code2Session(q.Get("js_code"))
	if code != 0 {
		writeErr(w, code, msg)
		return
	}
	writeJSON(w, map[string]any{
		"openid":      openID,
		"session_key": "FAKE_SESSION_KEY_" + randomHex(8),
		"unionid":     "union_" + openID,
	})
}

// code2Session redeems a login code of the account.
func (a *Account) code2Session(jsCode string) (string, int, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.counts.Code2Session++
	rec := a.codes[jsCode]
	if rec == nil || rec.used || !a.now().Before(rec.expiresAt) {
		return "", 40029, "invalid code"
	}
	rec.used = true
	if a.blocked[rec.openID] {
		return "", 40226, "code blocked"
	}
	return rec.openID, 0, ""
}

func (s *Server) handleGetTemplate(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("access_token")
	s.tokenAccount(tok).serveGetTemplate(w, r, tok)
}

func (a *Account) serveGetTemplate(w http.ResponseWriter, r *http.Request, tok string) {
	if a.injectFault(w, r, false) {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if code, msg := a.checkToken(tok); code != 0 {
		writeErr(w, code, msg)
		return
	}
	a.counts.GetTemplate++
	type enumList struct {
		KeywordCode   string   `json:"keywordCode"`
		EnumValueList []string `json:"enumValueList"`
	}
	type tmpl struct {
		PriTmplID string     `json:"priTmplId"`
		Title     string     `json:"title"`
		Content   string     `json:"content"`
		Example   string     `json:"example"`
		Type      int        `json:"type"`
		Enums     []enumList `json:"keywordEnumValueList,omitempty"`
	}
	data := make([]tmpl, 0, len(a.templates))
	for _, t := range a.templates {
		typ := 2
		if t.Kind == "long_term" {
			typ = 3
		}
		out := tmpl{PriTmplID: t.ID, Title: t.Title, Content: t.Content, Example: t.Example, Type: typ}
		for _, k := range t.Keywords {
			if len(k.Enum) > 0 {
				out.Enums = append(out.Enums, enumList{KeywordCode: k.Key + ".DATA", EnumValueList: k.Enum})
			}
		}
		data = append(data, out)
	}
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "data": data})
}
