package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db"
)

const suiteWebhookSecret = "suite-webhook-secret-0123456789"

// hookReceiver is the app's backend: it verifies each post's signature
// with its own HMAC and records the events by id; it refuses everything
// while refusing is set.
type hookReceiver struct {
	mu       sync.Mutex
	refusing bool
	events   map[string]string // id → type
	posts    int
	bad      []string
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.posts++
	if h.refusing {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	sig := r.Header.Get("Reminderd-Signature")
	ts, v1, _ := strings.Cut(strings.TrimPrefix(sig, "t="), ",v1=")
	mac := hmac.New(sha256.New, []byte(suiteWebhookSecret))
	mac.Write([]byte(ts + "." + string(body)))
	if !hmac.Equal([]byte(v1), []byte(hex.EncodeToString(mac.Sum(nil)))) {
		h.bad = append(h.bad, sig)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Data struct {
			Reminder struct {
				ID string `json:"id"`
			} `json:"reminder"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" {
		h.bad = append(h.bad, string(body))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.events[ev.ID] = ev.Type + " " + ev.Data.Reminder.ID
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookReceiver) refuse(on bool) { h.mu.Lock(); h.refusing = on; h.mu.Unlock() }

// outboxRows reads the outbox: id → "type reminder_id", and the ids by
// state.
func (s *suite) outboxRows() (rows map[string]string, byState map[string]int) {
	s.t.Helper()
	d, err := db.Open(s.t.Context(), s.dbp)
	if err != nil {
		s.t.Fatal(err)
	}
	defer d.Close()
	q, err := d.R.Query(`SELECT id, type, reminder_id, state FROM webhook_outbox`)
	if err != nil {
		s.t.Fatal(err)
	}
	defer q.Close()
	rows, byState = map[string]string{}, map[string]int{}
	for q.Next() {
		var id, typ, rid, st string
		if err := q.Scan(&id, &typ, &rid, &st); err != nil {
			s.t.Fatal(err)
		}
		rows[id] = typ + " " + rid
		byState[st]++
	}
	return rows, byState
}

// TestWebhookCrashSuite kills reminderd with SIGKILL while it sends and its
// webhook receiver refuses every post: each recorded send has its
// reminder.sent event in the outbox (written in the outcome's
// transaction). After a restart with the receiver accepting, every event
// is delivered, signed, at least once, under its one id.
func TestWebhookCrashSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	const n = 200
	s := newSuite(t, 30*time.Millisecond)
	s.seed(n)
	rc := &hookReceiver{events: map[string]string{}, refusing: true}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	env := []string{"REMINDERD_WEBHOOK_URL=" + hook.URL, "REMINDERD_WEBHOOK_SECRET=" + suiteWebhookSecret}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	for c := range 3 {
		cmd, _ := s.serve(env...)
		time.Sleep(time.Duration(150+rng.IntN(400)) * time.Millisecond) // kept: the random kill moment is the point of the test
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		checkOutboxHasEverySend(t, s, n)
		_, byState := s.outboxRows()
		t.Logf("cycle %d: killed with %v; outbox %v", c+1, s.tally().byStatus, byState)
	}
	rc.refuse(false)
	cmd, _ := s.serve(env...)
	s.waitTerminal(n, 2*time.Minute)
	// The refused posts are retried after 30 s at the latest.
	deadline := time.Now().Add(90 * time.Second)
	for {
		_, byState := s.outboxRows()
		if byState["pending"]+byState["failing"] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox not drained: %v (log %s)", byState, s.logs.Name())
		}
		time.Sleep(200 * time.Millisecond) // kept: polls another process's database; no signal crosses the process boundary
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	checkOutboxHasEverySend(t, s, n)
	rows, byState := s.outboxRows()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bad) > 0 {
		t.Fatalf("posts with a bad signature or body: %v", rc.bad)
	}
	for id, what := range rows {
		if got, ok := rc.events[id]; !ok || got != what {
			t.Errorf("event %s (%s) not received as such: %q", id, what, got)
		}
	}
	if byState["delivered"] != len(rows) {
		t.Fatalf("outbox %v; want every event delivered", byState)
	}
	t.Logf("%d events delivered, %d posts (refusals and retries included)", len(rows), rc.posts)
}

// checkOutboxHasEverySend: every sent delivery row has its reminder.sent
// event, and no event names a send that was not recorded.
func checkOutboxHasEverySend(t *testing.T, s *suite, n int) {
	t.Helper()
	tl := s.tally()
	rows, _ := s.outboxRows()
	events := map[string]int{}
	for _, what := range rows {
		if typ, rid, _ := strings.Cut(what, " "); typ == "reminder.sent" {
			events[rid]++
		}
	}
	for i := range n {
		id := fmt.Sprintf("rem_crash_%04d", i)
		if tl.sentRows[id] > 0 && events[id] == 0 {
			t.Errorf("%s is recorded sent without its reminder.sent event", id)
		}
		if events[id] > 0 && tl.sentRows[id] == 0 {
			t.Errorf("%s has a reminder.sent event and no sent delivery", id)
		}
	}
}
