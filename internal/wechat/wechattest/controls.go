package wechattest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// The fake's own HTTP controls, for trying the sandbox with curl: they stand
// in for what a phone would do (wx.login, the subscribe popup). Each acts on
// the account named by the query's appid (e.g. /fake/login?appid=wx…), else
// by an "appid" in the body, else on the default account.

// controlAccount is the account a control request names, or nil after
// answering 404 for an appid the fake does not serve.
func (s *Server) controlAccount(w http.ResponseWriter, r *http.Request, bodyAppID string) *Account {
	id := r.URL.Query().Get("appid")
	if id == "" {
		id = bodyAppID
	}
	if id == "" {
		return s.Account
	}
	a := s.App(id)
	if a == nil {
		http.Error(w, fmt.Sprintf("the fake WeChat serves no app %q (GET /fake/apps lists them)", id), http.StatusNotFound)
	}
	return a
}

func (s *Server) handleFakeLogin(w http.ResponseWriter, r *http.Request) {
	var req struct {
		OpenID string `json:"openid"`
		AppID  string `json:"appid"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<12)).Decode(&req); err != nil || req.OpenID == "" {
		http.Error(w, `body must be {"openid":"..."}`, http.StatusBadRequest)
		return
	}
	a := s.controlAccount(w, r, req.AppID)
	if a == nil {
		return
	}
	writeJSON(w, map[string]string{"openid": req.OpenID, "code": a.IssueCode(req.OpenID), "appid": a.appID})
}

func (s *Server) handleFakePopup(w http.ResponseWriter, r *http.Request) {
	var req struct {
		OpenID  string            `json:"openid"`
		AppID   string            `json:"appid"`
		Answers map[string]string `json:"answers"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<14)).Decode(&req); err != nil || req.OpenID == "" {
		http.Error(w, `body must be {"openid":"...","answers":{"<template id>":"accept"}}`, http.StatusBadRequest)
		return
	}
	a := s.controlAccount(w, r, req.AppID)
	if a == nil {
		return
	}
	res, err := a.Popup(r.Context(), req.OpenID, req.Answers)
	if err != nil && res == nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	writeJSON(w, res)
}

func (s *Server) handleFakeFailNextSends(w http.ResponseWriter, r *http.Request) {
	var req struct {
		N     int    `json:"n"`
		Fault string `json:"fault"`
		AppID string `json:"appid"`
	}
	const usage = `body must be {"n":1,"fault":"answer_lost|connection_reset|truncated_answer|hang|empty_answer"}`
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<12)).Decode(&req); err != nil || req.N < 1 {
		http.Error(w, usage, http.StatusBadRequest)
		return
	}
	f, err := ParseFaultAfterAccept(req.Fault)
	if err != nil || f == NoFaultAfterAccept {
		http.Error(w, usage, http.StatusBadRequest)
		return
	}
	a := s.controlAccount(w, r, req.AppID)
	if a == nil {
		return
	}
	a.FailNextSends(req.N, f)
	writeJSON(w, map[string]any{"n": req.N, "fault": f.String(), "appid": a.appID})
}

// sendJSON is an accepted send as GET /fake/sends lists it; msgid is a
// string, as a JavaScript client would lose its last digits.
type sendJSON struct {
	MsgID      string            `json:"msgid"`
	ToUser     string            `json:"touser"`
	TemplateID string            `json:"template_id"`
	Page       string            `json:"page,omitempty"`
	Data       map[string]string `json:"data"`
	At         time.Time         `json:"at"`
}

// handleFakeSends lists the sends the account accepted: what reached the
// users' phones.
func (s *Server) handleFakeSends(w http.ResponseWriter, r *http.Request) {
	a := s.controlAccount(w, r, "")
	if a == nil {
		return
	}
	out := []sendJSON{}
	for _, x := range a.Sends() {
		out = append(out, sendJSON{MsgID: strconv.FormatInt(x.MsgID, 10), ToUser: x.ToUser, TemplateID: x.TemplateID,
			Page: x.Page, Data: x.Data, At: x.At})
	}
	writeJSON(w, map[string]any{"appid": a.appID, "sends": out})
}

// handleFakeApps lists the accounts the fake serves (never their secrets).
func (s *Server) handleFakeApps(w http.ResponseWriter, _ *http.Request) {
	type app struct {
		AppID string `json:"appid"`
		Sends int    `json:"sends"`
	}
	out := []app{}
	for _, a := range s.Apps() {
		out = append(out, app{AppID: a.appID, Sends: len(a.Sends())})
	}
	writeJSON(w, map[string]any{"apps": out})
}
