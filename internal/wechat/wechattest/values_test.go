package wechattest

import (
	"strings"
	"testing"
)

// The fake's rule table, value by value.
func TestValueRules(t *testing.T) {
	enum := []string{"高", "中", "低"}
	for _, tc := range []struct {
		typ    string
		accept []string
		reject []string
	}{
		{"thing", []string{"项目评审会", "A栋201会议室", "Review #3 (v2)", strings.Repeat("会", 20), "café ©"},
			[]string{strings.Repeat("会", 21), " 会议", "会议 ", "会议🎉", "line\nbreak", "tab\there", "zero\u200bwidth"}},
		{"number", []string{"0", "42", "3.14", strings.Repeat("9", 32)},
			[]string{"-1", "1.2.3", ".5", "5.", "1e3", "１２", strings.Repeat("9", 33), "1 000"}},
		{"letter", []string{"abc", "ABCxyz", strings.Repeat("a", 32)},
			[]string{"abc1", "ab c", "é", strings.Repeat("a", 33)}},
		{"symbol", []string{"!", "+-*/", "￥%", "※→"},
			[]string{"a", "1", "!!!!!!", "! !", "⭐"}},
		{"character_string", []string{"ABC-123_x", "a@b.c", strings.Repeat("x", 32)},
			[]string{"有中文", "a b", strings.Repeat("x", 33)}},
		{"time", []string{"15:01", "15:01:05", "2019年10月1日 15:01", "2019-10-01 15:01", "10月1日 15:01", "14:00~15:00", "2019-10-01 14:00 ~ 2019-10-01 15:00", "23:59:59"},
			[]string{"24:00", "15:60", "5:01", "15:01～16:00", "2019-10-01", "2019-10-01  15:01", "2019年10月 15:01", "2019-02-30 10:00", "~15:00", "15:00~16:00~17:00", "3pm"}},
		{"date", []string{"2019年10月1日", "2019年10月", "10月1日", "2019-10-01", "2019/10/01", "2019.10.01", "2019-10-01 15:01", "2020-02-29", "2月29日", "2019-10-01~2019-10-07"},
			[]string{"2019-13-01", "2019-02-29", "2019-10-1", "2019/10-01", "0000-01-01", "2019年13月", "2019年10月 15:01", "19-10-01", "2019-10-01～2019-10-07", "2019-10-01T15:01"}},
		{"amount", []string{"￥100", "¥100", "$3.20", "€5", "£0.5", "100.5元", "100", strings.Repeat("9", 10)},
			[]string{"￥100元", "100.123", "1.", "￥", "元", "-5", strings.Repeat("9", 11), "100 元", "USD100"}},
		{"phone_number", []string{"+86-0766-66888866", "13800138000", "(0766) 6688 8866"},
			[]string{"+86-0766-668888661", "call me", "+-()", " 138", "138 "}},
		{"car_number", []string{"粤A8Z888挂", "粤A12345", "AB12"},
			[]string{"A", "粤粤A123", "A粤12", "粤A1234567", "粤挂", "粤A-123"}},
		{"name", []string{"张三", "欧阳娜娜", "John Smith", "O'Neil", strings.Repeat("张", 10), "张 John", strings.Repeat("a", 20)},
			[]string{strings.Repeat("张", 11), "John2", strings.Repeat("a", 21), "张三😀", " 张三", "Иван", "张" + strings.Repeat("a", 10)}},
		{"phrase", []string{"进行中", "已完成", "五个汉字啊"},
			[]string{"六个汉字啊啊", "done", "进行 中"}},
		{"enum_string", []string{"高", "低"}, []string{"极高", "", "高 "}},
		{"short_thing", []string{"anything at all, of any length: " + strings.Repeat("会", 40)}, []string{"", "   ", "bad\u2028line"}},
	} {
		for _, v := range tc.accept {
			if !valueAccepted(tc.typ, v, enum) {
				t.Errorf("%s %q: refused, want accepted", tc.typ, v)
			}
		}
		for _, v := range tc.reject {
			if valueAccepted(tc.typ, v, enum) {
				t.Errorf("%s %q: accepted, want refused", tc.typ, v)
			}
		}
	}
	// Shared rules, for every type.
	for _, typ := range []string{"thing", "number", "time", "name", "short_thing"} {
		for _, v := range []string{"", " ", "\u3000", "a\x00", "\xff", "a\u0085b", "1\r2"} {
			if valueAccepted(typ, v, enum) {
				t.Errorf("%s %q: accepted, want refused by the shared rules", typ, v)
			}
		}
	}
	if enumOK := valueAccepted("enum_string", "高", nil); enumOK {
		t.Error("enum_string without listed values accepted a value")
	}
}

func TestKeywordTypeOf(t *testing.T) {
	for key, want := range map[string]string{"thing1": "thing", "character_string12": "character_string", "short_thing3": "short_thing", "thing": "", "1": "", "Thing1": ""} {
		if got := keywordTypeOf(key); got != want {
			t.Errorf("keywordTypeOf(%q) = %q, want %q", key, got, want)
		}
	}
}
