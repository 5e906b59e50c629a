package wechat

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// knownTypes lists every prefix with a documented rule.
var knownTypes = []string{
	"thing", "number", "letter", "symbol", "character_string", "time", "date",
	"amount", "phone_number", "car_number", "name", "phrase", "enum_string",
}

func rep(s string, n int) string { return strings.Repeat(s, n) }

const lenReason20of21 = "must be at most 20 characters, got 21"

type valueCase struct {
	name   string
	typ    string
	value  string
	enum   []string
	ok     bool
	reason string // when set, the exact reason expected (ok must be false)
	substr string // when set, a substring the reason must contain
}

func runValueCases(t *testing.T, cases []valueCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.typ+"/"+tc.name, func(t *testing.T) {
			err := ValidateValue(tc.typ, tc.value, tc.enum)
			if tc.ok {
				if err != nil {
					t.Fatalf("ValidateValue(%q, %q) = %v, want nil", tc.typ, tc.value, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateValue(%q, %q) = nil, want an error", tc.typ, tc.value)
			}
			var ve *ValueError
			if !errors.As(err, &ve) {
				t.Fatalf("error %T is not a *ValueError", err)
			}
			if ve.Type != tc.typ {
				t.Errorf("ValueError.Type = %q, want %q", ve.Type, tc.typ)
			}
			if ve.Error() != ve.Reason || ve.Reason == "" {
				t.Errorf("Error() = %q, Reason = %q", ve.Error(), ve.Reason)
			}
			if tc.reason != "" && ve.Reason != tc.reason {
				t.Errorf("reason = %q, want %q", ve.Reason, tc.reason)
			}
			if tc.substr != "" && !strings.Contains(ve.Reason, tc.substr) {
				t.Errorf("reason = %q, want it to contain %q", ve.Reason, tc.substr)
			}
		})
	}
}

func TestValidateValueUniversal(t *testing.T) {
	types := append([]string{"short_thing", "unknown_kind", ""}, knownTypes...)
	bad := []struct {
		name, value, reason string
	}{
		{"empty", "", reasonEmpty},
		{"spaces only", "   ", reasonEmpty},
		{"ideographic space only", "\u3000", reasonEmpty},
		{"newline", "会议\n评审", reasonControl},
		{"carriage return", "15:01\r", reasonControl},
		{"tab", "a\tb", reasonControl},
		{"NUL", "a\x00", reasonControl},
		{"DEL", "a\x7f", reasonControl},
		{"C1 NEL", "a\u0085b", reasonControl},
		{"line separator", "a\u2028b", reasonControl},
		{"paragraph separator", "a\u2029b", reasonControl},
		{"invalid UTF-8", "ab\xff", reasonUTF8},
		{"truncated UTF-8", "会"[:2], reasonUTF8},
		{"surrogate bytes", "\xed\xa0\x80", reasonUTF8},
	}
	var cases []valueCase
	for _, typ := range types {
		for _, b := range bad {
			cases = append(cases, valueCase{name: b.name, typ: typ, value: b.value, enum: []string{b.value}, reason: b.reason})
		}
	}
	runValueCases(t, cases)
}

func TestValidateValueUnknownTypes(t *testing.T) {
	runValueCases(t, []valueCase{
		{name: "long text", typ: "short_thing", value: rep("长", 100), ok: true},
		{name: "emoji", typ: "short_thing", value: "会议😀", ok: true},
		{name: "edge spaces", typ: "short_thing", value: " a ", ok: true},
		{name: "full-width tilde", typ: "made_up", value: "1～2", ok: true},
		{name: "capitalised known name", typ: "Thing", value: rep("x", 40), ok: true},
		{name: "newline", typ: "short_thing", value: "a\nb", reason: reasonControl},
	})
}

func TestValidateThing(t *testing.T) {
	runValueCases(t, []valueCase{
		{name: "doc example", typ: "thing", value: "项目评审会", ok: true},
		{name: "mixed", typ: "thing", value: "A栋201会议室", ok: true},
		{name: "latin with symbols", typ: "thing", value: "Review #3 (v2.1) & QA!", ok: false, reason: "must be at most 20 characters, got 22"},
		{name: "symbols inside", typ: "thing", value: "周会-第3期(线上)", ok: true},
		{name: "space inside", typ: "thing", value: "Team sync", ok: true},
		{name: "ideographic space inside", typ: "thing", value: "会议\u3000评审", ok: true},
		{name: "full-width tilde is a symbol", typ: "thing", value: "10～12人", ok: true},
		{name: "copyright text symbol", typ: "thing", value: "©2026", ok: true},
		{name: "combining mark", typ: "thing", value: "Cafe\u0301", ok: true},
		{name: "20 Han", typ: "thing", value: rep("会", 20), ok: true},
		{name: "21 Han", typ: "thing", value: rep("会", 21), reason: lenReason20of21},
		{name: "20 ASCII", typ: "thing", value: rep("a", 20), ok: true},
		{name: "21 ASCII", typ: "thing", value: rep("a", 21), reason: lenReason20of21},
		{name: "emoji face", typ: "thing", value: "会议😀", reason: reasonEmoji},
		{name: "emoji heart", typ: "thing", value: "会议❤", reason: reasonEmoji},
		{name: "emoji star", typ: "thing", value: "⭐会议", reason: reasonEmoji},
		{name: "emoji alarm clock", typ: "thing", value: "⏰提醒", reason: reasonEmoji},
		{name: "variation selector", typ: "thing", value: "©\ufe0f", reason: reasonEmoji},
		{name: "zero width joiner", typ: "thing", value: "a\u200db", reason: reasonEmoji},
		{name: "flag", typ: "thing", value: "🇨🇳", reason: reasonEmoji},
		{name: "21 with emoji reports emoji", typ: "thing", value: rep("会", 20) + "😀", reason: reasonEmoji},
		{name: "zero width space", typ: "thing", value: "a\u200bb", substr: "must contain only"},
		{name: "bidi override", typ: "thing", value: "a\u202eb", substr: "must contain only"},
		{name: "private use", typ: "thing", value: "a\ue000", substr: "must contain only"},
		{name: "leading space", typ: "thing", value: " 会议", reason: reasonEdgeSpace},
		{name: "trailing space", typ: "thing", value: "会议 ", reason: reasonEdgeSpace},
		{name: "newline", typ: "thing", value: "会议\n评审", reason: reasonControl},
		{name: "empty", typ: "thing", value: "", reason: reasonEmpty},
	})
}

func TestValidateNumber(t *testing.T) {
	runValueCases(t, []valueCase{
		{name: "integer", typ: "number", value: "42", ok: true},
		{name: "zero", typ: "number", value: "0", ok: true},
		{name: "decimal", typ: "number", value: "3.14", ok: true},
		{name: "32 digits", typ: "number", value: rep("9", 32), ok: true},
		{name: "32 chars with point", typ: "number", value: rep("1", 16) + "." + rep("2", 15), ok: true},
		{name: "33 digits", typ: "number", value: rep("9", 33), reason: "must be at most 32 characters, got 33"},
		{name: "two points", typ: "number", value: "1.2.3", substr: "one decimal point"},
		{name: "leading point", typ: "number", value: ".5", substr: "start or end"},
		{name: "trailing point", typ: "number", value: "5.", substr: "start or end"},
		{name: "point only", typ: "number", value: ".", substr: "start or end"},
		{name: "negative", typ: "number", value: "-1", substr: "only digits"},
		{name: "exponent", typ: "number", value: "1e5", substr: "only digits"},
		{name: "comma", typ: "number", value: "1,000", substr: "only digits"},
		{name: "full-width digits", typ: "number", value: "１２", substr: "only digits"},
		{name: "Chinese numeral", typ: "number", value: "十二", substr: "only digits"},
		{name: "space inside", typ: "number", value: "1 2", substr: "only digits"},
		{name: "emoji", typ: "number", value: "1️⃣", substr: "only digits"},
		{name: "full-width tilde", typ: "number", value: "1～2", substr: "only digits"},
		{name: "newline", typ: "number", value: "12\n", reason: reasonControl},
		{name: "empty", typ: "number", value: "", reason: reasonEmpty},
	})
}

func TestValidateLetter(t *testing.T) {
	runValueCases(t, []valueCase{
		{name: "lower", typ: "letter", value: "abc", ok: true},
		{name: "mixed case", typ: "letter", value: "ABCxyz", ok: true},
		{name: "32", typ: "letter", value: rep("Z", 32), ok: true},
		{name: "33", typ: "letter", value: rep("Z", 33), reason: "must be at most 32 characters, got 33"},
		{name: "space", typ: "letter", value: "ab c", substr: "only letters"},
		{name: "digit", typ: "letter", value: "abc1", substr: "only letters"},
		{name: "Chinese", typ: "letter", value: "中文", substr: "only letters"},
		{name: "accented", typ: "letter", value: "café", substr: "only letters"},
		{name: "full-width letter", typ: "letter", value: "Ａ", substr: "only letters"},
		{name: "emoji", typ: "letter", value: "ab😀", substr: "only letters"},
		{name: "full-width tilde", typ: "letter", value: "a～b", substr: "only letters"},
		{name: "newline", typ: "letter", value: "ab\ncd", reason: reasonControl},
		{name: "empty", typ: "letter", value: "", reason: reasonEmpty},
	})
}

func TestValidateSymbol(t *testing.T) {
	runValueCases(t, []valueCase{
		{name: "ascii", typ: "symbol", value: "!@#", ok: true},
		{name: "currency and percent", typ: "symbol", value: "￥%", ok: true},
		{name: "Chinese punctuation", typ: "symbol", value: "，。！", ok: true},
		{name: "full-width tilde", typ: "symbol", value: "～", ok: true},
		{name: "5", typ: "symbol", value: "!!!!!", ok: true},
		{name: "6", typ: "symbol", value: "!!!!!!", reason: "must be at most 5 characters, got 6"},
		{name: "letter", typ: "symbol", value: "a", substr: "only symbols"},
		{name: "digit", typ: "symbol", value: "1", substr: "only symbols"},
		{name: "space", typ: "symbol", value: "! !", substr: "only symbols"},
		{name: "Chinese", typ: "symbol", value: "中", substr: "only symbols"},
		{name: "emoji", typ: "symbol", value: "😀", reason: reasonEmoji},
		{name: "dingbat star", typ: "symbol", value: "★", reason: reasonEmoji},
		{name: "newline", typ: "symbol", value: "!\n", reason: reasonControl},
		{name: "empty", typ: "symbol", value: "", reason: reasonEmpty},
	})
}

func TestValidateCharacterString(t *testing.T) {
	runValueCases(t, []valueCase{
		{name: "order id", typ: "character_string", value: "AB-123_x", ok: true},
		{name: "punctuation", typ: "character_string", value: "a.b/c:d#1~2", ok: true},
		{name: "32", typ: "character_string", value: rep("x", 31) + "!", ok: true},
		{name: "33", typ: "character_string", value: rep("x", 33), reason: "must be at most 32 characters, got 33"},
		{name: "space", typ: "character_string", value: "ab c", substr: "ASCII"},
		{name: "Chinese", typ: "character_string", value: "订单1", substr: "ASCII"},
		{name: "full-width tilde", typ: "character_string", value: "1～2", substr: "ASCII"},
		{name: "emoji", typ: "character_string", value: "a😀", substr: "ASCII"},
		{name: "newline", typ: "character_string", value: "ab\n", reason: reasonControl},
		{name: "empty", typ: "character_string", value: "", reason: reasonEmpty},
	})
}

func TestValidateTime(t *testing.T) {
	ok := func(v string) valueCase { return valueCase{name: v, typ: "time", value: v, ok: true} }
	bad := func(v, reason string) valueCase { return valueCase{name: v, typ: "time", value: v, reason: reason} }
	runValueCases(t, []valueCase{
		ok("15:01"),
		ok("15:01:05"),
		ok("00:00"),
		ok("23:59"),
		ok("23:59:59"),
		ok("2019年10月1日 15:01"),
		ok("2019年10月01日 15:01"),
		ok("2019-10-01 15:01"),
		ok("2019/10/01 15:01"),
		ok("2019.10.01 15:01:05"),
		ok("10月1日 15:01"),
		ok("2020-02-29 10:00"),
		ok("2月29日 10:00"),
		ok("2000-02-29 10:00"),
		ok("15:01~16:00"),
		ok("15:01 ~ 16:00"),
		ok("15:01  ~16:00"),
		ok("22:00~02:00"),
		ok("2019-10-01 15:01~2019-10-01 16:00"),
		ok("2019-10-01 15:01 ~ 16:00"),
		ok("2019年10月1日 15:01~2019年10月2日 09:00"),
		bad("24:00", reasonClock),
		bad("23:60", reasonClock),
		bad("23:59:60", reasonClock),
		bad("15:01~24:00", reasonClock),
		bad("2019-02-29 10:00", reasonCalendar),
		bad("1900-02-29 10:00", reasonCalendar),
		bad("2019-04-31 10:00", reasonCalendar),
		bad("2019-13-01 10:00", reasonCalendar),
		bad("2019-00-01 10:00", reasonCalendar),
		bad("2019-10-00 10:00", reasonCalendar),
		bad("0000-01-01 10:00", reasonCalendar),
		bad("2019年13月1日 15:01", reasonCalendar),
		bad("2月30日 15:01", reasonCalendar),
		bad("15:01～16:00", reasonFullWidth),
		bad("15:01 ～ 16:00", reasonFullWidth),
		bad("2019-10-01", reasonTimeFormat),
		bad("2019年10月1日", reasonTimeFormat),
		bad("2019年10月 15:01", reasonTimeFormat),
		bad("3:01", reasonTimeFormat),
		bad("15:1", reasonTimeFormat),
		bad("15.01", reasonTimeFormat),
		bad("1501", reasonTimeFormat),
		bad("15:01 pm", reasonTimeFormat),
		bad("15:01:5", reasonTimeFormat),
		bad("15:01:05.123", reasonTimeFormat),
		bad("2019-10-01  15:01", reasonTimeFormat),
		bad("2019-10-0115:01", reasonTimeFormat),
		bad("2019-10-01T15:01", reasonTimeFormat),
		bad("2019-1-1 15:01", reasonTimeFormat),
		bad("2019-10/01 15:01", reasonTimeFormat),
		bad("19-10-01 15:01", reasonTimeFormat),
		bad("2019年10月1日15:01", reasonTimeFormat),
		bad("20190年10月1日 15:01", reasonTimeFormat),
		bad("下午3点", reasonTimeFormat),
		bad("１５:01", reasonTimeFormat),
		bad("15:01~", reasonTimeFormat),
		bad("~15:01", reasonTimeFormat),
		bad("15:01~16:00~17:00", reasonTimeFormat),
		bad("15:01 -16:00", reasonTimeFormat),
		bad(" 15:01", reasonTimeFormat),
		bad("15:01 ", reasonTimeFormat),
		bad("15:01😀", reasonTimeFormat),
		bad("15:01\n", reasonControl),
		bad("", reasonEmpty),
	})
}

func TestValidateDate(t *testing.T) {
	ok := func(v string) valueCase { return valueCase{name: v, typ: "date", value: v, ok: true} }
	bad := func(v, reason string) valueCase { return valueCase{name: v, typ: "date", value: v, reason: reason} }
	runValueCases(t, []valueCase{
		ok("2019年10月1日"),
		ok("2019年10月01日"),
		ok("2019年1月1日"),
		ok("2019年10月"),
		ok("10月1日"),
		ok("2019-10-01"),
		ok("2019/10/01"),
		ok("2019.10.01"),
		ok("2019-10-01 15:01"),
		ok("2019-10-01 15:01:05"),
		ok("2019年10月1日 15:01"),
		ok("10月1日 08:30"),
		ok("2020-02-29"),
		ok("2000-02-29"),
		ok("2月29日"),
		ok("2019-12-31"),
		ok("2019-10-01~2019-10-03"),
		ok("2019-10-01 ~ 2019-10-03"),
		ok("2019年10月~2019年12月"),
		ok("10月1日~10月7日"),
		ok("2019-10-01 09:00~2019-10-03 18:00"),
		bad("2019-02-29", reasonCalendar),
		bad("1900-02-29", reasonCalendar),
		bad("2019-13-01", reasonCalendar),
		bad("2019-00-10", reasonCalendar),
		bad("2019-10-32", reasonCalendar),
		bad("2019-06-31", reasonCalendar),
		bad("2019年13月", reasonCalendar),
		bad("2019年0月", reasonCalendar),
		bad("0000年1月", reasonCalendar),
		bad("2月30日", reasonCalendar),
		bad("2019-10-01~2019-02-30", reasonCalendar),
		bad("2019-10-01～2019-10-03", reasonFullWidth),
		bad("2019-10-01 24:00", reasonClock),
		bad("2019-10-01 23:59:60", reasonClock),
		bad("2019年10月 15:01", reasonDateFormat),
		bad("15:01", reasonDateFormat),
		bad("2019", reasonDateFormat),
		bad("2019-10", reasonDateFormat),
		bad("19-10-01", reasonDateFormat),
		bad("2019-10-1", reasonDateFormat),
		bad("2019-1-01", reasonDateFormat),
		bad("2019年", reasonDateFormat),
		bad("10月", reasonDateFormat),
		bad("1日", reasonDateFormat),
		bad("2019年10月1", reasonDateFormat),
		bad("2019年100月1日", reasonDateFormat),
		bad("2019年10月100日", reasonDateFormat),
		bad("2019-10-01T15:01", reasonDateFormat),
		bad("2019/10-01", reasonDateFormat),
		bad("2019年10月1日15:01", reasonDateFormat),
		bad("2019-10-01 3:01", reasonDateFormat),
		bad("2019-10-01 ", reasonDateFormat),
		bad("2019-10-01~", reasonDateFormat),
		bad("Oct 1, 2019", reasonDateFormat),
		bad("二〇一九年十月一日", reasonDateFormat),
		bad("2019-10-01😀", reasonDateFormat),
		bad("2019-10-01\n", reasonControl),
		bad("", reasonEmpty),
	})
}

func TestValidateAmount(t *testing.T) {
	ok := func(v string) valueCase { return valueCase{name: v, typ: "amount", value: v, ok: true} }
	bad := func(v, substr string) valueCase { return valueCase{name: v, typ: "amount", value: v, substr: substr} }
	const format = "must be an amount"
	runValueCases(t, []valueCase{
		ok("100"),
		ok("0"),
		ok("￥100"),
		ok("¥100"),
		ok("$3.20"),
		ok("€5"),
		ok("£0.5"),
		ok("100.5元"),
		ok("100元"),
		ok("1234567890"),
		ok("￥1234567890.99"),
		bad("12345678901", "at most 10 digits before the decimal point, got 11"),
		bad("￥12345678901.5", "at most 10 digits before the decimal point, got 11"),
		bad("1,000", format),
		bad("￥", format),
		bad("元", format),
		bad("$.5", format),
		bad("100.", "1 or 2 digits after the decimal point"),
		bad("100.123", "1 or 2 digits after the decimal point"),
		bad("$$100", format),
		bad("￥¥100", format),
		bad("100$", format),
		bad("￥100元", "both a currency symbol and 元"),
		bad("-5", format),
		bad("USD100", format),
		bad("100 元", format),
		bad("￥ 100", format),
		bad("100元元", format),
		bad("一百元", format),
		bad("１００", format),
		bad("～100", format),
		bad("100💰", format),
		{name: "newline", typ: "amount", value: "100\n", reason: reasonControl},
		{name: "empty", typ: "amount", value: "", reason: reasonEmpty},
	})
}

func TestValidatePhoneNumber(t *testing.T) {
	runValueCases(t, []valueCase{
		{name: "doc example, 17", typ: "phone_number", value: "+86-0766-66888866", ok: true},
		{name: "mobile", typ: "phone_number", value: "13800138000", ok: true},
		{name: "parentheses and space", typ: "phone_number", value: "(010) 1234-5678", ok: true},
		{name: "17 digits", typ: "phone_number", value: rep("1", 17), ok: true},
		{name: "18", typ: "phone_number", value: "+86-0766-668888661", reason: "must be at most 17 characters, got 18"},
		{name: "letters", typ: "phone_number", value: "138abc", substr: "only digits"},
		{name: "hash", typ: "phone_number", value: "138#", substr: "only digits"},
		{name: "full-width digits", typ: "phone_number", value: "１３８", substr: "only digits"},
		{name: "full-width tilde", typ: "phone_number", value: "138～139", substr: "only digits"},
		{name: "emoji", typ: "phone_number", value: "138📞", substr: "only digits"},
		{name: "no digit", typ: "phone_number", value: "+-()", substr: "at least one digit"},
		{name: "leading space", typ: "phone_number", value: " 138", reason: reasonEdgeSpace},
		{name: "trailing space", typ: "phone_number", value: "138 ", reason: reasonEdgeSpace},
		{name: "newline", typ: "phone_number", value: "138\n", reason: reasonControl},
		{name: "empty", typ: "phone_number", value: "", reason: reasonEmpty},
	})
}

func TestValidateCarNumber(t *testing.T) {
	runValueCases(t, []valueCase{
		{name: "doc example, 8", typ: "car_number", value: "粤A8Z888挂", ok: true},
		{name: "common", typ: "car_number", value: "京A12345", ok: true},
		{name: "lowercase", typ: "car_number", value: "京a12345", ok: true},
		{name: "new energy, 8", typ: "car_number", value: "粤BD12345", ok: true},
		{name: "ascii only, 8", typ: "car_number", value: "A1234567", ok: true},
		{name: "2", typ: "car_number", value: "AB", ok: true},
		{name: "Han and one letter", typ: "car_number", value: "京A", ok: true},
		{name: "9", typ: "car_number", value: "粤A8Z8888挂", reason: "must be at most 8 characters, got 9"},
		{name: "9 ascii", typ: "car_number", value: "A12345678", reason: "must be at most 8 characters, got 9"},
		{name: "1", typ: "car_number", value: "A", reason: "must be 2 to 8 characters, got 1"},
		{name: "Han in the middle", typ: "car_number", value: "京A1中345", substr: "letters and digits"},
		{name: "two Han at the start", typ: "car_number", value: "京京A1234", substr: "letters and digits"},
		{name: "Han only", typ: "car_number", value: "京挂", substr: "at least one letter or digit"},
		{name: "space", typ: "car_number", value: "京A 12345", substr: "letters and digits"},
		{name: "hyphen", typ: "car_number", value: "京A-12345", substr: "letters and digits"},
		{name: "middle dot", typ: "car_number", value: "京A·12345", substr: "letters and digits"},
		{name: "full-width letters", typ: "car_number", value: "京ＡＢ123", substr: "letters and digits"},
		{name: "full-width tilde", typ: "car_number", value: "京A～1", substr: "letters and digits"},
		{name: "emoji", typ: "car_number", value: "京A1234😀", substr: "letters and digits"},
		{name: "newline", typ: "car_number", value: "京A\n12345", reason: reasonControl},
		{name: "empty", typ: "car_number", value: "", reason: reasonEmpty},
	})
}

func TestValidateName(t *testing.T) {
	runValueCases(t, []valueCase{
		{name: "Chinese", typ: "name", value: "张三", ok: true},
		{name: "10 Han", typ: "name", value: "欧阳一二三四五六七八", ok: true},
		{name: "11 Han", typ: "name", value: "欧阳一二三四五六七八九", reason: "must be at most 10 characters, got 11 (a name with Chinese characters)"},
		{name: "20 ASCII", typ: "name", value: rep("A", 20), ok: true},
		{name: "21 ASCII", typ: "name", value: rep("A", 21), reason: "must be at most 20 characters, got 21"},
		{name: "latin with space and symbols", typ: "name", value: "Mary-Jane O'Brien", ok: true},
		{name: "minority name with middle dot", typ: "name", value: "阿卜杜·热合曼", ok: true},
		{name: "mixed, 10", typ: "name", value: "张三 Zhangs", ok: true},
		{name: "mixed, 11 counts as Chinese", typ: "name", value: "张三Zhangsann", substr: "must be at most 10 characters, got 11"},
		{name: "digits", typ: "name", value: "张三1", reason: "must not contain digits"},
		{name: "ascii digits", typ: "name", value: "Agent 007", reason: "must not contain digits"},
		{name: "full-width digit", typ: "name", value: "张三２", reason: "must not contain digits"},
		{name: "emoji", typ: "name", value: "张三😀", reason: reasonEmoji},
		{name: "accented", typ: "name", value: "Zoë", substr: "must contain only"},
		{name: "kana", typ: "name", value: "さくら", substr: "must contain only"},
		{name: "leading space", typ: "name", value: " 张三", reason: reasonEdgeSpace},
		{name: "trailing space", typ: "name", value: "张三 ", reason: reasonEdgeSpace},
		{name: "newline", typ: "name", value: "张\n三", reason: reasonControl},
		{name: "empty", typ: "name", value: "", reason: reasonEmpty},
	})
}

func TestValidatePhrase(t *testing.T) {
	runValueCases(t, []valueCase{
		{name: "3", typ: "phrase", value: "已完成", ok: true},
		{name: "5", typ: "phrase", value: "一二三四五", ok: true},
		{name: "6", typ: "phrase", value: "一二三四五六", reason: "must be at most 5 characters, got 6"},
		{name: "ascii", typ: "phrase", value: "OK", substr: "only Chinese"},
		{name: "punctuation", typ: "phrase", value: "完成！", substr: "only Chinese"},
		{name: "space", typ: "phrase", value: "完 成", substr: "only Chinese"},
		{name: "digit", typ: "phrase", value: "第1名", substr: "only Chinese"},
		{name: "kana", typ: "phrase", value: "すし", substr: "only Chinese"},
		{name: "full-width tilde", typ: "phrase", value: "早～晚", substr: "only Chinese"},
		{name: "emoji", typ: "phrase", value: "完成😀", substr: "only Chinese"},
		{name: "newline", typ: "phrase", value: "完\n成", reason: reasonControl},
		{name: "empty", typ: "phrase", value: "", reason: reasonEmpty},
	})
}

func TestValidateEnumString(t *testing.T) {
	enum := []string{"已完成", "未完成", "pending"}
	runValueCases(t, []valueCase{
		{name: "listed", typ: "enum_string", value: "已完成", enum: enum, ok: true},
		{name: "listed ascii", typ: "enum_string", value: "pending", enum: enum, ok: true},
		{name: "not listed", typ: "enum_string", value: "完成", enum: enum, reason: "must be one of the 3 values the template lists"},
		{name: "case differs", typ: "enum_string", value: "Pending", enum: enum, substr: "one of the 3 values"},
		{name: "extra space", typ: "enum_string", value: "已完成 ", enum: enum, substr: "one of the 3 values"},
		{name: "no values listed", typ: "enum_string", value: "已完成", reason: "the template lists no values for this enum_string keyword"},
		{name: "empty list", typ: "enum_string", value: "已完成", enum: []string{}, substr: "lists no values"},
		{name: "listed but has newline", typ: "enum_string", value: "a\nb", enum: []string{"a\nb"}, reason: reasonControl},
		{name: "empty", typ: "enum_string", value: "", enum: []string{""}, reason: reasonEmpty},
		{name: "emoji listed", typ: "enum_string", value: "😀", enum: []string{"😀"}, ok: true},
	})
}

// TestValueErrorOmitsValue checks that no reason repeats the value, which may
// be personal data.
func TestValueErrorOmitsValue(t *testing.T) {
	const secret = "王秘密Xq9"
	values := []string{
		secret,
		secret + rep("密", 30),
		secret + "\n",
		secret + "～" + secret,
		secret + "😀",
		" " + secret,
		secret + "\xff",
	}
	for _, typ := range append([]string{"short_thing"}, knownTypes...) {
		failures := 0
		for _, v := range values {
			err := ValidateValue(typ, v, []string{"other"})
			if err == nil {
				continue
			}
			failures++
			for _, part := range []string{secret, "秘密", "Xq9"} {
				if strings.Contains(err.Error(), part) {
					t.Errorf("ValidateValue(%q, %q) error %q contains %q", typ, v, err, part)
				}
			}
		}
		if failures < 2 {
			t.Errorf("only %d of the values failed for %q; the test checks too little", failures, typ)
		}
	}
}

func TestKeywordType(t *testing.T) {
	tests := []struct {
		key string
		typ string
		num int
		ok  bool
	}{
		{"thing1", "thing", 1, true},
		{"character_string12", "character_string", 12, true},
		{"enum_string3", "enum_string", 3, true},
		{"short_thing5", "short_thing", 5, true},
		{"time02", "time", 2, true},
		{"_7", "_", 7, true},
		{"thing", "", 0, false},
		{"1thing", "", 0, false},
		{"Thing1", "", 0, false},
		{"thing1x", "", 0, false},
		{"thing1_2", "", 0, false},
		{"thing 1", "", 0, false},
		{"thing-1", "", 0, false},
		{"thing１", "", 0, false},
		{"123", "", 0, false},
		{"", "", 0, false},
		{"thing99999999999999999999", "", 0, false}, // number overflows int
	}
	for _, tc := range tests {
		typ, num, ok := KeywordType(tc.key)
		if typ != tc.typ || num != tc.num || ok != tc.ok {
			t.Errorf("KeywordType(%q) = %q, %d, %v; want %q, %d, %v", tc.key, typ, num, ok, tc.typ, tc.num, tc.ok)
		}
	}
}

// keywordPattern is the documented template pattern without braces and .DATA.
var keywordPattern = regexp.MustCompile(`^([a-z_]+?)(\d+)$`)

func TestKeywordTypeMatchesTemplatePattern(t *testing.T) {
	content := "会议名称:{{thing1.DATA}}\n会议时间:{{time2.DATA}}\n编号:{{character_string12.DATA}}\n{{short_thing5.DATA}}{{enum_string3.DATA}}"
	tmpl := regexp.MustCompile(`\{\{([a-z_]+?)(\d+)\.DATA\}\}`)
	matches := tmpl.FindAllStringSubmatch(content, -1)
	if len(matches) != 5 {
		t.Fatalf("found %d keywords, want 5", len(matches))
	}
	for _, m := range matches {
		key := m[1] + m[2]
		typ, _, ok := KeywordType(key)
		if !ok || typ != m[1] {
			t.Errorf("KeywordType(%q) = %q, %v; the template pattern says %q", key, typ, ok, m[1])
		}
	}
}

func TestKnownType(t *testing.T) {
	for _, typ := range knownTypes {
		if !KnownType(typ) {
			t.Errorf("KnownType(%q) = false, want true", typ)
		}
	}
	for _, typ := range []string{"short_thing", "", "Thing", "thing1", "things", "string", "enum", "character"} {
		if KnownType(typ) {
			t.Errorf("KnownType(%q) = true, want false", typ)
		}
	}
}

func TestFitValue(t *testing.T) {
	thirtyHan := rep("会", 30)
	tests := []struct {
		name, typ, value, want string
	}{
		{"thing 30 Han", "thing", thirtyHan, rep("会", 17) + "..."},
		{"thing 21 ASCII", "thing", rep("a", 21), rep("a", 17) + "..."},
		{"thing exactly 20", "thing", rep("会", 20), rep("会", 20)},
		{"thing short", "thing", "项目评审会", "项目评审会"},
		{"thing cut before a space", "thing", rep("会", 16) + " " + rep("议", 10), rep("会", 16) + "..."},
		{"thing newline", "thing", "会议\n评审", "会议 评审"},
		{"thing CRLF is one space", "thing", "会议\r\n评审", "会议 评审"},
		{"thing tab and edges", "thing", "\t 会议 \r\n", "会议"},
		{"thing line separator", "thing", "a\u2028b", "a b"},
		{"thing other controls dropped", "thing", "a\x00b\x1bc\u0085d", "abc d"},
		{"thing invalid UTF-8 dropped", "thing", "会\xff议", "会议"},
		{"thing keeps full-width tilde", "thing", "10～12人", "10～12人"},
		{"thing keeps emoji", "thing", "会议😀", "会议😀"},
		{"thing trims after truncation input", "thing", "  " + thirtyHan + "  ", rep("会", 17) + "..."},
		{"time full-width range", "time", "15:01～16:00", "15:01~16:00"},
		{"time spaced full-width range", "time", "15:01 ～ 16:00", "15:01~16:00"},
		{"time spaced range", "time", "2019-10-01 15:01 ~  16:00", "2019-10-01 15:01~16:00"},
		{"time edges", "time", " 15:01\n", "15:01"},
		{"time valid unchanged", "time", "2019-10-01 15:01", "2019-10-01 15:01"},
		{"date full-width range", "date", "2019-10-01 ～ 2019-10-03", "2019-10-01~2019-10-03"},
		{"date ideographic spaces", "date", "2019-10-01\u3000~\u30002019-10-03", "2019-10-01~2019-10-03"},
		{"number not repaired", "number", "12a", "12a"},
		{"number newline", "number", "12\n", "12"},
		{"number keeps full-width tilde", "number", "1～2", "1～2"},
		{"short_thing not truncated", "short_thing", rep("会", 30), rep("会", 30)},
		{"empty", "thing", "", ""},
		{"only spaces", "thing", " \t\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := FitValue(tc.typ, tc.value)
			if got != tc.want {
				t.Fatalf("FitValue(%q, %q) = %q, want %q", tc.typ, tc.value, got, tc.want)
			}
			if again := FitValue(tc.typ, got); again != got {
				t.Errorf("FitValue is not idempotent: %q then %q", got, again)
			}
		})
	}
}

func TestFitValueMakesValid(t *testing.T) {
	tests := []struct{ typ, value string }{
		{"thing", rep("会", 30)},
		{"thing", rep("a", 21)},
		{"thing", "  会议\n评审  "},
		{"time", "15:01～16:00"},
		{"time", "15:01 ～ 16:00"},
		{"date", "2019-10-01～2019-10-03"},
		{"number", " 12.5\n"},
		{"name", "张三\t"},
		{"phone_number", "138 0013 8000 "},
	}
	for _, tc := range tests {
		if err := ValidateValue(tc.typ, tc.value, nil); err == nil {
			t.Fatalf("ValidateValue(%q, %q) = nil; the case should start invalid", tc.typ, tc.value)
		}
		fit := FitValue(tc.typ, tc.value)
		if err := ValidateValue(tc.typ, fit, nil); err != nil {
			t.Errorf("ValidateValue(%q, FitValue(%q) = %q) = %v", tc.typ, tc.value, fit, err)
		}
	}
	if got := utf8.RuneCountInString(FitValue("thing", rep("会", 30))); got != maxThing {
		t.Errorf("fitted thing has %d characters, want %d", got, maxThing)
	}
}

func TestFormatInstant(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	instant := time.Date(2026, 12, 1, 14, 0, 30, 0, shanghai)
	tests := []struct {
		typ  string
		t    time.Time
		want string
	}{
		{"time", instant, "2026-12-01 14:00"},
		{"time", instant.UTC(), "2026-12-01 06:00"},
		{"time", instant.In(time.FixedZone("PST", -8*3600)), "2026-11-30 22:00"},
		{"date", instant, "2026年12月1日"},
		{"date", time.Date(2026, 12, 1, 2, 0, 0, 0, shanghai).UTC(), "2026年11月30日"},
		{"date", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), "2024年2月29日"},
		{"time", time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC), "2024-02-29 23:59"},
		{"time", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), "0001-01-01 00:00"},
		{"date", time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), "9999年12月31日"},
	}
	for _, tc := range tests {
		got, err := FormatInstant(tc.typ, tc.t)
		if err != nil || got != tc.want {
			t.Errorf("FormatInstant(%q, %v) = %q, %v; want %q", tc.typ, tc.t, got, err, tc.want)
			continue
		}
		if err := ValidateValue(tc.typ, got, nil); err != nil {
			t.Errorf("FormatInstant(%q, %v) = %q, which does not validate: %v", tc.typ, tc.t, got, err)
		}
	}
	for _, typ := range []string{"thing", "number", "short_thing", ""} {
		if got, err := FormatInstant(typ, instant); err == nil {
			t.Errorf("FormatInstant(%q) = %q, nil; want an error", typ, got)
		}
	}
	for _, year := range []int{0, -1, 10000} {
		if got, err := FormatInstant("time", time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)); err == nil {
			t.Errorf("FormatInstant(time, year %d) = %q, nil; want an error", year, got)
		}
	}
}

// TestFormatInstantValidatesAllYear formats every hour of a leap year and a
// common year in a zone east of UTC and checks that each output validates.
func TestFormatInstantValidatesAllYear(t *testing.T) {
	zone := time.FixedZone("+0545", 5*3600+45*60)
	for _, year := range []int{2023, 2024} {
		for tm := time.Date(year, 1, 1, 0, 0, 0, 0, zone); tm.Year() == year; tm = tm.Add(time.Hour) {
			for _, typ := range []string{"time", "date"} {
				s, err := FormatInstant(typ, tm)
				if err != nil {
					t.Fatalf("FormatInstant(%q, %v): %v", typ, tm, err)
				}
				if err := ValidateValue(typ, s, nil); err != nil {
					t.Fatalf("FormatInstant(%q, %v) = %q, which does not validate: %v", typ, tm, s, err)
				}
			}
		}
	}
}

// TestCJKUnifiedFastPath checks the assumption behind isCJKUnified against
// the Unicode tables of the Go release in use.
func TestCJKUnifiedFastPath(t *testing.T) {
	for r := rune(0x4E00); r <= 0x9FFF; r++ {
		if !unicode.Is(unicode.Han, r) || !unicode.IsLetter(r) {
			t.Fatalf("U+%04X is not a Han letter in Unicode %s", r, unicode.Version)
		}
	}
	if isCJKUnified(0x4DFF) || isCJKUnified(0xA000) {
		t.Fatal("isCJKUnified is wider than the block")
	}
}

// TestValidPathDoesNotAllocate guards the hot path: every send validates every
// keyword.
func TestValidPathDoesNotAllocate(t *testing.T) {
	enum := []string{"已完成", "未完成"}
	for _, typ := range knownTypes {
		v := typicalValues[typ]
		if err := ValidateValue(typ, v, enum); err != nil {
			t.Fatalf("typical %s value %q is invalid: %v", typ, v, err)
		}
		if n := testing.AllocsPerRun(50, func() { _ = ValidateValue(typ, v, enum) }); n != 0 {
			t.Errorf("ValidateValue(%q, %q) allocates %v times", typ, v, n)
		}
		if n := testing.AllocsPerRun(50, func() { _ = FitValue(typ, v) }); n != 0 {
			t.Errorf("FitValue(%q, %q) allocates %v times on a value that needs no fitting", typ, v, n)
		}
	}
}

// typicalValues holds one realistic valid value per known type; the
// benchmarks use them too.
var typicalValues = map[string]string{
	"thing":            "项目评审会 A栋201会议室",
	"number":           "1024.5",
	"letter":           "Review",
	"symbol":           "!?",
	"character_string": "ORD-20261201-0042",
	"time":             "2026-12-01 14:00~15:30",
	"date":             "2026年12月1日",
	"amount":           "￥1280.50",
	"phone_number":     "+86-0766-66888866",
	"car_number":       "粤A8Z888挂",
	"name":             "欧阳娜娜",
	"phrase":           "待审批",
	"enum_string":      "已完成",
}
