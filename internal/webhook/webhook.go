// Package webhook posts the events of the durable outbox (store.WebhookStore)
// to the app's webhook URL, signed, at least once: a Dispatcher leases due
// rows, renders each body once (kept, so that every retry posts the same
// bytes), posts it with Reminderd-Signature, and records the result:
// delivered on a 2xx, else a retry after 30 s, doubling up to 1 h, until a
// day has passed since the event, then dead (kept, visible, retried by an
// admin). docs/webhooks.md is the receiver's side.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// The retry schedule.
const (
	// FirstRetry is the delay after the first failed post.
	FirstRetry = 30 * time.Second
	// MaxRetry caps the doubling delay.
	MaxRetry = time.Hour
	// GiveUpAfter is how long after its event a failing row keeps being
	// retried: the first failure at or after it is dead.
	GiveUpAfter = 24 * time.Hour
	// Timeout bounds one post.
	Timeout = 10 * time.Second
	// Batch bounds the rows one claim takes (posted concurrently).
	Batch = 16
)

// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256>".
const SignatureHeader = "Reminderd-Signature"

// Target is where an app's events go.
type Target struct {
	URL    string
	Secret string
}

// Targets maps an app to its webhook target: each app's of the apps file
// (internal/app), or one for every app (Static).
type Targets interface {
	Target(appID string) (Target, bool)
}

// Static is the target of every app: the single-app settings
// (REMINDERD_WEBHOOK_URL, REMINDERD_WEBHOOK_SECRET).
type Static Target

// Target implements Targets.
func (s Static) Target(string) (Target, bool) { return Target(s), s.URL != "" }

// Renderer renders the data.reminder of a reminder event: the reminder
// object of the API, as it is when the event is first posted.
type Renderer func(ctx context.Context, reminderID string) (json.RawMessage, error)

// Config wires a Dispatcher. Store, Targets and Owner are required.
type Config struct {
	Store   store.WebhookStore
	Targets Targets
	// Owner names this process in the outbox's leases.
	Owner  string
	Render Renderer
	// Client posts (default: an http.Client with Timeout).
	Client *http.Client
	// Timeout bounds one post (default Timeout, 10 s).
	Timeout time.Duration
	Now     func() time.Time
	// Every is the period of the outbox scan (default 1 s).
	Every time.Duration
	// Observe is told of every post: its event's app, type and result
	// (delivered, failed, dead).
	Observe func(appID, typ, result string)
	Logger  *slog.Logger
}

// Dispatcher posts the outbox's due rows.
type Dispatcher struct {
	cfg  Config
	wake chan struct{}
}

// New returns a Dispatcher.
func New(cfg Config) *Dispatcher {
	if cfg.Timeout <= 0 {
		cfg.Timeout = Timeout
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Every <= 0 {
		cfg.Every = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Observe == nil {
		cfg.Observe = func(string, string, string) {}
	}
	return &Dispatcher{cfg: cfg, wake: make(chan struct{}, 1)}
}

// Wake asks for a scan now (an admin's retry).
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run scans the outbox every cfg.Every (or when woken) until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	t := time.NewTicker(d.cfg.Every)
	defer t.Stop()
	for {
		for {
			n, err := d.RunOnce(ctx)
			if err != nil && ctx.Err() == nil {
				d.cfg.Logger.Warn("webhook outbox", "error", err)
			}
			if n < Batch || ctx.Err() != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.wake:
		}
	}
}

// RunOnce claims the rows due now, posts them concurrently and records
// each result; it returns how many it claimed.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	now := d.cfg.Now()
	rows, err := d.cfg.Store.ClaimWebhooks(ctx, now, d.cfg.Owner, now.Add(3*d.cfg.Timeout), Batch)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(rows))
	for i, w := range rows {
		wg.Go(func() { errs[i] = d.deliver(ctx, w) })
	}
	wg.Wait()
	return len(rows), errors.Join(errs...)
}

// deliver posts one row and records the result.
func (d *Dispatcher) deliver(ctx context.Context, w store.Webhook) error {
	body := w.Body
	var status int
	var perr error
	if body == "" {
		// A body that cannot be rendered (its reminder unreadable) is a
		// failed attempt like any other: retried on the schedule, dead
		// after a day, never claimed again and again without a count.
		b, err := d.render(ctx, w)
		if err != nil {
			perr = fmt.Errorf("render the body: %w", err)
		}
		body = string(b)
	}
	res := store.WebhookResult{ID: w.ID, Owner: d.cfg.Owner, Body: body}
	target, ok := d.cfg.Targets.Target(w.AppID)
	switch {
	case perr != nil:
	case !ok:
		perr = fmt.Errorf("no webhook URL is configured for app %s", w.AppID)
	default:
		status, perr = d.post(ctx, target, body)
	}
	res.At = d.cfg.Now()
	res.LastStatus = int64(status)
	if perr == nil {
		res.State = store.WebhookDelivered
	} else {
		res.LastError = perr.Error()
		res.State, res.NextAt = NextAttempt(w, res.At)
	}
	result := map[store.WebhookState]string{store.WebhookDelivered: "delivered", store.WebhookFailing: "failed",
		store.WebhookDead: "dead"}[res.State]
	d.cfg.Observe(w.AppID, w.Type, result)
	if perr != nil {
		d.cfg.Logger.Warn("webhook post failed", "webhook_id", w.ID, "type", w.Type, "attempt", w.Attempts+1,
			"status", status, "error", perr, "state", res.State)
	}
	// Recorded whatever ctx says: a post that went out is not forgotten.
	if err := d.cfg.Store.FinishWebhook(context.WithoutCancel(ctx), res); err != nil {
		return fmt.Errorf("webhook %s: record: %w", w.ID, err)
	}
	return nil
}

// NextAttempt is what a failed post of w at now leads to: failing with the
// next attempt after 30 s·2^(attempts), capped at 1 h, or dead once a day
// has passed since the event.
func NextAttempt(w store.Webhook, now time.Time) (store.WebhookState, time.Time) {
	if now.Sub(w.CreatedAt) >= GiveUpAfter {
		return store.WebhookDead, now
	}
	return store.WebhookFailing, now.Add(Backoff(w.Attempts + 1))
}

// Backoff is the delay after the n-th failed post (n ≥ 1).
func Backoff(n int64) time.Duration {
	d := FirstRetry
	for i := int64(1); i < n && d < MaxRetry; i++ {
		d *= 2
	}
	return min(d, MaxRetry)
}

// post sends body, signed at this instant; a non-2xx answer or no answer
// is an error.
func (d *Dispatcher) post(ctx context.Context, t Target, body string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader([]byte(body)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "reminderd-webhooks")
	req.Header.Set(SignatureHeader, Sign(t.Secret, d.cfg.Now(), []byte(body)))
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		// Not the *url.Error itself: it quotes the URL, whose query may
		// hold a secret, into logs and the admin's view.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, fmt.Errorf("post: no answer within %v", d.cfg.Timeout)
		}
		return 0, fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}

// Sign is the Reminderd-Signature of body at t: t=<unix seconds>,
// v1=<hex HMAC-SHA256(secret, "<t>.<body>")>.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// event is the body of a post.
type event struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt string          `json:"created_at"`
	AppID     string          `json:"appid"`
	Data      json.RawMessage `json:"data"`
}

// render builds w's body: its payload, with data.reminder rendered now
// for a reminder event.
func (d *Dispatcher) render(ctx context.Context, w store.Webhook) ([]byte, error) {
	var data map[string]json.RawMessage
	if err := json.Unmarshal([]byte(w.Payload), &data); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	if w.ReminderID != "" && d.cfg.Render != nil {
		r, err := d.cfg.Render(ctx, w.ReminderID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			// Deleted since: the event still says what happened to it.
			data["reminder"] = json.RawMessage(`{"id":` + strconv.Quote(w.ReminderID) + `}`)
		case err != nil:
			return nil, err
		default:
			data["reminder"] = r
		}
	}
	b, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	return json.Marshal(event{ID: w.ID, Type: w.Type, CreatedAt: w.CreatedAt.UTC().Format("2006-01-02T15:04:05.999Z07:00"),
		AppID: w.AppID, Data: b})
}
