package api_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/api"
	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/testkit"
)

// TestRecurrenceRules: the contract's recurrence rules at creation, each
// refusal naming its field; nothing refused is stored.
func TestRecurrenceRules(t *testing.T) {
	h := newHarness(t)
	tok := h.login("oA")
	mod := func(f func(m map[string]any)) map[string]any {
		m := meeting(time.Hour) // 2026-12-01 18:00 Asia/Shanghai
		f(m)
		return m
	}
	rec := func(spec string) func(m map[string]any) { return func(m map[string]any) { m["recurrence"] = spec } }
	at := func(field, v string) func(m map[string]any) { return func(m map[string]any) { m[field] = v } }
	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
		hint  string
	}{
		{"@every 1s", mod(rec("@every 1s")), "recurrence", "@every"},
		{"@every 0s", mod(rec("@every 0s")), "recurrence", "@every"},
		{"@every -5s", mod(rec("@every -5s")), "recurrence", "@every"},
		{"@every 1ms", mod(rec("@every 1ms")), "recurrence", "@every"},
		{"@every 24h", mod(rec("@every 24h")), "recurrence", "@every"},
		{"every minute", mod(rec("* * * * *")), "recurrence", "minimum interval of 1h"},
		{"every half hour", mod(rec("0,30 * * * *")), "recurrence", "minimum interval of 1h"},
		{"unknown descriptor", mod(rec("@reboot")), "recurrence", "descriptor"},
		{"@daily at 18:00", mod(rec("@daily")), "fire_at", "not an occurrence of recurrence \"@daily\" in Asia/Shanghai; the next one after it is 2026-12-02T00:00:00+08:00"},
		{"hourly at 18:30", mod(func(m map[string]any) { m["recurrence"] = "@hourly"; m["fire_at"] = "2026-12-01T18:30:00+08:00" }), "fire_at", "not an occurrence"},
		{"occurrence in another zone", mod(func(m map[string]any) { m["recurrence"] = "0 18 * * *"; m["timezone"] = "Asia/Tokyo" }), "fire_at", "not an occurrence"},
		{"repeated 01:30, second instant", mod(func(m map[string]any) {
			m["recurrence"], m["timezone"], m["fire_at"] = "30 1 * * *", "America/New_York", "2027-11-07T01:30:00-05:00"
		}), "fire_at", "not an occurrence"},
		{"offset +24:00", mod(at("fire_at", "2026-12-02T18:00:00+24:00")), "fire_at", "±18:00"},
		{"offset +18:01", mod(at("fire_at", "2026-12-02T18:00:00+18:01")), "fire_at", "±18:00"},
		{"offset -19:00", mod(at("fire_at", "2026-12-02T18:00:00-19:00")), "fire_at", "±18:00"},
		{"offset minutes 60", mod(at("fire_at", "2026-12-02T18:00:00+17:60")), "fire_at", "±18:00"},
		{"expires_at offset +23:59", mod(at("expires_at", "2026-12-03T18:00:00+23:59")), "expires_at", "±18:00"},
		{"zone Local", mod(at("timezone", "Local")), "timezone", "IANA"},
		{"zone empty", mod(at("timezone", "")), "timezone", "IANA"},
		{"zone posix/", mod(at("timezone", "posix/Asia/Shanghai")), "timezone", "IANA"},
		{"zone right/", mod(at("timezone", "right/UTC")), "timezone", "IANA"},
		{"zone with .", mod(at("timezone", "America/./New_York")), "timezone", "IANA"},
		{"zone with ..", mod(at("timezone", "Etc/../UTC")), "timezone", "IANA"},
		{"zone absolute path", mod(at("timezone", "/usr/share/zoneinfo/UTC")), "timezone", "IANA"},
		{"zone lower case", mod(at("timezone", "asia/shanghai")), "timezone", "IANA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			r := h.do("POST", "/v1/reminders", tok, tc.body)
			h.want(r, 422, "validation_failed")
			if !strings.Contains(r.field(tc.field), tc.hint) {
				t.Fatalf("field %s: %q, want it to mention %q (%s)", tc.field, r.field(tc.field), tc.hint, r.raw)
			}
		})
	}
	h.t = t
	var n int
	if err := testkit.QueryRow(h.t, h.db, `SELECT count(*) FROM reminders`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("refused requests created %d reminders", n)
	}

	for _, tc := range []struct {
		name   string
		body   map[string]any
		fireAt string
	}{
		{"hourly", mod(rec("@hourly")), "2026-12-01T18:00:00+08:00"},
		{"daily 18:00", mod(rec("0 18 * * *")), "2026-12-01T18:00:00+08:00"},
		{"@daily at midnight", mod(func(m map[string]any) { m["recurrence"], m["fire_at"] = "@daily", "2026-12-02T00:00:00+08:00" }), "2026-12-02T00:00:00+08:00"},
		{"@annually", mod(func(m map[string]any) { m["recurrence"], m["fire_at"] = "@annually", "2027-01-01T00:00:00+08:00" }), "2027-01-01T00:00:00+08:00"},
		// The occurrence given in another offset names the same instant.
		{"occurrence in UTC", mod(func(m map[string]any) { m["recurrence"], m["fire_at"] = "0 18 * * *", "2026-12-01T10:00:00Z" }), "2026-12-01T18:00:00+08:00"},
		// 02:30 does not exist on 2027-03-14 in New York: 03:30 EDT is its occurrence.
		{"spring forward", mod(func(m map[string]any) {
			m["recurrence"], m["timezone"], m["fire_at"] = "30 2 * * *", "America/New_York", "2027-03-14T03:30:00-04:00"
		}), "2027-03-14T03:30:00-04:00"},
		{"recurrence alone: the next 00:00", map[string]any{"template_id": meetingID, "data": meetingData(), "recurrence": "@daily"}, "2026-12-02T00:00:00+08:00"},
		{"offset +18:00", mod(at("fire_at", "2026-12-02T18:00:00+18:00")), "2026-12-02T08:00:00+08:00"},
		{"offset -18:00", mod(at("fire_at", "2026-12-02T18:00:00-18:00")), "2026-12-03T20:00:00+08:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			got := h.create(tok, tc.body)
			want, _ := time.Parse(time.RFC3339, tc.fireAt)
			f, err := time.Parse(time.RFC3339, got["fire_at"].(string))
			if err != nil || !f.Equal(want) {
				t.Fatalf("fire_at %v, want %s", got["fire_at"], tc.fireAt)
			}
		})
	}
}

func TestPatchRecurringFireAt(t *testing.T) {
	h := newHarness(t)
	tok := h.login("oA")
	body := meeting(time.Hour)
	body["recurrence"] = "0 18 * * *"
	id := h.create(tok, body)["id"].(string)
	r := h.do("PATCH", "/v1/reminders/"+id, tok, map[string]any{"fire_at": "2026-12-01T18:30:00+08:00"})
	h.want(r, 422, "validation_failed")
	if !strings.Contains(r.field("fire_at"), "not an occurrence") {
		t.Fatalf("fire_at: %q", r.field("fire_at"))
	}
	r = h.do("PATCH", "/v1/reminders/"+id, tok, map[string]any{"expires_at": "2026-12-02T18:00:00+24:00"})
	h.want(r, 422, "validation_failed")
	if !strings.Contains(r.field("expires_at"), "±18:00") {
		t.Fatalf("expires_at: %q", r.field("expires_at"))
	}
	r = h.do("PATCH", "/v1/reminders/"+id, tok, map[string]any{"fire_at": "2026-12-02T18:00:00+08:00"})
	h.want(r, 200, "")
	if r.str("fire_at") != "2026-12-02T18:00:00+08:00" {
		t.Fatalf("fire_at after PATCH: %s", r.str("fire_at"))
	}
	// A one-time reminder's fire_at is free.
	one := h.create(tok, meeting(time.Hour))["id"].(string)
	h.want(h.do("PATCH", "/v1/reminders/"+one, tok, map[string]any{"fire_at": "2026-12-01T18:31:00+08:00"}), 200, "")
}

func TestMinIntervalSetting(t *testing.T) {
	h := newHarnessWith(t, db.Options{}, func(c *api.Config) { c.MinInterval = time.Minute })
	tok := h.login("oA")
	body := meeting(time.Hour)
	body["recurrence"] = "* * * * *"
	h.create(tok, body)
	body["recurrence"] = "@every 1m"
	r := h.do("POST", "/v1/reminders", tok, body)
	h.want(r, 422, "validation_failed")
}

func TestMaxScheduledPerUser(t *testing.T) {
	h := newHarnessWith(t, db.Options{}, func(c *api.Config) { c.MaxScheduledPerUser = 3 })
	tokA, tokB := h.login("oA"), h.login("oB")
	var ids []string
	for i := range 3 {
		ids = append(ids, h.create(tokA, meeting(time.Duration(i+1)*time.Hour))["id"].(string))
	}
	r := h.do("POST", "/v1/reminders", tokA, meeting(4*time.Hour))
	h.want(r, http.StatusTooManyRequests, "rate_limited")
	if msg, _ := r.body["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "at most 3 reminders") {
		t.Fatalf("message %q does not name the limit", msg)
	}
	h.create(tokB, meeting(time.Hour)) // another user's count is their own
	h.want(h.do("DELETE", "/v1/reminders/"+ids[0], tokA, nil), 200, "")
	h.create(tokA, meeting(4*time.Hour)) // a canceled one no longer counts
	h.want(h.do("POST", "/v1/reminders", tokA, meeting(5*time.Hour)), http.StatusTooManyRequests, "rate_limited")
}

// TestMaxScheduledPerUserConcurrent: creates racing each other never pass
// the limit together (the count and the insert share a write transaction).
func TestMaxScheduledPerUserConcurrent(t *testing.T) {
	const limit, tries = 5, 24
	h := newHarnessWith(t, db.Options{}, func(c *api.Config) { c.MaxScheduledPerUser = limit })
	tok := h.login("oA")
	var wg sync.WaitGroup
	codes := make([]int, tries)
	for i := range tries {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", h.srv.URL+"/v1/reminders", strings.NewReader(
				`{"template_id":"`+meetingID+`","fire_at":"`+t0.Add(time.Hour).Format(time.RFC3339)+`","data":{"thing1":"会","time2":"2026-12-01 14:00","thing3":"A"}}`))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			codes[i] = res.StatusCode
		})
	}
	wg.Wait()
	created, limited := 0, 0
	for _, c := range codes {
		switch c {
		case 201:
			created++
		case 429:
			limited++
		}
	}
	var n int
	if err := testkit.QueryRow(h.t, h.db, `SELECT count(*) FROM reminders WHERE status = 'scheduled'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if created != limit || limited != tries-limit || n != limit {
		t.Fatalf("%d created, %d limited, %d stored; want %d, %d, %d (codes %v)", created, limited, n, limit, tries-limit, limit, codes)
	}
}
