package api

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net/http"

	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat"
)

func (s *Server) pushError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, wechat.ErrBadSignature), errors.Is(err, wechat.ErrStale), errors.Is(err, wechat.ErrReplayed):
		s.logFor(r.Context()).Warn("wechat push refused", "error", err)
		s.writeError(w, r, errf(http.StatusUnauthorized, "unauthorized", "push signature or timestamp invalid"))
	case errors.Is(err, wechat.ErrBodyTooLarge):
		s.writeError(w, r, errf(http.StatusRequestEntityTooLarge, "body_too_large", "push body too large"))
	case errors.Is(err, wechat.ErrMalformed), errors.Is(err, wechat.ErrDecrypt), errors.Is(err, wechat.ErrAppIDMismatch),
		errors.Is(err, wechat.ErrSafeModeDisabled), errors.Is(err, wechat.ErrPlaintextDisabled):
		s.logFor(r.Context()).Warn("wechat push refused", "error", err)
		s.writeError(w, r, errf(http.StatusBadRequest, "invalid_json", "push message refused: %v", err))
	default:
		s.writeError(w, r, err)
	}
}

// handlePushHandshake answers the URL verification of the message-push
// configuration with echostr, verbatim.
func (s *Server) handlePushHandshake(w http.ResponseWriter, r *http.Request) {
	rcv, err := s.receiver(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	echo, err := rcv.Handshake(r.URL.Query())
	if err != nil {
		s.pushError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, echo)
}

// handlePush receives one pushed event. The event is applied to the
// database before "success" is answered; if that fails, WeChat's retry is
// processed again rather than refused as a duplicate.
func (s *Server) handlePush(w http.ResponseWriter, r *http.Request) {
	rcv, err := s.receiver(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, wechat.DefaultPushMaxBody+1))
	if err != nil {
		s.pushError(w, r, wechat.ErrBodyTooLarge)
		return
	}
	ctx := withUser(r.Context(), "", s.pushApp(r))
	err = rcv.ProcessMeta(r.URL.Query(), body, func(e *wechat.Event, m wechat.PushMeta) error { return s.applyEvent(ctx, e, m) })
	if err != nil && !errors.Is(err, wechat.ErrDuplicate) {
		s.pushError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "success")
}

// applyEvent feeds a push event into the ledger and the delivery records,
// in one transaction of the store with the durable record of the pushes
// applied: the same message delivered again, after a restart too, adds
// nothing, and a plaintext push's signed query admits one body only.
func (s *Server) applyEvent(ctx context.Context, e *wechat.Event, m wechat.PushMeta) error {
	ev, err := s.pushEvent(ctx, e, m)
	if err != nil {
		return err
	}
	applied, err := s.store.ApplyPushEvent(ctx, ev)
	switch {
	case err != nil:
		return err
	case applied.Replayed:
		return wechat.ErrReplayed
	case applied.Duplicate:
		return wechat.ErrDuplicate
	}
	if applied.Woken {
		s.engine.Wake(ev.At)
	}
	return nil
}

// pushEvent is the store's view of a push event: the answers of known
// templates, the templates turned off, the sent events.
func (s *Server) pushEvent(ctx context.Context, e *wechat.Event, m wechat.PushMeta) (store.PushEvent, error) {
	ev := store.PushEvent{At: s.now(), BodyHash: hex.EncodeToString(m.Key[:]), AppID: appID(ctx), OpenID: e.FromUserName}
	if m.Plaintext {
		ev.Query = m.Timestamp + ":" + m.Nonce
	}
	switch e.Event {
	case wechat.EventSubscribeMsgPopup, wechat.EventSubscribeMsgChange:
		if e.FromUserName == "" {
			// No openid to apply it to: refused as malformed (a 500 would
			// have WeChat retry it for nothing).
			s.logFor(ctx).Warn("wechat push refused: event without FromUserName", "event", e.Event)
			return ev, errf(http.StatusBadRequest, "invalid_json", "push message refused: %s event without FromUserName (the user's openid)", e.Event)
		}
	}
	switch e.Event {
	case wechat.EventSubscribeMsgPopup:
		for _, it := range e.Popup {
			t, ok := s.catalogFor(ctx).Get(it.TemplateID)
			if !ok {
				s.logFor(ctx).Warn("popup event for an unknown template", "template_id", it.TemplateID)
				continue
			}
			st, _ := consentAnswer(it.SubscribeStatus)
			ev.Answers = append(ev.Answers, store.ConsentAnswer{TemplateID: t.ID, LongTerm: t.Kind == wechat.LongTerm, Accept: st == "accept"})
		}
	case wechat.EventSubscribeMsgChange:
		for _, it := range e.Change {
			if it.SubscribeStatus == "reject" {
				ev.Unsubscribed = append(ev.Unsubscribed, it.TemplateID)
			}
		}
	case wechat.EventSubscribeMsgSent:
		for _, it := range e.Sent {
			ev.Sent = append(ev.Sent, store.SentEvent{MsgID: it.MsgID, Delivered: it.ErrorCode == 0, Status: it.ErrorStatus,
				TemplateID: it.TemplateID})
		}
	default:
		s.logFor(ctx).Info("push event ignored", "event", e.Event)
	}
	return ev, nil
}
