package wechat

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// TemplateKind is how a user's accept may be used.
type TemplateKind string

const (
	// OneTime templates allow one send per accept (gettemplate type 2).
	OneTime TemplateKind = "one_time"
	// LongTerm templates allow unlimited sends after one accept (type 3).
	LongTerm TemplateKind = "long_term"
)

// Template is a subscribe-message template of the mini-program's account.
type Template struct {
	ID       string
	Title    string
	Kind     TemplateKind
	Content  string
	Example  string
	Keywords []Keyword
}

// Keyword is one field of a template.
type Keyword struct {
	Key   string   // "thing1"
	Type  string   // "thing"
	Label string   // "会议名称"
	Enum  []string // allowed values of an enum_string keyword
}

// Keyword returns the keyword with the given key.
func (t *Template) Keyword(key string) (Keyword, bool) {
	for _, k := range t.Keywords {
		if k.Key == key {
			return k, true
		}
	}
	return Keyword{}, false
}

// Validate checks a value against the keyword's rule (see ValidateValue).
func (k Keyword) Validate(value string) error { return ValidateValue(k.Type, value, k.Enum) }

var placeholder = regexp.MustCompile(`\{\{([a-z_]+?)(\d+)\.DATA\}\}`)

// ParseContent extracts the keywords of a template's content, in order, with
// the label written before each placeholder on its line ("会议名称:{{thing1.DATA}}").
func ParseContent(content string) []Keyword {
	var kws []Keyword
	seen := map[string]bool{}
	for line := range strings.SplitSeq(content, "\n") {
		rest := line
		for {
			loc := placeholder.FindStringSubmatchIndex(rest)
			if loc == nil {
				break
			}
			typ := rest[loc[2]:loc[3]]
			key := typ + rest[loc[4]:loc[5]]
			label := strings.TrimSpace(rest[:loc[0]])
			label = strings.TrimSpace(strings.TrimRight(label, ":："))
			if !seen[key] {
				seen[key] = true
				kws = append(kws, Keyword{Key: key, Type: typ, Label: label})
			}
			rest = rest[loc[1]:]
		}
	}
	return kws
}

type templateAnswer struct {
	errBody
	Data []struct {
		PriTmplID string      `json:"priTmplId"`
		Title     string      `json:"title"`
		Content   string      `json:"content"`
		Example   string      `json:"example"`
		Type      json.Number `json:"type"`
		Enums     []struct {
			KeywordCode   string   `json:"keywordCode"`
			EnumValueList []string `json:"enumValueList"`
		} `json:"keywordEnumValueList"`
	} `json:"data"`
}

// gettemplate answers errcode 0 with its data; data alone is taken as a
// success too.
func (a *templateAnswer) impliesSuccess() bool { return a.Data != nil }

// Templates fetches the account's template list (gettemplate). The endpoint
// has a small daily quota: call it at start-up and on a slow schedule. A
// template whose type is neither 2 (one-time) nor 3 (long-term) is left out
// and logged.
func (c *Client) Templates(ctx context.Context) ([]Template, error) {
	ans, err := doWithToken[templateAnswer](ctx, c, "gettemplate", http.MethodGet, "/wxaapi/newtmpl/gettemplate", nil)
	if err != nil {
		return nil, err
	}
	out := make([]Template, 0, len(ans.Data))
	for _, d := range ans.Data {
		t := Template{ID: d.PriTmplID, Title: d.Title, Content: d.Content, Example: d.Example}
		if t.ID == "" {
			return nil, fmt.Errorf("gettemplate: a template has no priTmplId")
		}
		switch d.Type.String() {
		case "2":
			t.Kind = OneTime
		case "3":
			t.Kind = LongTerm
		default:
			// A kind reminderd does not know (not one-time, not long-term)
			// cannot be sent by its rules: skip that one, keep the others
			// (failing the whole list would keep a fresh database from
			// ever becoming ready).
			c.log.Warn("gettemplate: template of an unknown type skipped", "template_id", t.ID, "title", t.Title, "type", d.Type.String())
			continue
		}
		t.Keywords = ParseContent(d.Content)
		for _, e := range d.Enums {
			key := strings.TrimSuffix(e.KeywordCode, ".DATA")
			for i := range t.Keywords {
				if t.Keywords[i].Key == key {
					t.Keywords[i].Enum = append([]string(nil), e.EnumValueList...)
				}
			}
		}
		out = append(out, t)
	}
	return out, nil
}
