package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/store"
)

// A pause round-trips (an indefinite one too), a second SetPause replaces
// it, and ClearPause ends it.
func testPause(t *testing.T, s store.EngineStore) {
	ctx := context.Background()
	if _, err := s.Pause(ctx, "quota"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no pause yet: %v, want ErrNotFound", err)
	}
	for _, p := range []store.Pause{
		{Name: "quota", Until: et0.Add(15 * time.Hour), Reason: "daily quota reached", Since: et0},
		{Name: "quota", Until: et0.Add(16 * time.Hour), Reason: "again", Since: et0.Add(time.Minute)},
		{Name: "admin", Until: store.PauseIndefinite, Reason: "维护", Since: et0.Add(time.Second)},
	} {
		if err := s.SetPause(ctx, p); err != nil {
			t.Fatal(err)
		}
		got, err := s.Pause(ctx, p.Name)
		if err != nil || got.Name != p.Name || !got.Until.Equal(p.Until) || got.Reason != p.Reason || !got.Since.Equal(p.Since) {
			t.Fatalf("pause %+v read back as %+v, %v", p, got, err)
		}
	}
	if err := s.ClearPause(ctx, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pause(ctx, "admin"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cleared pause: %v, want ErrNotFound", err)
	}
	if p, err := s.Pause(ctx, "quota"); err != nil || p.Reason != "again" {
		t.Fatalf("the other pause: %+v, %v", p, err)
	}
	if err := s.ClearPause(ctx, "admin"); err != nil {
		t.Fatalf("clearing no pause: %v", err)
	}
}

// A push message is applied once: the same body again is a duplicate, and
// a plaintext push's query admits one body only; neither writes anything.
func testPushOnce(t *testing.T, s store.EngineStore) {
	create(t, s, "a", "oA", oneTime, et0)
	create(t, s, "b", "oA", oneTime, et0.Add(time.Millisecond))
	create(t, s, "c", "oA", oneTime, et0.Add(2*time.Millisecond))
	answer := []store.ConsentAnswer{{TemplateID: oneTime, Accept: true}}
	first := store.PushEvent{At: et0, BodyHash: "aa", OpenID: "oA", Answers: answer}
	if out := push(t, s, first); out.Duplicate || out.Replayed {
		t.Fatalf("first push: %+v", out)
	}
	if out := push(t, s, first); !out.Duplicate {
		t.Fatalf("the same body again: %+v, want Duplicate", out)
	}
	plain := store.PushEvent{At: et0, BodyHash: "bb", Query: "1733043600:nonce", OpenID: "oA", Answers: answer}
	if out := push(t, s, plain); out.Duplicate || out.Replayed {
		t.Fatalf("plaintext push: %+v", out)
	}
	replay := plain
	replay.BodyHash = "cc"
	if out := push(t, s, replay); !out.Replayed {
		t.Fatalf("the query with another body: %+v, want Replayed", out)
	}
	if out := push(t, s, plain); !out.Duplicate {
		t.Fatalf("the plaintext push again: %+v, want Duplicate", out)
	}
	// Two accepts counted (the first and the plaintext one), not four.
	cs := claimAt(t, s, "w", et0.Add(time.Second), 10)
	if !byID(t, cs, "a").Covered || !byID(t, cs, "b").Covered || byID(t, cs, "c").Covered {
		t.Fatalf("covered: a %v, b %v, c %v; want two credits", byID(t, cs, "a").Covered, byID(t, cs, "b").Covered, byID(t, cs, "c").Covered)
	}
}

// Consent changes from push: a reject keeps the credits, an unsubscribe
// empties the ledger, and a claim's credit is not given back into a ledger
// emptied after the claim; a sent event for a recorded delivery marks it
// and is not parked.
func testPushConsent(t *testing.T, s store.EngineStore) {
	ctx := context.Background()
	create(t, s, "a", "oA", oneTime, et0)
	accept(t, s, "oA", oneTime, et0.Add(-time.Hour))
	push(t, s, store.PushEvent{At: et0.Add(-time.Minute), OpenID: "oA", Answers: []store.ConsentAnswer{{TemplateID: oneTime}}})
	a := claimAt(t, s, "w", et0, 10)
	if len(a) != 1 || !a[0].Covered {
		t.Fatalf("after a reject: %+v; want the credit kept", a)
	}
	push(t, s, store.PushEvent{At: et0.Add(time.Second), OpenID: "oA", Unsubscribed: []string{oneTime}})
	record(t, s, deferred(a[0], et0.Add(2*time.Second), et0.Add(3*time.Second)))
	again := claimAt(t, s, "w", et0.Add(3*time.Second), 10)
	if len(again) != 1 || again[0].Covered {
		t.Fatalf("after the unsubscribe: %+v; want the refund not to resurrect the credit", again)
	}
	accept(t, s, "oA", longTerm, et0)
	create(t, s, "l", "oA", longTerm, et0)
	l := claimAt(t, s, "w", et0.Add(4*time.Second), 10)[0]
	record(t, s, sent(l, et0.Add(5*time.Second), 50))
	if out := sentEvent(t, s, "oA", longTerm, 50, et0.Add(6*time.Second)); out.Woken {
		t.Fatalf("sent event of a recorded send: %+v", out)
	}
	if _, err := s.PendingSentEvent(ctx, "", "oA", longTerm, et0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the event of a recorded send was parked: %v", err)
	}
	push(t, s, store.PushEvent{At: et0.Add(7 * time.Second), OpenID: "oA", Unsubscribed: []string{longTerm}})
	create(t, s, "l2", "oA", longTerm, et0)
	if cs := claimAt(t, s, "w", et0.Add(8*time.Second), 10); len(cs) != 1 || cs[0].Covered {
		t.Fatalf("after unsubscribing the long-term template: %+v", cs)
	}
}

// Retain deletes what is older than its cutoffs and keeps the rest.
func testRetain(t *testing.T, s store.EngineStore) {
	ctx := context.Background()
	create(t, s, "old", "oA", longTerm, et0)
	accept(t, s, "oA", longTerm, et0)
	record(t, s, sent(claimAt(t, s, "w", et0, 10)[0], et0.Add(time.Second), 1))
	create(t, s, "new", "oA", longTerm, et0.Add(time.Hour))
	record(t, s, sent(claimAt(t, s, "w", et0.Add(time.Hour), 10)[0], et0.Add(time.Hour), 2))
	sentEvent(t, s, "oB", oneTime, 99, et0)
	push(t, s, store.PushEvent{At: et0, BodyHash: "seen", OpenID: "oB"})
	if err := s.Retain(ctx, store.Retention{}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.OccurrenceSent(ctx, "old", et0); !ok {
		t.Fatal("zero cutoffs deleted a delivery")
	}
	cut := et0.Add(time.Minute)
	if err := s.Retain(ctx, store.Retention{Sessions: cut, Grants: cut, Deliveries: cut, SentEvents: cut, Pushes: cut}); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.OccurrenceSent(ctx, "old", et0); err != nil || ok {
		t.Errorf("the old delivery was kept: %v, %v", ok, err)
	}
	if ok, err := s.OccurrenceSent(ctx, "new", et0.Add(time.Hour)); err != nil || !ok {
		t.Errorf("the new delivery was deleted: %v, %v", ok, err)
	}
	if _, err := s.PendingSentEvent(ctx, "", "oB", oneTime, time.Time{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the old parked event was kept: %v", err)
	}
	if out := push(t, s, store.PushEvent{At: cut, BodyHash: "seen", OpenID: "oB"}); out.Duplicate {
		t.Error("the old record of a push applied was kept")
	}
}

// Templates round-trip in the sync's order; a sync replaces the list.
func testTemplates(t *testing.T, s store.EngineStore) {
	ctx := context.Background()
	if list, err := s.Templates(ctx); err != nil || len(list) != 0 {
		t.Fatalf("no sync yet: %+v, %v", list, err)
	}
	a := store.Template{ID: "tpl_b", Title: "会议提醒", Kind: store.KindOneTime, Content: "{{thing1.DATA}}",
		Keywords: []store.Keyword{{Key: "thing1", Type: "thing", Label: "会议名称"}, {Key: "phrase2", Type: "phrase", Label: "状态",
			Enum: []string{"进行中", "已结束"}}}}
	b := store.Template{ID: "tpl_a", Title: "就诊", Kind: store.KindLongTerm, Content: "x",
		Keywords: []store.Keyword{{Key: "time1", Type: "time", Label: "时间"}}}
	if err := s.SyncTemplates(ctx, []store.Template{a, b}, et0); err != nil {
		t.Fatal(err)
	}
	if list, err := s.Templates(ctx); err != nil || !reflect.DeepEqual(list, []store.Template{a, b}) {
		t.Fatalf("templates %+v, %v; want %+v", list, err, []store.Template{a, b})
	}
	b.Title = "就诊提醒"
	if err := s.SyncTemplates(ctx, []store.Template{b}, et0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if list, err := s.Templates(ctx); err != nil || !reflect.DeepEqual(list, []store.Template{b}) {
		t.Fatalf("after the second sync: %+v, %v; want %+v", list, err, []store.Template{b})
	}
}

// The access token round-trips; a save replaces it.
func testToken(t *testing.T, s store.EngineStore) {
	ctx := context.Background()
	if _, err := s.LoadToken(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no token yet: %v, want ErrNotFound", err)
	}
	for _, tok := range []store.Token{{Value: "tok-1", ExpiresAt: et0.Add(2 * time.Hour)}, {Value: "tok-2", ExpiresAt: et0.Add(4 * time.Hour)}} {
		if err := s.SaveToken(ctx, tok, et0); err != nil {
			t.Fatal(err)
		}
		if got, err := s.LoadToken(ctx); err != nil || got.Value != tok.Value || !got.ExpiresAt.Equal(tok.ExpiresAt) {
			t.Fatalf("token %+v read back as %+v, %v", tok, got, err)
		}
	}
}
