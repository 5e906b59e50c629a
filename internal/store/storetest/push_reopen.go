package storetest

import (
	"context"
	"testing"

	"github.com/reminderd/reminderd/internal/store"
)

// PushOnceAcrossReopen checks that push de-duplication survives a restart:
// a push applied, the store closed and opened again (reopen returns a new
// handle on the same database), the same push again adds nothing.
func PushOnceAcrossReopen(t *testing.T, first store.Store, closeFirst func() error, reopen func() store.Store) {
	t.Helper()
	ctx := context.Background()
	create(t, first, "a", "oA", oneTime, et0)
	create(t, first, "b", "oA", oneTime, et0)
	e := store.PushEvent{At: et0, BodyHash: "reopen-body", OpenID: "oA",
		Answers: []store.ConsentAnswer{{TemplateID: oneTime, Accept: true}}}
	if out := push(t, first, e); out.Duplicate || out.Replayed {
		t.Fatalf("first push: %+v", out)
	}
	if err := closeFirst(); err != nil {
		t.Fatal(err)
	}
	second := reopen()
	if out := push(t, second, e); !out.Duplicate {
		t.Fatalf("the same push after a restart: %+v, want Duplicate", out)
	}
	c, err := second.GetConsent(ctx, "", "oA", oneTime)
	if err != nil || c.Credits != 1 {
		t.Fatalf("credits after the push and its repeat across a restart: %+v, %v; want 1", c, err)
	}
}
