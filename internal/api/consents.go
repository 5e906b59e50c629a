package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
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
}

// handleReportConsents records what wx.requestSubscribeMessage resolved with.
func (s *Server) handleReportConsents(w http.ResponseWriter, r *http.Request) {
	var req consentRequest
	if err := decode(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	fe := fieldErrors{}
	var answers []reportedAnswer
	for id, raw := range req.Results {
		if id == "errMsg" {
			continue
		}
		path := "results." + id
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
		answers = append(answers, reportedAnswer{t, st})
	}
	if _, hasErrMsg := req.Results["errMsg"]; len(req.Results) == 0 || (len(req.Results) == 1 && hasErrMsg) {
		fe.add("results", "must map at least one template id to its result")
	}
	if err := fe.err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	oid := openID(r.Context())
	now := s.now()
	for _, a := range answers {
		if err := s.consents.Report(r.Context(), oid, a.tmpl, a.status, now); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	s.grantInSandbox(r, oid, answers)
	s.writeConsents(w, r, oid)
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
	rows, err := s.consents.List(r.Context(), oid)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := consentsResponse{Consents: make([]consentJSON, 0, len(rows))}
	for _, c := range rows {
		out.Consents = append(out.Consents, consentJSON{AppID: appID(r.Context()), TemplateID: c.TemplateID, Credits: c.Credits, Status: string(c.Status),
			LongTerm: c.LongTerm, UpdatedAt: formatUTC(c.UpdatedAt)})
	}
	encode(w, http.StatusOK, out)
}

// handleConsentPrompt answers the plan of the caller's next consent
// request (service.Consents.Prompt).
func (s *Server) handleConsentPrompt(w http.ResponseWriter, r *http.Request) {
	ids, err := s.consents.Prompt(r.Context(), openID(r.Context()))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	encode(w, http.StatusOK, map[string]any{"template_ids": ids})
}
