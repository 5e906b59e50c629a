package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/reminderd/reminderd/internal/db"
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
	list := s.catalog.List()
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
	Results map[string]string `json:"results"`
}

// consentAnswer normalises one wx.requestSubscribeMessage result value.
func consentAnswer(v string) (string, bool) {
	switch {
	case strings.HasPrefix(v, "accept"):
		return "accept", true
	case v == "reject", v == "ban", v == "filter":
		return v, true
	}
	return "", false
}

// handleReportConsents records what wx.requestSubscribeMessage resolved with.
func (s *Server) handleReportConsents(w http.ResponseWriter, r *http.Request) {
	var req consentRequest
	if err := decode(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	fe := fieldErrors{}
	type answer struct {
		tmpl   *wechat.Template
		status string
	}
	var answers []answer
	for id, v := range req.Results {
		if id == "errMsg" {
			continue
		}
		path := "results." + id
		t, ok := s.catalog.Get(id)
		if !ok {
			fe.add(path, "unknown template")
			continue
		}
		st, ok := consentAnswer(v)
		if !ok {
			// A result value WeChat may add later: record nothing for it
			// rather than refuse the accepts reported beside it.
			s.log.Info("consent result value not understood; ignored", "template_id", id, "value", v)
			continue
		}
		answers = append(answers, answer{t, st})
	}
	if len(req.Results) == 0 || (len(req.Results) == 1 && req.Results["errMsg"] != "") {
		fe.add("results", "must map at least one template id to its result")
	}
	if err := fe.err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	oid := openID(r.Context())
	now := s.now()
	for _, a := range answers {
		var err error
		if a.status == "accept" {
			_, err = s.db.RecordAccept(r.Context(), oid, a.tmpl.ID, a.tmpl.Kind == wechat.LongTerm, db.SourceClient, now)
		} else {
			err = s.db.Write.SetConsentStatus(r.Context(), db.SetConsentStatusParams{
				Openid: oid, TemplateID: a.tmpl.ID, Status: a.status, Now: now.UnixMilli()})
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	s.writeConsents(w, r, oid)
}

func (s *Server) handleListConsents(w http.ResponseWriter, r *http.Request) {
	s.writeConsents(w, r, openID(r.Context()))
}

func (s *Server) writeConsents(w http.ResponseWriter, r *http.Request, oid string) {
	rows, err := s.db.Read.ListConsents(r.Context(), oid)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := consentsResponse{Consents: make([]consentJSON, 0, len(rows))}
	for _, c := range rows {
		out.Consents = append(out.Consents, consentJSON{TemplateID: c.TemplateID, Credits: c.Credits, Status: c.Status,
			LongTerm: c.LongTerm == 1, UpdatedAt: s.formatTime(c.UpdatedAt, time.UTC)})
	}
	encode(w, http.StatusOK, out)
}

// maxPromptIDs is how many template ids one wx.requestSubscribeMessage call
// may ask for (WeChat's documented limit is 3; newer docs say 5).
const maxPromptIDs = 3

// handleConsentPrompt plans the next consent request: the templates the
// caller's pending reminders lack credit for, most urgent first, all of one
// kind (WeChat refuses one-time and long-term ids in one call).
func (s *Server) handleConsentPrompt(w http.ResponseWriter, r *http.Request) {
	oid := openID(r.Context())
	ctx := r.Context()
	pending, err := s.db.Read.ListScheduledForPrompt(ctx, db.ListScheduledForPromptParams{Openid: oid, MaxRows: 5000})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	consents, err := s.db.Read.ListConsents(ctx, oid)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	type have struct {
		credits  int64
		longTerm bool
	}
	held := map[string]have{}
	for _, c := range consents {
		held[c.TemplateID] = have{c.Credits, c.LongTerm == 1}
	}
	needed := map[string]int64{}
	picked := map[string]bool{}
	ids := []string{}
	var kind wechat.TemplateKind
	for _, p := range pending {
		t, ok := s.catalog.Get(p.TemplateID)
		if !ok || picked[p.TemplateID] {
			continue
		}
		h := held[p.TemplateID]
		if t.Kind == wechat.LongTerm && h.longTerm {
			continue
		}
		needed[p.TemplateID]++
		if t.Kind == wechat.LongTerm || needed[p.TemplateID] > h.credits {
			if kind == "" {
				kind = t.Kind
			}
			if t.Kind != kind {
				continue
			}
			picked[p.TemplateID] = true
			ids = append(ids, p.TemplateID)
			if len(ids) == maxPromptIDs {
				break
			}
		}
	}
	encode(w, http.StatusOK, map[string]any{"template_ids": ids})
}
