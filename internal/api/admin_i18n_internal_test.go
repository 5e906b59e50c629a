package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
)

// schemaCheck returns the values of the CHECK (column IN (…)) of table's
// column in schema.sql: the database's own vocabulary.
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
	m := regexp.MustCompile(`(?s)\n\s+` + column + `\s[^\n]*?CHECK \(` + column + ` IN \(([^)]*)\)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("schema.sql: no CHECK on %s.%s", table, column)
	}
	var out []string
	for _, v := range regexp.MustCompile(`'([^']*)'`).FindAllStringSubmatch(m[1], -1) {
		out = append(out, v[1])
	}
	if len(out) < 3 {
		t.Fatalf("schema.sql: %s.%s lists only %v", table, column, out)
	}
	return out
}

// wechatCodes returns the errcode constants of internal/wechat/errors.go.
func wechatCodes(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../wechat/errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Values) != 1 || !strings.HasPrefix(vs.Names[0].Name, "Code") {
			return true
		}
		switch v := vs.Values[0].(type) {
		case *ast.BasicLit:
			out = append(out, v.Value)
		case *ast.UnaryExpr:
			if b, ok := v.X.(*ast.BasicLit); ok && v.Op == token.SUB {
				out = append(out, "-"+b.Value)
			}
		}
		return true
	})
	if len(out) < 10 {
		t.Fatalf("found only %d errcode constants: %v", len(out), out)
	}
	return out
}

// Every value the code knows has a sentence in both languages.
func TestAdminTextsCoverTheVocabulary(t *testing.T) {
	need := map[string][]string{
		"status.":   statuses,
		"reason.":   schemaCheck(t, "reminders", "reason"),
		"delivery.": schemaCheck(t, "deliveries", "status"),
		"consent.":  schemaCheck(t, "consents", "status"),
		"breaker.":  {"closed", "open", "half_open"},
	}
	if got := schemaCheck(t, "reminders", "status"); strings.Join(got, ",") != strings.Join(statuses, ",") {
		t.Fatalf("the API's statuses %v are not the schema's %v", statuses, got)
	}
	for _, c := range wechatCodes(t) {
		if c != "0" {
			need["errcode."] = append(need["errcode."], c)
		}
	}
	for prefix, values := range need {
		for _, v := range values {
			tr, ok := texts[prefix+v]
			if !ok || tr[0] == "" || tr[1] == "" {
				t.Errorf("texts lacks %s%s in both languages: %q", prefix, v, tr)
			}
		}
	}
	for k, v := range texts {
		if v[0] == "" || v[1] == "" {
			t.Errorf("texts[%q] = %q: a language is missing", k, v)
		}
		if strings.Count(v[0], "%") != strings.Count(v[1], "%") {
			t.Errorf("texts[%q]: the languages take different arguments: %q", k, v)
		}
	}
	if texts["reason.no_consent"][0] != "用户未授权，需在小程序内再次订阅" {
		t.Errorf("no_consent reads %q", texts["reason.no_consent"][0])
	}
}

func TestPickLang(t *testing.T) {
	for _, c := range []struct {
		accept, cookie string
		want           lang
	}{
		{"", "", langZH},
		{"en-US,en;q=0.9", "", langEN},
		{"zh-CN,zh;q=0.9,en;q=0.8", "", langZH},
		{"fr-FR, en;q=0.5, zh;q=0.4", "", langEN},
		{"fr-FR", "", langZH},
		{"en-US", "zh", langZH},
		{"zh-CN", "en", langEN},
		{"en;q=0.2, zh-TW;q=0.8", "", langZH},
	} {
		r := httptest.NewRequest("GET", "/admin/", nil)
		if c.accept != "" {
			r.Header.Set("Accept-Language", c.accept)
		}
		if c.cookie != "" {
			r.Header.Set("Cookie", langCookie+"="+c.cookie)
		}
		if got := pickLang(r); got != c.want {
			t.Errorf("Accept-Language %q, cookie %q: %s, want %s", c.accept, c.cookie, got, c.want)
		}
	}
}
