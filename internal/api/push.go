package api

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/reminderd/reminderd/internal/db/dbsqlc"
	"io"
	"net/http"
	"time"

	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/store"
	"github.com/reminderd/reminderd/internal/wechat"
)

// pushStore is the SQLite driver itself: applyEvent writes through it, in
// one transaction with the record of the pushes applied, until applying an
// event is an operation of the store.
type pushStore = *db.DB

// pushDB is the driver behind st (nil behind another store).
func pushDB(st store.ReminderStore) pushStore {
	d, _ := st.(*db.DB)
	return d
}

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
	if s.push == nil {
		s.writeError(w, r, notFound("message push (set REMINDERD_WECHAT_PUSH_TOKEN)"))
		return
	}
	echo, err := s.push.Handshake(r.URL.Query())
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
	if s.push == nil {
		s.writeError(w, r, notFound("message push (set REMINDERD_WECHAT_PUSH_TOKEN)"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, wechat.DefaultPushMaxBody+1))
	if err != nil {
		s.pushError(w, r, wechat.ErrBodyTooLarge)
		return
	}
	err = s.push.ProcessMeta(r.URL.Query(), body, func(e *wechat.Event, m wechat.PushMeta) error { return s.applyEvent(r.Context(), e, m) })
	if db.IsFull(err) {
		err = fmt.Errorf("apply push: %w: %w", store.ErrFull, err) // as the store's operations say it
	}
	if err != nil && !errors.Is(err, wechat.ErrDuplicate) {
		s.pushError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "success")
}

// applyEvent feeds a push event into the ledger and the delivery records,
// in one transaction with the durable record of the pushes applied: the
// same message delivered again, after a restart too, adds nothing, and a
// plaintext push's signed query admits one body only.
func (s *Server) applyEvent(ctx context.Context, e *wechat.Event, m wechat.PushMeta) error {
	now := s.now()
	woken := false
	err := s.db.WithTx(ctx, func(q *dbsqlc.Queries) error {
		bodyHash := hex.EncodeToString(m.Key[:])
		if m.Plaintext {
			queryKey := "q:" + m.Timestamp + ":" + m.Nonce
			n, err := q.RememberPush(ctx, dbsqlc.RememberPushParams{Key: queryKey, BodyHash: bodyHash, Now: now.UnixMilli()})
			if err != nil {
				return err
			}
			if n == 0 {
				first, err := q.PushSeenBody(ctx, queryKey)
				if err != nil {
					return err
				}
				if first != bodyHash {
					return wechat.ErrReplayed
				}
			}
		}
		n, err := q.RememberPush(ctx, dbsqlc.RememberPushParams{Key: "m:" + bodyHash, Now: now.UnixMilli()})
		if err != nil {
			return err
		}
		if n == 0 {
			return wechat.ErrDuplicate
		}
		woken, err = s.applyEventTx(ctx, q, e, now)
		return err
	})
	if woken {
		s.engine.Wake(now)
	}
	return err
}

// applyEventTx applies a push event in q's transaction; it reports whether
// a reminder waiting out an unknown outcome is due now.
func (s *Server) applyEventTx(ctx context.Context, q *dbsqlc.Queries, e *wechat.Event, now time.Time) (woken bool, err error) {
	switch e.Event {
	case wechat.EventSubscribeMsgPopup, wechat.EventSubscribeMsgChange:
		if e.FromUserName == "" {
			// No openid to apply it to: refused as malformed (a 500 would
			// have WeChat retry it for nothing).
			s.logFor(ctx).Warn("wechat push refused: event without FromUserName", "event", e.Event)
			return false, errf(http.StatusBadRequest, "invalid_json", "push message refused: %s event without FromUserName (the user's openid)", e.Event)
		}
	}
	switch e.Event {
	case wechat.EventSubscribeMsgPopup:
		for _, it := range e.Popup {
			t, ok := s.catalog.Get(it.TemplateID)
			if !ok {
				s.logFor(ctx).Warn("popup event for an unknown template", "template_id", it.TemplateID)
				continue
			}
			var err error
			if st, _ := consentAnswer(it.SubscribeStatus); st == "accept" {
				_, err = db.RecordAcceptTx(ctx, q, e.FromUserName, t.ID, t.Kind == wechat.LongTerm, db.SourceEvent, now)
			} else {
				err = q.SetConsentStatus(ctx, dbsqlc.SetConsentStatusParams{Openid: e.FromUserName, TemplateID: t.ID,
					Status: "reject", Now: now.UnixMilli()})
			}
			if err != nil {
				return false, err
			}
		}
	case wechat.EventSubscribeMsgChange:
		for _, it := range e.Change {
			if it.SubscribeStatus != "reject" {
				continue
			}
			if err := q.ZeroConsent(ctx, dbsqlc.ZeroConsentParams{Openid: e.FromUserName, TemplateID: it.TemplateID,
				Status: "unsubscribed", Now: now.UnixMilli()}); err != nil {
				return false, err
			}
		}
	case wechat.EventSubscribeMsgSent:
		// Marking the delivery and parking an early event happen in one
		// transaction; the scheduler records an outcome and applies parked
		// events in one too, so the two cannot miss each other.
		for _, it := range e.Sent {
			delivered := int64(0)
			if it.ErrorCode == 0 {
				delivered = 1
			}
			err := func() error {
				n, err := q.MarkDelivered(ctx, dbsqlc.MarkDeliveredParams{Msgid: sqlInt(it.MsgID), Delivered: sqlInt(delivered),
					EventStatus: it.ErrorStatus})
				if err != nil {
					return err
				}
				if n > 0 {
					report := store.ReportDelivered
					if delivered == 0 {
						report = store.ReportFailed
					}
					return q.SetDeliveryByMsgid(ctx, dbsqlc.SetDeliveryByMsgidParams{Delivery: string(report), Msgid: sqlInt(it.MsgID)})
				}
				// A delivery with this msgid that took no report (not sent,
				// or reported already) is not waiting for this event.
				if known, err := q.DeliveryWithMsgid(ctx, sqlInt(it.MsgID)); err != nil || known > 0 {
					return err
				}
				// Parked with its user and template: it may be the event of
				// a send whose outcome is not recorded yet, or of one whose
				// answer was lost (unknown), which it then settles.
				if err := q.SavePendingSentEvent(ctx, dbsqlc.SavePendingSentEventParams{Msgid: it.MsgID, Delivered: delivered,
					EventStatus: it.ErrorStatus, Now: now.UnixMilli(), Openid: e.FromUserName, TemplateID: it.TemplateID}); err != nil {
					return err
				}
				n, err = q.WakeUnknownReminders(ctx, dbsqlc.WakeUnknownRemindersParams{Now: now.UnixMilli(),
					Openid: e.FromUserName, TemplateID: it.TemplateID})
				woken = woken || n > 0
				return err
			}()
			if err != nil {
				return false, err
			}
		}
	default:
		s.logFor(ctx).Info("push event ignored", "event", e.Event)
	}
	return woken, nil
}

func sqlInt(v int64) sql.NullInt64 { return sql.NullInt64{Int64: v, Valid: true} }
