package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// overlapReceiver accepts signed posts slowly and notes any post of an
// event while another post of the same event is in flight.
type overlapReceiver struct {
	mu       sync.Mutex
	inFlight map[string]int
	got      map[string]int
	overlaps []string
	bad      int
}

func (o *overlapReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts, v1, _ := strings.Cut(strings.TrimPrefix(r.Header.Get("Reminderd-Signature"), "t="), ",v1=")
	mac := hmac.New(sha256.New, []byte(suiteWebhookSecret))
	mac.Write([]byte(ts + "." + string(body)))
	var ev struct {
		ID string `json:"id"`
	}
	if !hmac.Equal([]byte(v1), []byte(hex.EncodeToString(mac.Sum(nil)))) || json.Unmarshal(body, &ev) != nil {
		o.mu.Lock()
		o.bad++
		o.mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	o.mu.Lock()
	if o.inFlight[ev.ID] > 0 {
		o.overlaps = append(o.overlaps, ev.ID)
	}
	o.inFlight[ev.ID]++
	o.mu.Unlock()
	time.Sleep(20 * time.Millisecond) // kept: holds the post open so that a concurrent second post of it would overlap
	o.mu.Lock()
	o.inFlight[ev.ID]--
	o.got[ev.ID]++
	o.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// TestFleetWebhooks runs two processes on one PostgreSQL database, both
// dispatching the one outbox, one of them killed mid-way: every event is
// delivered, none is posted by both at once, and every recorded send has
// its reminder.sent event.
func TestFleetWebhooks(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	rc := &overlapReceiver{inFlight: map[string]int{}, got: map[string]int{}}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	const n, users = 300, 60
	f := newFleet(t, 10*time.Millisecond, "REMINDERD_WEBHOOK_URL="+hook.URL, "REMINDERD_WEBHOOK_SECRET="+suiteWebhookSecret)
	f.seed(n, users, time.Now().Add(time.Second), 2*time.Second, func(int) int { return n/users + 1 })
	f.start(0)
	f.start(1)
	time.Sleep(1500 * time.Millisecond) // kept: the kill lands while the fleet sends and posts
	f.kill(0)
	f.waitSettled(n, 2*time.Minute)
	ctx := context.Background()
	deadline := time.Now().Add(90 * time.Second)
	for {
		var open int
		if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM webhook_outbox WHERE state IN ('pending', 'failing')`).Scan(&open); err != nil {
			t.Fatal(err)
		}
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events not delivered (log %s)", open, f.logs.Name())
		}
		time.Sleep(200 * time.Millisecond) // kept: polls the database other processes write; no signal crosses the process boundary
	}
	f.stopAll()
	var sentWithout, events int
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM deliveries d WHERE d.status = 'sent' AND NOT EXISTS
		(SELECT 1 FROM webhook_outbox w WHERE w.reminder_id = d.reminder_id AND w.type = 'reminder.sent')`).Scan(&sentWithout); err != nil {
		t.Fatal(err)
	}
	if sentWithout != 0 {
		t.Fatalf("%d sent deliveries without their reminder.sent event", sentWithout)
	}
	rows, err := f.pool.Query(ctx, `SELECT id, state FROM webhook_outbox`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for rows.Next() {
		var id, st string
		if err := rows.Scan(&id, &st); err != nil {
			t.Fatal(err)
		}
		events++
		if st != "delivered" || rc.got[id] == 0 {
			t.Errorf("event %s: %s, received %d times", id, st, rc.got[id])
		}
	}
	if len(rc.overlaps) > 0 || rc.bad > 0 {
		t.Fatalf("posted twice at once: %v; bad signatures: %d", rc.overlaps, rc.bad)
	}
	if events < n {
		t.Fatalf("%d events for %d reminders", events, n)
	}
	t.Logf("%d events delivered by two processes (one killed)", events)
}
