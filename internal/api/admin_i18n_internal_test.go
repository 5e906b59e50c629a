package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/reminderd/reminderd/internal/store"
)

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
		// internal/db's vocabulary, which its own test pins to schema.sql.
		"status.":   store.Strings(store.Statuses()),
		"reason.":   store.Strings(store.Reasons()),
		"delivery.": store.Strings(store.DeliveryStatuses()),
		"consent.":  store.Strings(store.ConsentStatuses()),
		"breaker.":  {"closed", "open", "half_open"},
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
