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

func (s *Server) checkCredentials(appID, secret string) (int, string) {
	switch {
	case appID != s.appID:
		return 40013, "invalid appid"
	case secret != s.secret:
		return 40125, "invalid appsecret"
	}
	return 0, ""
}

// issueToken mints a token. The caller holds s.mu.
func (s *Server) issueToken(now time.Time, legacy bool) string {
	tok := "FAKE_TOKEN_" + randomHex(16)
	s.tokens[tok] = &tokenRec{expiresAt: now.Add(s.tokenTTL), validUntil: now.Add(s.tokenTTL), legacy: legacy}
	return tok
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
	if s.injectFault(w, r, false) {
		return
	}
	if req.GrantType != "client_credential" {
		writeErr(w, 40002, "invalid grant_type")
		return
	}
	if code, msg := s.checkCredentials(req.AppID, req.Secret); code != 0 {
		writeErr(w, code, msg)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts.StableToken++
	now := s.now()
	cur := s.tokens[s.stable]
	switch {
	case req.ForceRefresh:
		if cur != nil {
			cur.validUntil = now // invalidated at once
		}
		s.stable = s.issueToken(now, false)
	case cur == nil || !now.Before(cur.validUntil) || !now.Before(cur.expiresAt.Add(-tokenOverlap)):
		// Normal mode: a new token 5 minutes before expiry; the old one
		// keeps working until it expires (the overlap).
		s.stable = s.issueToken(now, false)
	}
	rec := s.tokens[s.stable]
	writeJSON(w, map[string]any{"access_token": s.stable, "expires_in": int(rec.expiresAt.Sub(now) / time.Second)})
}

func (s *Server) handleLegacyToken(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if s.injectFault(w, r, false) {
		return
	}
	if q.Get("grant_type") != "client_credential" {
		writeErr(w, 40002, "invalid grant_type")
		return
	}
	if code, msg := s.checkCredentials(q.Get("appid"), q.Get("secret")); code != 0 {
		writeErr(w, code, msg)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts.LegacyToken++
	now := s.now()
	// Every call supersedes every earlier legacy token after the overlap.
	// Stable tokens are isolated from legacy ones, as on WeChat.
	for _, rec := range s.tokens {
		if rec.legacy {
			if until := now.Add(tokenOverlap); until.Before(rec.validUntil) {
				rec.validUntil = until
			}
		}
	}
	s.legacy = s.issueToken(now, true)
	writeJSON(w, map[string]any{"access_token": s.legacy, "expires_in": int(s.tokenTTL / time.Second)})
}

// checkToken answers a token errcode for a bad token. The caller holds s.mu.
func (s *Server) checkToken(tok string) (int, string) {
	rec := s.tokens[tok]
	now := s.now()
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

// RevokeTokens invalidates every token at once, as a force_refresh by
// another party or a secret reset would.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for _, rec := range s.tokens {
		rec.validUntil = now
	}
}

// IssueCode returns a fresh wx.login code for openid: valid 5 minutes, usable once.
func (s *Server) IssueCode(openID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	code := "code_" + randomHex(12)
	s.codes[code] = &codeRec{openID: openID, expiresAt: s.now().Add(5 * time.Minute)}
	s.users[openID] = true
	return code
}

// BlockUser makes code2Session answer 40226 for openid.
func (s *Server) BlockUser(openID string) {
	s.mu.Lock()
	s.blocked[openID] = true
	s.mu.Unlock()
}

func (s *Server) handleCode2Session(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if s.injectFault(w, r, false) {
		return
	}
	if code, msg := s.checkCredentials(q.Get("appid"), q.Get("secret")); code != 0 {
		writeErr(w, code, msg)
		return
	}
	if q.Get("grant_type") != "authorization_code" {
		writeErr(w, 40002, "invalid grant_type")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts.Code2Session++
	rec := s.codes[q.Get("js_code")]
	if rec == nil || rec.used || !s.now().Before(rec.expiresAt) {
		writeErr(w, 40029, "invalid code")
		return
	}
	rec.used = true
	if s.blocked[rec.openID] {
		writeErr(w, 40226, "code blocked")
		return
	}
	writeJSON(w, map[string]any{
		"openid":      rec.openID,
		"session_key": "FAKE_SESSION_KEY_" + randomHex(8),
		"unionid":     "union_" + rec.openID,
	})
}

func (s *Server) handleGetTemplate(w http.ResponseWriter, r *http.Request) {
	if s.injectFault(w, r, false) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if code, msg := s.checkToken(r.URL.Query().Get("access_token")); code != 0 {
		writeErr(w, code, msg)
		return
	}
	s.counts.GetTemplate++
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
	data := make([]tmpl, 0, len(s.templates))
	for _, t := range s.templates {
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
