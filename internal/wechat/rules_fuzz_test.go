package wechat

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// fuzzTypes are the types FuzzValidateValue picks from: every known type plus
// unknown ones.
var fuzzTypes = append(append([]string(nil), knownTypes...), "short_thing", "unknown")

var fuzzEnum = []string{"已完成", "pending"}

// Reference implementations, written with regexp and the time package,
// independently of the hand-written scanners. FuzzValidateValue checks that
// both agree.
var (
	refClock    = `(\d{2}):(\d{2})(?::(\d{2}))?`
	refFullDate = `(\d{4})-(\d{2})-(\d{2})|(\d{4})/(\d{2})/(\d{2})|(\d{4})\.(\d{2})\.(\d{2})|(\d{4})年(\d{1,2})月(\d{1,2})日|()(\d{1,2})月(\d{1,2})日`
	refTimeOne  = regexp.MustCompile(`^(?:(?:` + refFullDate + `) )?` + refClock + `$`)
	refDateOne  = regexp.MustCompile(`^(?:(?:` + refFullDate + `)(?: ` + refClock + `)?|(\d{4})年(\d{1,2})月)$`)
	refRange    = regexp.MustCompile(`^([^~]+?) *~ *([^~]+)$`)
	refAmount   = regexp.MustCompile(`^([￥¥$€£]?)(\d+)(?:\.\d{1,2})?(元?)$`)
	refNumber   = regexp.MustCompile(`^\d+(?:\.\d+)?$`)
	refLetter   = regexp.MustCompile(`^[A-Za-z]+$`)
	refCharStr  = regexp.MustCompile(`^[!-~]+$`)
	refPhone    = regexp.MustCompile(`^[0-9+\-() ]+$`)
	refPhrase   = regexp.MustCompile(`^\p{Han}+$`)
	refCar      = regexp.MustCompile(`^\p{Han}?[A-Za-z0-9]+\p{Han}?$`)
)

// refTemporalOne checks one side of a range: the layout with re, then the
// numbers with time.Date, which normalises impossible dates (Feb 30 → Mar 2).
func refTemporalOne(re *regexp.Regexp, s string) bool {
	m := re.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	// Groups come in (year, month, day) triples, then the clock triple, then
	// (for date) the year-month pair. The first non-empty month group wins.
	year, month, day := 2000, 0, 1 // no year given: assume a leap year
	dated := false
	nums := func(i int) int { n, _ := strconv.Atoi(m[i]); return n }
	for g := 1; g+2 <= 15; g += 3 {
		if m[g+1] != "" {
			if m[g] != "" {
				year = nums(g)
			}
			month, day, dated = nums(g+1), nums(g+2), true
			break
		}
	}
	if len(m) > 19 && m[19] != "" {
		year, month, dated = nums(19), nums(20), true
	}
	if dated {
		if year < 1 || month < 1 || month > 12 {
			return false
		}
		d := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
		if d.Day() != day || int(d.Month()) != month {
			return false
		}
	}
	if m[16] != "" && (nums(16) > 23 || nums(17) > 59 || nums(18) > 59) {
		return false
	}
	return true
}

func refTemporal(re *regexp.Regexp, s string) bool {
	if strings.Contains(s, "~") {
		m := refRange.FindStringSubmatch(s)
		if m == nil || strings.HasSuffix(m[1], " ") || strings.HasPrefix(m[2], " ") {
			return false
		}
		return refTemporalOne(re, m[1]) && refTemporalOne(re, m[2])
	}
	return refTemporalOne(re, s)
}

// refValid is the reference verdict for the types that have one; ok is false
// for the others.
func refValid(typ, v string) (valid, ok bool) {
	if _, reason := universal(v); reason != "" {
		return false, true
	}
	n := utf8.RuneCountInString(v)
	switch typ {
	case "time":
		return refTemporal(refTimeOne, v), true
	case "date":
		return refTemporal(refDateOne, v), true
	case "amount":
		m := refAmount.FindStringSubmatch(v)
		return m != nil && len(m[2]) <= 10 && !(m[1] != "" && m[3] != ""), true
	case "number":
		return n <= 32 && refNumber.MatchString(v), true
	case "letter":
		return n <= 32 && refLetter.MatchString(v), true
	case "character_string":
		return n <= 32 && refCharStr.MatchString(v), true
	case "phone_number":
		return n <= 17 && refPhone.MatchString(v) && strings.ContainsAny(v, "0123456789") &&
			strings.TrimSpace(v) == v, true
	case "phrase":
		return n <= 5 && refPhrase.MatchString(v), true
	case "car_number":
		return n >= 2 && n <= 8 && refCar.MatchString(v), true
	case "enum_string":
		for _, e := range fuzzEnum {
			if v == e {
				return true, true
			}
		}
		return false, true
	case "short_thing", "unknown":
		return true, true
	}
	return false, false
}

// thingRune reports the characters a thing may hold, written independently
// of validateThing except for the emoji set.
func thingRune(r rune) bool {
	return !isEmoji(r) && (unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S) || unicode.In(r, unicode.Zs))
}

// maxRunes is the documented length limit per type, 0 when there is none.
var maxRunes = map[string]int{
	"thing": 20, "number": 32, "letter": 32, "symbol": 5, "character_string": 32,
	"phone_number": 17, "car_number": 8, "name": 20, "phrase": 5,
}

func FuzzValidateValue(f *testing.F) {
	for i, typ := range fuzzTypes {
		k := uint8(i)
		if v, ok := typicalValues[typ]; ok {
			f.Add(k, v)
		}
		f.Add(k, "")
		f.Add(k, " ")
		f.Add(k, "a\nb")
		f.Add(k, "会议😀")
		f.Add(k, "15:01～16:00")
		f.Add(k, "\xff")
	}
	seeds := map[string][]string{
		"thing": {strings.Repeat("会", 20), strings.Repeat("会", 30), " 会议 \t", strings.Repeat("会", 16) + " " + strings.Repeat("议", 10), "a\u200db", "©\ufe0f", "a\u2028b"},
		"time": {"15:01", "23:59:59", "24:00", "2019-10-01 15:01", "2019年10月1日 15:01", "10月1日 15:01",
			"2020-02-29 10:00", "2019-02-29 10:00", "15:01 ~ 16:00", "15:01~", "2019-10-01 15:01~16:00", "2019年10月 15:01"},
		"date": {"2019年10月1日", "2019年10月", "10月1日", "2019-10-01", "2019/10/01", "2019.10.01", "2019-10-01 15:01",
			"2019-10-01~2019-10-03", "2月29日", "2019-02-29", "2019年13月", "2019-10-01 ～ 2019-10-03"},
		"amount":       {"￥100", "100.5元", "$3.20", "1234567890", "12345678901", "￥100元", "1,000", "100.123"},
		"number":       {"3.14", ".5", "5.", "1.2.3", strings.Repeat("9", 33)},
		"phone_number": {"+86-0766-66888866", " 138", "+-()", "+86-0766-668888661"},
		"car_number":   {"粤A8Z888挂", "京挂", "A", "京A1中345", "粤A8Z8888挂"},
		"name":         {"欧阳一二三四五六七八", "张三Zhangsann", "Mary-Jane O'Brien", "Agent 007"},
		"phrase":       {"一二三四五", "一二三四五六", "完 成"},
		"enum_string":  {"已完成", "pending", "Pending"},
	}
	for i, typ := range fuzzTypes {
		for _, v := range seeds[typ] {
			f.Add(uint8(i), v)
		}
	}

	f.Fuzz(func(t *testing.T, k uint8, value string) {
		typ := fuzzTypes[int(k)%len(fuzzTypes)]
		err := ValidateValue(typ, value, fuzzEnum)

		// Deterministic.
		if err2 := ValidateValue(typ, value, fuzzEnum); (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("ValidateValue(%q, %q) gave %v then %v", typ, value, err, err2)
		}

		// Errors are *ValueError naming the type.
		if err != nil {
			var ve *ValueError
			if !errors.As(err, &ve) || ve.Type != typ || ve.Reason == "" || ve.Error() != ve.Reason {
				t.Fatalf("ValidateValue(%q, %q) = %#v, want a *ValueError for the type", typ, value, err)
			}
		}

		// The reference implementation agrees.
		if want, ok := refValid(typ, value); ok && want != (err == nil) {
			t.Fatalf("ValidateValue(%q, %q) = %v; the reference says valid=%v", typ, value, err, want)
		}

		// Valid values obey the universal rules and the length limit.
		if err == nil {
			if e := ValidateValue("unknown", value, nil); e != nil {
				t.Fatalf("ValidateValue(%q, %q) = nil but the universal rules say %v", typ, value, e)
			}
			if limit := maxRunes[typ]; limit > 0 && utf8.RuneCountInString(value) > limit {
				t.Fatalf("ValidateValue(%q, %q) = nil with %d characters", typ, value, utf8.RuneCountInString(value))
			}
		}

		fit := FitValue(typ, value)
		if !utf8.ValidString(fit) {
			t.Fatalf("FitValue(%q, %q) = %q, not valid UTF-8", typ, value, fit)
		}
		for _, r := range fit {
			if isControlOrNewline(r) {
				t.Fatalf("FitValue(%q, %q) = %q keeps a control character", typ, value, fit)
			}
		}
		if fit != strings.TrimSpace(fit) {
			t.Fatalf("FitValue(%q, %q) = %q is not trimmed", typ, value, fit)
		}
		if again := FitValue(typ, fit); again != fit {
			t.Fatalf("FitValue is not idempotent for %q: %q then %q", typ, fit, again)
		}
		// Fitting keeps a valid value valid.
		if err == nil {
			if e := ValidateValue(typ, fit, fuzzEnum); e != nil {
				t.Fatalf("FitValue(%q, %q) = %q turned a valid value invalid: %v", typ, value, fit, e)
			}
		}

		switch typ {
		case "thing":
			// A fitted thing is valid unless it holds a character no thing
			// may hold (emoji, format or private-use characters) or nothing.
			allowed := fit != ""
			for _, r := range fit {
				allowed = allowed && thingRune(r)
			}
			if e := ValidateValue(typ, fit, nil); allowed && e != nil {
				t.Fatalf("FitValue(thing, %q) = %q is invalid: %v", value, fit, e)
			}
			if utf8.RuneCountInString(fit) > maxThing {
				t.Fatalf("FitValue(thing, %q) = %q is too long", value, fit)
			}
		case "time", "date":
			if strings.Contains(fit, "～") {
				t.Fatalf("FitValue(%q, %q) = %q keeps a full-width ～", typ, value, fit)
			}
			if fixed := strings.ReplaceAll(value, "～", "~"); ValidateValue(typ, fixed, nil) == nil {
				if e := ValidateValue(typ, fit, nil); e != nil {
					t.Fatalf("FitValue(%q, %q) = %q is invalid: %v", typ, value, fit, e)
				}
			}
		}
	})
}

func FuzzKeywordType(f *testing.F) {
	for _, s := range []string{"thing1", "character_string12", "short_thing5", "thing", "1thing", "Thing1", "thing1x", "a_1_2", "_0", "thing99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		typ, num, ok := KeywordType(key)
		m := keywordPattern.FindStringSubmatch(key)
		if m == nil {
			if ok {
				t.Fatalf("KeywordType(%q) = %q, %d, true; the pattern does not match", key, typ, num)
			}
			return
		}
		want, convErr := strconv.Atoi(m[2])
		if convErr != nil { // the number does not fit in an int
			if ok {
				t.Fatalf("KeywordType(%q) = %q, %d, true; want false for an overflowing number", key, typ, num)
			}
			return
		}
		if !ok || typ != m[1] || num != want {
			t.Fatalf("KeywordType(%q) = %q, %d, %v; the pattern says %q, %d", key, typ, num, ok, m[1], want)
		}
	})
}

func FuzzFormatInstant(f *testing.F) {
	f.Add(int64(1796104800), int32(8*3600))
	f.Add(int64(951782400), int32(0))
	f.Add(int64(-62135596800), int32(0))
	f.Add(int64(253402300799), int32(-12*3600))
	f.Fuzz(func(t *testing.T, sec int64, offset int32) {
		tm := time.Unix(sec, 0).In(time.FixedZone("z", int(offset%(18*3600))))
		for _, typ := range []string{"time", "date"} {
			s, err := FormatInstant(typ, tm)
			if err != nil {
				if y := tm.Year(); y >= 1 && y <= 9999 {
					t.Fatalf("FormatInstant(%q, %v): %v", typ, tm, err)
				}
				continue
			}
			if e := ValidateValue(typ, s, nil); e != nil {
				t.Fatalf("FormatInstant(%q, %v) = %q, which does not validate: %v", typ, tm, s, e)
			}
		}
	})
}
