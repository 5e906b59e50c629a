package wechattest

// The fake's own table of WeChat's keyword value rules for subscribe messages,
// behind its 47003 answers. It is written apart from the client's validator
// (internal/wechat's ValidateValue) on purpose: a fake that asked the client
// whether a value is valid would agree with every mistake of the client. A
// test feeds one corpus to both and fails on every disagreement, so a wrong
// rule on either side shows up.
//
// Where WeChat's documentation is silent the table takes the same
// conservative side as reminderd (a value reminderd refuses is one the fake
// refuses too): no white space at the start or end of thing, name and
// phone_number; no emoji in thing, name and symbol; 4-digit years and 2-digit
// clock fields; at most two decimals in an amount, and not both a currency
// sign and 元.

import (
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// valueRule says whether a value (already known to pass the rules every
// keyword shares) is valid for one keyword type. enum is the template's
// keywordEnumValueList for the keyword.
type valueRule func(v string, enum []string) bool

// valueRules is the table: keyword type prefix → rule. A prefix missing from
// it (short_thing and any other) gets only the shared rules.
var valueRules = map[string]valueRule{
	"thing": func(v string, _ []string) bool {
		return runes(v) <= 20 && noEdgeSpace(v) && all(v, func(r rune) bool {
			return !emoji(r) && (unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Zs))
		})
	},
	"number":           matches(`^[0-9]+(\.[0-9]+)?$`, 32),
	"letter":           matches(`^[A-Za-z]+$`, 32),
	"character_string": matches(`^[!-~]+$`, 32), // printable ASCII, no space
	"symbol": func(v string, _ []string) bool {
		return runes(v) <= 5 && all(v, func(r rune) bool { return !emoji(r) && unicode.In(r, unicode.P, unicode.S) })
	},
	"time": func(v string, _ []string) bool { return temporalValue(v, timeSide) },
	"date": func(v string, _ []string) bool { return temporalValue(v, dateSide) },
	"amount": func(v string, _ []string) bool {
		m := amountPattern.FindStringSubmatch(v)
		return m != nil && !(m[1] != "" && m[3] != "")
	},
	"phone_number": func(v string, _ []string) bool {
		return runes(v) <= 17 && phonePattern.MatchString(v) && strings.ContainsAny(v, "0123456789") && noEdgeSpace(v)
	},
	"car_number": func(v string, _ []string) bool {
		rs := []rune(v)
		if len(rs) < 2 || len(rs) > 8 {
			return false
		}
		alnum := 0
		for i, r := range rs {
			switch {
			case r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)):
				alnum++
			case (i == 0 || i == len(rs)-1) && unicode.Is(unicode.Han, r):
			default:
				return false
			}
		}
		return alnum > 0
	},
	"name": func(v string, _ []string) bool {
		chinese := strings.IndexFunc(v, func(r rune) bool { return unicode.Is(unicode.Han, r) }) >= 0
		limit := 20
		if chinese {
			limit = 10 // mixed counts as Chinese
		}
		return runes(v) <= limit && noEdgeSpace(v) && all(v, func(r rune) bool {
			switch {
			case r < utf8.RuneSelf && unicode.IsLetter(r), unicode.Is(unicode.Han, r):
				return true
			case emoji(r), unicode.IsNumber(r):
				return false
			}
			return unicode.In(r, unicode.P, unicode.S, unicode.Zs)
		})
	},
	"phrase": func(v string, _ []string) bool {
		return runes(v) <= 5 && all(v, func(r rune) bool { return unicode.Is(unicode.Han, r) })
	},
	"enum_string": func(v string, enum []string) bool { return slices.Contains(enum, v) },
}

var (
	// amount: an optional currency sign, 1-10 digits, up to 2 decimals, an
	// optional 元.
	amountPattern = regexp.MustCompile(`^([￥¥$€£]?)([0-9]{1,10}(?:\.[0-9]{1,2})?)(元?)$`)
	phonePattern  = regexp.MustCompile(`^[0-9+\-() ]+$`)

	clock = `(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])?`
	// A full date in every layout the docs list, each alternative with three
	// groups (year, month, day) for the calendar check: numeric with one
	// separator (- / .), 年月日, and 月日 without a year.
	fullDate = `(?:([0-9]{4})-([0-9]{2})-([0-9]{2})|([0-9]{4})/([0-9]{2})/([0-9]{2})|([0-9]{4})\.([0-9]{2})\.([0-9]{2})` +
		`|([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日|()([0-9]{1,2})月([0-9]{1,2})日)`
	// A year and month alone (date only, without a clock).
	yearMonth = `([0-9]{4})年([0-9]{1,2})月()`
	// time: a clock, optionally after a full date and one space.
	timeSide = regexp.MustCompile(`^(?:` + fullDate + ` )?` + clock + `$`)
	// date: a full date optionally followed by one space and a clock, or a
	// year and month alone.
	dateSide = regexp.MustCompile(`^(?:` + fullDate + `(?: ` + clock + `)?|` + yearMonth + `)$`)
)

// temporalValue checks a time or date value: one side, or two joined by one
// ASCII ~ with any ASCII spaces around it (full-width ～ is refused).
func temporalValue(v string, side *regexp.Regexp) bool {
	if strings.Contains(v, "～") {
		return false
	}
	sides := []string{v}
	if l, r, ok := strings.Cut(v, "~"); ok {
		sides = []string{strings.TrimRight(l, " "), strings.TrimLeft(r, " ")}
	}
	for _, s := range sides {
		m := side.FindStringSubmatch(s)
		if m == nil || !realDate(m[1:]) {
			return false
		}
	}
	return true
}

// realDate checks the calendar of the date the groups hold, in threes (year,
// month, day): the matching alternative is the triple with a month. An empty
// year is a date without one (29 February allowed); an empty day is a year
// and month alone. No triple with a month: a clock alone.
func realDate(g []string) bool {
	for i := 0; i+2 < len(g); i += 3 {
		if g[i+1] == "" {
			continue
		}
		year, month, day := atoi(g[i]), atoi(g[i+1]), atoi(g[i+2])
		if g[i] != "" && year < 1 || month < 1 || month > 12 {
			return false
		}
		if g[i+2] == "" {
			return true
		}
		days := [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[month-1]
		if month == 2 && (g[i] == "" || year%4 == 0 && (year%100 != 0 || year%400 == 0)) {
			days = 29
		}
		return day >= 1 && day <= days
	}
	return true
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// valueAccepted reports whether WeChat takes value for a keyword of type typ.
// The shared rules first: not empty nor only white space, valid UTF-8, no
// control characters, no line or paragraph separators.
func valueAccepted(typ, value string, enum []string) bool {
	if strings.TrimFunc(value, unicode.IsSpace) == "" || !utf8.ValidString(value) ||
		strings.ContainsFunc(value, func(r rune) bool { return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' }) {
		return false
	}
	rule, ok := valueRules[typ]
	return !ok || rule(value, enum)
}

// keywordPrefix is the type prefix of a keyword key ("character_string7" →
// "character_string"), as in the template pattern {{([a-z_]+?)(\d+).DATA}}.
var keywordPrefix = regexp.MustCompile(`^([a-z_]+?)[0-9]+$`)

func keywordTypeOf(key string) string {
	if m := keywordPrefix.FindStringSubmatch(key); m != nil {
		return m[1]
	}
	return ""
}

func runes(s string) int { return utf8.RuneCountInString(s) }

func all(s string, ok func(rune) bool) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return !ok(r) })
}

func noEdgeSpace(s string) bool { return strings.TrimFunc(s, unicode.IsSpace) == s }

// matches is a rule: the pattern, and at most max code points.
func matches(pattern string, max int) valueRule {
	re := regexp.MustCompile(pattern)
	return func(v string, _ []string) bool { return runes(v) <= max && re.MatchString(v) }
}

// emojiRanges are the code points the fake counts as emoji: the pictographs
// (U+1F000–U+1FAFF, flags and skin tones included), Miscellaneous Symbols
// and Dingbats, the joiners, variation selectors, keycap and tags that build
// emoji sequences, and the scattered symbols whose default presentation is
// emoji (⌚ ⏰ ⭐ ⭕ …). Text symbols such as © ™ ↔ are not emoji.
var emojiRanges = &unicode.RangeTable{
	R16: []unicode.Range16{
		{Lo: 0x200D, Hi: 0x200D, Stride: 1},
		{Lo: 0x20E3, Hi: 0x20E3, Stride: 1},
		{Lo: 0x231A, Hi: 0x231B, Stride: 1},
		{Lo: 0x23E9, Hi: 0x23F3, Stride: 1},
		{Lo: 0x23F8, Hi: 0x23FA, Stride: 1},
		{Lo: 0x25FD, Hi: 0x25FE, Stride: 1},
		{Lo: 0x2600, Hi: 0x27BF, Stride: 1},
		{Lo: 0x2934, Hi: 0x2935, Stride: 1},
		{Lo: 0x2B1B, Hi: 0x2B1C, Stride: 1},
		{Lo: 0x2B50, Hi: 0x2B50, Stride: 1},
		{Lo: 0x2B55, Hi: 0x2B55, Stride: 1},
		{Lo: 0x3030, Hi: 0x3030, Stride: 1},
		{Lo: 0x303D, Hi: 0x303D, Stride: 1},
		{Lo: 0x3297, Hi: 0x3297, Stride: 1},
		{Lo: 0x3299, Hi: 0x3299, Stride: 1},
		{Lo: 0xFE0E, Hi: 0xFE0F, Stride: 1},
	},
	R32: []unicode.Range32{
		{Lo: 0x1F000, Hi: 0x1FAFF, Stride: 1},
		{Lo: 0xE0020, Hi: 0xE007F, Stride: 1},
	},
}

func emoji(r rune) bool { return unicode.Is(emojiRanges, r) }
