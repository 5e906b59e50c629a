package api

import (
	"encoding/json"
	"net/http"

	"github.com/reminderd/reminderd/internal/store"
)

// handleConsentSettings stores what wx.getSetting({withSubscriptions:true})
// resolved with under subscriptionsSetting: the main switch and the saved
// choices by template id. Keys other than mainSwitch and itemSettings are
// ignored (WeChat may add some), and so are template ids the engine does
// not know: WeChat lists every template of the app, the engine knows the
// ones its template sync found, and a settings report is no place to
// refuse a user's choices over a template added since.
func (s *Server) handleConsentSettings(w http.ResponseWriter, r *http.Request) {
	var req map[string]json.RawMessage
	if err := decode(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	fe := fieldErrors{}
	set := store.Settings{Items: map[string]store.ConsentStatus{}}
	if raw, ok := req["mainSwitch"]; !ok || json.Unmarshal(raw, &set.MainSwitch) != nil || string(raw) == "null" {
		fe.add("mainSwitch", "required: a boolean, subscriptionsSetting.mainSwitch as wx.getSetting reports it")
	}
	if raw, ok := req["itemSettings"]; ok && string(raw) != "null" {
		var items map[string]json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			fe.add("itemSettings", "must be an object of template ids to \"accept\", \"reject\" or \"ban\"")
		}
		for _, id := range sortedIDs(items) {
			var v string
			if err := json.Unmarshal(items[id], &v); err != nil {
				fe.add("itemSettings."+id, `must be a string: "accept", "reject" or "ban"`)
				continue
			}
			st := store.ConsentStatus(v)
			if st != store.ConsentAccept && st != store.ConsentReject && st != store.ConsentBan {
				fe.add("itemSettings."+id, `must be "accept", "reject" or "ban"`)
				continue
			}
			if _, known := s.catalogFor(r.Context()).Get(id); !known {
				s.logFor(r.Context()).Info("consent setting of a template not known; ignored", "template_id", id)
				continue
			}
			set.Items[id] = st
		}
	}
	if err := fe.err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	rows, err := s.consents.SaveSettings(r.Context(), appID(r.Context()), openID(r.Context()), set, s.now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	encode(w, http.StatusOK, consentsOf(rows))
}
