package api

import (
	"context"
	"net/http"

	"github.com/reminderd/reminderd/internal/store"
)

// InstanceLister is what GET /admin/v1/instances asks of the Engine (a
// *scheduler.Engine does it): the live processes of the fleet on the
// database, the leader flagged. An Engine without it lists none.
type InstanceLister interface {
	Instances(ctx context.Context) ([]store.Instance, error)
}

type instanceJSON struct {
	ID         string `json:"id"`
	Host       string `json:"host"`
	StartedAt  string `json:"started_at"`
	LastSeenAt string `json:"last_seen_at"`
	Leader     bool   `json:"leader"`
}

func (s *Server) handleAdminInstances(w http.ResponseWriter, r *http.Request) {
	var list []store.Instance
	if l, ok := s.engine.(InstanceLister); ok {
		var err error
		if list, err = l.Instances(r.Context()); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	out := make([]instanceJSON, 0, len(list))
	for _, in := range list {
		out = append(out, instanceJSON{ID: in.ID, Host: in.Host, StartedAt: formatUTC(in.StartedAt),
			LastSeenAt: formatUTC(in.LastSeenAt), Leader: in.Leader})
	}
	encode(w, http.StatusOK, map[string]any{"instances": out})
}

// webFleet is the admin page's line on the fleet: how many processes are
// live and which leads ("—" when unknown).
func (s *Server) webFleet(r *http.Request, l lang) string {
	lister, ok := s.engine.(InstanceLister)
	if !ok {
		return "—"
	}
	list, err := lister.Instances(r.Context())
	if err != nil {
		s.log.Warn("admin page: list the instances", "error", err)
		return "—"
	}
	leader := l.T("engine.fleet.noleader")
	for _, in := range list {
		if in.Leader {
			leader = in.Host + " (" + in.ID + ")"
		}
	}
	return l.F("engine.fleet.n", len(list), leader)
}
