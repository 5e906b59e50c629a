package wechattest

import (
	"encoding/json"
	"io"
	"net/http"
)

// The fake's own HTTP controls, for trying the sandbox with curl: they stand
// in for what a phone would do (wx.login, the subscribe popup).

func (s *Server) handleFakeLogin(w http.ResponseWriter, r *http.Request) {
	var req struct {
		OpenID string `json:"openid"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<12)).Decode(&req); err != nil || req.OpenID == "" {
		http.Error(w, `body must be {"openid":"..."}`, http.StatusBadRequest)
		return
	}
	writeJSON(w, map[string]string{"openid": req.OpenID, "code": s.IssueCode(req.OpenID)})
}

func (s *Server) handleFakePopup(w http.ResponseWriter, r *http.Request) {
	var req struct {
		OpenID  string            `json:"openid"`
		Answers map[string]string `json:"answers"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<14)).Decode(&req); err != nil || req.OpenID == "" {
		http.Error(w, `body must be {"openid":"...","answers":{"<template id>":"accept"}}`, http.StatusBadRequest)
		return
	}
	res, err := s.Popup(r.Context(), req.OpenID, req.Answers)
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
	s.FailNextSends(req.N, f)
	writeJSON(w, map[string]any{"n": req.N, "fault": f.String()})
}
