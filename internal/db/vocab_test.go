package db_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/reminderd/reminderd/internal/store"
)

// schemaCheck returns the values of the CHECK (column IN (…)) on table's
// column in schema.sql, in their order.
func schemaCheck(t *testing.T, table, column string) []string {
	t.Helper()
	src, err := os.ReadFile("../../schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	i := strings.Index(s, "CREATE TABLE "+table+" (")
	if i < 0 {
		t.Fatalf("schema.sql has no table %s", table)
	}
	body := s[i:]
	body = body[:strings.Index(body, ") STRICT;")]
	m := regexp.MustCompile(`(?s)(?:\n\s+|,\s*)` + column + `\s[^\n]*?CHECK \(` + column + ` IN \(([^)]*)\)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("schema.sql: no CHECK on %s.%s", table, column)
	}
	var out []string
	for _, v := range regexp.MustCompile(`'([^']*)'`).FindAllStringSubmatch(m[1], -1) {
		out = append(out, v[1])
	}
	return out
}

// The typed vocabulary is the schema's: the same values, in the same order.
func TestVocabularyIsTheSchemas(t *testing.T) {
	for _, c := range []struct {
		table, column string
		want          []string
	}{
		{"reminders", "status", store.Strings(store.Statuses())},
		{"reminders", "reason", store.Strings(store.Reasons())},
		{"deliveries", "status", store.Strings(store.DeliveryStatuses())},
		{"reminders", "delivery", append([]string{""}, store.Strings(store.Reports())...)},
		{"consents", "status", store.Strings(store.ConsentStatuses())},
	} {
		if got := schemaCheck(t, c.table, c.column); !slices.Equal(got, c.want) {
			t.Errorf("%s.%s: the schema lists %q, internal/db %q", c.table, c.column, got, c.want)
		}
	}
}

// Permanent reasons are the ones docs/api.md names for the bulk retry.
func TestPermanentReasons(t *testing.T) {
	var got []string
	for _, r := range store.Reasons() {
		if r.Permanent() {
			got = append(got, string(r))
		}
	}
	slices.Sort(got)
	want := []string{"banned", "content_rejected", "invalid_data", "openid_invalid", "page_invalid", "template_invalid"}
	if !slices.Equal(got, want) {
		t.Fatalf("permanent reasons %v, want %v", got, want)
	}
}
