package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"sort"
	"strings"

	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat"
)

type templateJSON struct {
	ID     string        `json:"id"`
	Title  string        `json:"title"`
	Kind   string        `json:"kind"`
	Fields []keywordJSON `json:"fields"`
}

type keywordJSON struct {
	Key   string   `json:"key"`
	Type  string   `json:"type"`
	Label string   `json:"label"`
	Enum  []string `json:"enum,omitempty"`
}

func (s *Server) handleListTemplates(w http.ResponseWriter, r *http.Request) {
	list := s.catalogFor(r.Context()).List()
	out := make([]templateJSON, 0, len(list))
	for _, t := range list {
		tj := templateJSON{ID: t.ID, Title: t.Title, Kind: string(t.Kind), Fields: make([]keywordJSON, 0, len(t.Keywords))}
		for _, k := range t.Keywords {
			tj.Fields = append(tj.Fields, keywordJSON{Key: k.Key, Type: k.Type, Label: k.Label, Enum: k.Enum})
		}
		out = append(out, tj)
	}
	encode(w, http.StatusOK, map[string]any{"templates": out})
}

type consentJSON struct {
	// AppID is the mini-program of the ledger's user (an openid is one
	// app's).
	AppID      string `json:"appid"`
	TemplateID string `json:"template_id"`
	Credits    int64  `json:"credits"`
	Status     string `json:"status"`
	LongTerm   bool   `json:"long_term"`
	UpdatedAt  string `json:"updated_at"`
	// Setting is the saved choice wx.getSetting last reported (null: none).
	Setting *string `json:"setting"`
	// Audio: the last accept reported was acceptWithAudio.
	Audio bool `json:"audio"`
}

type consentsResponse struct {
	Consents []consentJSON `json:"consents"`
}

type consentRequest struct {
	// Results is decoded value by value, so that a value of the wrong JSON
	// type is named by its template id (results.<id>).
	Results map[string]json.RawMessage `json:"results"`
}

// consentAnswer normalises one wx.requestSubscribeMessage result value.
func consentAnswer(v string) (store.ConsentStatus, bool) {
	switch st := store.ConsentStatus(v); {
	case strings.HasPrefix(v, "accept"):
		return store.ConsentAccept, true
	case st == store.ConsentReject, st == store.ConsentBan, st == store.ConsentFilter:
		return st, true
	}
	return "", false
}

// reportedAnswer is one template's result in a consent report.
type reportedAnswer struct {
	tmpl   *wechat.Template
	status store.ConsentStatus
	audio  bool // acceptWithAudio
}

// storeAnswers is the store's view of a report's answers.
func storeAnswers(answers []reportedAnswer) []store.Answer {
	out := make([]store.Answer, len(answers))
	for i, a := range answers {
		out[i] = store.Answer{TemplateID: a.tmpl.ID, LongTerm: a.tmpl.Kind == wechat.LongTerm, Status: a.status, Audio: a.audio}
	}
	return out
}

// handleReportConsents records what wx.requestSubscribeMessage resolved with.
func (s *Server) handleReportConsents(w http.ResponseWriter, r *http.Request) {
	var req consentRequest
	if err := decode(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	fe := fieldErrors{}
	answers := s.parseResults(r, req.Results, "results", fe)
	if _, hasErrMsg := req.Results["errMsg"]; len(req.Results) == 0 || (len(req.Results) == 1 && hasErrMsg) {
		fe.add("results", "must map at least one template id to its result")
	}
	if err := fe.err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	oid := openID(r.Context())
	if err := s.consents.Report(r.Context(), appID(r.Context()), oid, storeAnswers(answers), s.now()); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.grantInSandbox(r, oid, answers)
	s.writeConsents(w, r, oid)
}

// parseResults reads the object wx.requestSubscribeMessage resolved with
// (its errMsg key ignored); problems are added to fe under prefix.<id>.
func (s *Server) parseResults(r *http.Request, results map[string]json.RawMessage, prefix string, fe fieldErrors) []reportedAnswer {
	var answers []reportedAnswer
	for _, id := range sortedIDs(results) {
		raw := results[id]
		if id == "errMsg" {
			continue
		}
		path := prefix + "." + id
		t, ok := s.catalogFor(r.Context()).Get(id)
		if !ok {
			fe.add(path, "unknown template")
			continue
		}
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			fe.add(path, `must be a string: the result wx.requestSubscribeMessage resolved with for this template ("accept", "reject", "ban", "filter")`)
			continue
		}
		st, ok := consentAnswer(v)
		if !ok {
			// A result value WeChat may add later: record nothing for it
			// rather than refuse the accepts reported beside it.
			s.logFor(r.Context()).Info("consent result value not understood; ignored", "template_id", id, "value", v)
			continue
		}
		answers = append(answers, reportedAnswer{tmpl: t, status: st, audio: v == "acceptWithAudio"})
	}
	return answers
}

// sortedIDs returns m's keys in order: a report is applied in one order.
func sortedIDs[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// grantInSandbox gives the built-in fake WeChat, in sandbox mode, the
// accepts a report just recorded: once per accepted template of the report.
// The fake stands in for the popup the developer cannot tap; without it the
// first send would meet 43101 (user_refused), as the real WeChat answers a
// send it granted no credit for. The fake pairs a report with its own popup
// within store.PairWindow as the ledger does, so a popup played through
// /fake/popup and then reported counts once on both sides. The access log
// line of the request says what happened.
func (s *Server) grantInSandbox(r *http.Request, oid string, answers []reportedAnswer) {
	grant := s.sandboxGrant
	if app, ok := s.apps.Get(appID(r.Context())); ok && app.SandboxGrant != nil {
		grant = app.SandboxGrant
	}
	if grant == nil {
		return
	}
	var granted, paired []string
	for _, a := range answers {
		if a.status != store.ConsentAccept {
			continue
		}
		ok, err := grant(oid, a.tmpl.ID)
		switch {
		case err != nil:
			s.logFor(r.Context()).Warn("sandbox: the built-in fake WeChat refused the reported accept", "template_id", a.tmpl.ID, "error", err)
		case ok:
			granted = append(granted, a.tmpl.ID)
		default:
			paired = append(paired, a.tmpl.ID)
		}
	}
	if len(granted) > 0 {
		noteLog(r.Context(), slog.String("sandbox", "accepts granted at the built-in fake WeChat too (it stands in for the popup)"),
			slog.Any("sandbox_granted", granted))
	}
	if len(paired) > 0 {
		noteLog(r.Context(), slog.Any("sandbox_already_granted", paired))
	}
}

func (s *Server) handleListConsents(w http.ResponseWriter, r *http.Request) {
	s.writeConsents(w, r, openID(r.Context()))
}

func (s *Server) writeConsents(w http.ResponseWriter, r *http.Request, oid string) {
	rows, err := s.consents.List(r.Context(), appID(r.Context()), oid)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	encode(w, http.StatusOK, consentsOf(rows))
}

// consentsOf is the answer's shape of a user's ledger rows, each with its
// app's AppID (the ledger is per app).
func consentsOf(rows []store.Consent) consentsResponse {
	out := consentsResponse{Consents: make([]consentJSON, 0, len(rows))}
	for _, c := range rows {
		cj := consentJSON{AppID: c.AppID, TemplateID: c.TemplateID, Credits: c.Credits, Status: string(c.Status),
			LongTerm: c.LongTerm, UpdatedAt: formatUTC(c.UpdatedAt), Audio: c.Audio}
		if c.Setting != "" {
			v := string(c.Setting)
			cj.Setting = &v
		}
		out.Consents = append(out.Consents, cj)
	}
	return out
}

// handleConsentPrompt answers the plan of the caller's next consent
// request (service.Consents.Prompt).
func (s *Server) handleConsentPrompt(w http.ResponseWriter, r *http.Request) {
	plan, err := s.consents.Prompt(r.Context(), appID(r.Context()), openID(r.Context()))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	encode(w, http.StatusOK, map[string]any{"template_ids": plan.TemplateIDs, "silent": plan.Silent,
		"blocked": plan.Blocked, "main_switch": plan.MainSwitch})
}
