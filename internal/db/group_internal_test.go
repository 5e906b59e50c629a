package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db/dbsqlc"
)

// openTest opens a database for one test of the package's internals.
func openTest(t *testing.T) *DB {
	t.Helper()
	d, err := Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestWithTxEachCommitsOnce(t *testing.T) {
	d := openTest(t)
	ctx := context.Background()
	before := d.Commits()
	errs := d.withTxEach(ctx, 5, func(i int, q *dbsqlc.Queries) error {
		return q.AddCredit(ctx, dbsqlc.AddCreditParams{Openid: fmt.Sprintf("o%d", i), TemplateID: "t", Credits: 1, Now: 1})
	})
	if errors.Join(errs...) != nil || d.Commits() != before+1 {
		t.Fatalf("errors %v, commits %d, want 1", errs, d.Commits()-before)
	}
}

func TestWithTxEachIsolatesFailures(t *testing.T) {
	d := openTest(t)
	ctx := context.Background()
	before := d.Commits()
	errs := d.withTxEach(ctx, 3, func(i int, q *dbsqlc.Queries) error {
		if err := q.AddCredit(ctx, dbsqlc.AddCreditParams{Openid: fmt.Sprintf("o%d", i), TemplateID: "t", Credits: 1, Now: 1}); err != nil {
			return err
		}
		if i == 1 {
			return errors.New("item 1 fails after writing")
		}
		return nil
	})
	// The group is rolled back and each item runs alone: two commits.
	if errs[0] != nil || errs[1] == nil || errs[2] != nil || d.Commits() != before+2 {
		t.Fatalf("errors %v, commits %d", errs, d.Commits()-before)
	}
	for i, want := range []int64{1, 0, 1} {
		c, _ := d.Read.GetConsent(ctx, dbsqlc.GetConsentParams{Openid: fmt.Sprintf("o%d", i), TemplateID: "t"})
		if c.Credits != want {
			t.Fatalf("item %d: credits %d, want %d (a failed item must roll back alone)", i, c.Credits, want)
		}
	}
}

func TestWithTxBatchIsolatesAPanic(t *testing.T) {
	d := openTest(t)
	ctx := context.Background()
	write := func(i int, q *dbsqlc.Queries) error {
		if err := q.AddCredit(ctx, dbsqlc.AddCreditParams{Openid: fmt.Sprintf("o%d", i), TemplateID: "t", Credits: 1, Now: 1}); err != nil {
			return err
		}
		if i == 1 {
			panic("bug in item 1")
		}
		return nil
	}
	errs := d.withTxEach(ctx, 3, write)
	if errs[0] != nil || errs[1] == nil || !strings.Contains(errs[1].Error(), "bug in item 1") || errs[2] != nil {
		t.Fatalf("errors %v: only item 1 may fail", errs)
	}
	for i, want := range []int64{1, 0, 1} {
		c, err := d.Read.GetConsent(ctx, dbsqlc.GetConsentParams{Openid: fmt.Sprintf("o%d", i), TemplateID: "t"})
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			t.Fatal(err)
		}
		if c.Credits != want {
			t.Fatalf("item %d: credits %d, want %d", i, c.Credits, want)
		}
	}
}

func TestPanicInAWriteLeavesTheWriterUsable(t *testing.T) {
	d := openTest(t)
	ctx := context.Background()
	mustPanic := func(f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Fatal("the panic did not reach the caller")
			}
		}()
		f()
	}
	mustPanic(func() {
		_ = d.WithTx(ctx, func(q *dbsqlc.Queries) error {
			if err := q.AddCredit(ctx, dbsqlc.AddCreditParams{Openid: "o1", TemplateID: "t", Credits: 1, Now: 1}); err != nil {
				return err
			}
			panic("bug")
		})
	})
	done := make(chan error, 1)
	go func() {
		done <- d.WithTx(ctx, func(q *dbsqlc.Queries) error {
			return q.AddCredit(ctx, dbsqlc.AddCreditParams{Openid: "o2", TemplateID: "t", Credits: 1, Now: 1})
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the writer is still inside the panicked transaction")
	}
	if c, err := d.Read.GetConsent(ctx, dbsqlc.GetConsentParams{Openid: "o1", TemplateID: "t"}); !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("the panicked transaction's write survived: %+v, %v", c, err)
	}
}
