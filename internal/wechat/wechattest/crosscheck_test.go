package wechattest

import (
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"testing"

	"github.com/reminderd/reminderd/internal/wechat"
)

// crossTypes are every documented prefix, short_thing and an unknown one.
var crossTypes = []string{"thing", "number", "letter", "symbol", "character_string", "time", "date", "amount",
	"phone_number", "car_number", "name", "phrase", "enum_string", "short_thing", "mystery"}

// TestFakeRulesAgreeWithClientValidator feeds one corpus to the client's
// validator (wechat.ValidateValue) and to the fake's own table: every value
// one accepts and the other refuses is a wrong rule on one side, reported
// as a failure.
func TestFakeRulesAgreeWithClientValidator(t *testing.T) {
	enum := []string{"高", "中", "低"}
	corpus := crossCorpus()
	disagreements := 0
	for _, typ := range crossTypes {
		accepted := 0
		for _, v := range corpus[typ] {
			client := wechat.ValidateValue(typ, v, enum) == nil
			fake := valueAccepted(typ, v, enum)
			if fake {
				accepted++
			}
			if client != fake {
				disagreements++
				if disagreements <= 40 {
					t.Errorf("%s %q (%+q): client validator accepts=%v, fake accepts=%v", typ, v, v, client, fake)
				}
			}
		}
		// A corpus that one side refuses or accepts entirely tests nothing.
		if accepted < 3 || accepted == len(corpus[typ]) {
			t.Errorf("%s: the corpus has %d values accepted of %d: it does not reach both sides of the rule", typ, accepted, len(corpus[typ]))
		}
		t.Logf("%s: %d values, %d accepted", typ, len(corpus[typ]), accepted)
	}
	if disagreements > 0 {
		t.Fatalf("%d disagreements between the client's validator and the fake's rules", disagreements)
	}
}

// crossCorpus builds, for each type, hand-picked values of every type (each
// value is tried against every type), structured dates and times, and
// random strings from alphabets near each rule's edges.
func crossCorpus() map[string][]string {
	var shared []string
	add := func(vs ...string) { shared = append(shared, vs...) }
	add("", " ", "\u3000", "a\x00", "\xff", "a\u0085b", "1\r2", "a\u2028b", "\t", "x\x7f",
		"项目评审会", "A栋201会议室", "Review #3 (v2)", strings.Repeat("会", 20), strings.Repeat("会", 21), " 会议", "会议 ",
		"会议🎉", "zero\u200bwidth", "e\u0301", "bidi\u202e", "private\ue000", "unassigned\U000e0000", "©™↔", "1\uFE0F\u20E3",
		"0", "42", "3.14", "-1", "1.2.3", ".5", "5.", "1e3", "１２", strings.Repeat("9", 32), strings.Repeat("9", 33),
		"abc", "ABCxyz", strings.Repeat("a", 32), strings.Repeat("a", 33), "abc1", "é",
		"!", "+-*/", "￥%", "※→", "!!!!!!", "! !", "⭐", "⌚", "☀", "〰", "㊗",
		"ABC-123_x", "a@b.c", "有中文", "a b",
		"￥100", "¥100", "$3.20", "€5", "£0.5", "100.5元", "100", "￥100元", "100.123", "1.", "￥", "元", "USD100", "100 元",
		"+86-0766-66888866", "13800138000", "(0766) 6688 8866", "+86-0766-668888661", "+-()", " 138", "138 ",
		"粤A8Z888挂", "粤A12345", "AB12", "A", "粤粤A123", "A粤12", "粤A1234567", "粤挂", "粤A-123", "𠀀A1", "A1𠀀",
		"张三", "欧阳娜娜", "John Smith", "O'Neil", strings.Repeat("张", 10), strings.Repeat("张", 11), "张 John", "John2",
		strings.Repeat("a", 20), strings.Repeat("a", 21), "张三😀", "Иван", "张"+strings.Repeat("a", 10), "张三²", "Ⅻ",
		"进行中", "六个汉字啊啊", "done", "进行 中", "五个汉字啊",
		"高", "低", "极高", "高 ")
	add(temporalCorpus()...)

	out := map[string][]string{}
	rnd := mrand.New(mrand.NewPCG(15, 47003))
	general := []rune("09aZ .-/:~～年月日元￥$€+()张会粤挂éИ🎉\u200b\u3000\n!©⭐\u0301２_@'")
	alphabets := map[string][]rune{
		"thing":            []rune("会a1 !🎉é\u0301\u200b©"),
		"number":           []rune("0123456789.."),
		"letter":           []rune("aZ1 "),
		"symbol":           []rune("!+※→⭐a "),
		"character_string": []rune("aZ09-_@ 中"),
		"time":             []rune("0123459: ~-年月日"),
		"date":             []rune("0123459-/.年月日 :~"),
		"amount":           []rune("0159.元￥$€£"),
		"phone_number":     []rune("0189+-() a"),
		"car_number":       []rune("粤挂A8Z-"),
		"name":             []rune("张三aB '.1😀 И"),
		"phrase":           []rune("进行中a "),
		"enum_string":      []rune("高中低 "),
	}
	for _, typ := range crossTypes {
		vs := append([]string(nil), shared...)
		for _, alpha := range [][]rune{general, alphabets[typ]} {
			if len(alpha) == 0 {
				continue
			}
			for range 3000 {
				n := rnd.IntN(24)
				b := make([]rune, n)
				for i := range b {
					b[i] = alpha[rnd.IntN(len(alpha))]
				}
				vs = append(vs, string(b))
			}
		}
		out[typ] = vs
	}
	return out
}

// temporalCorpus combines years, months, days, layouts, clocks and range
// separators into time and date values, valid and not.
func temporalCorpus() []string {
	years := []string{"0000", "0001", "1900", "2000", "2019", "2020", "2100", "12345", "19"}
	months := []string{"0", "1", "2", "01", "02", "04", "10", "12", "13", "00"}
	days := []string{"0", "1", "01", "28", "29", "30", "31", "32", "9"}
	clocks := []string{"00:00", "23:59", "24:00", "9:00", "09:00", "15:01:05", "15:01:60", "15:60", "15:01:5", "15:1", "1501"}
	var dates []string
	for _, y := range years {
		for _, m := range months {
			dates = append(dates, y+"年"+m+"月")
			for _, d := range days {
				dates = append(dates, y+"-"+m+"-"+d, y+"/"+m+"/"+d, y+"."+m+"."+d, y+"年"+m+"月"+d+"日", y+"-"+m+"/"+d)
			}
		}
	}
	for _, m := range months {
		for _, d := range days {
			dates = append(dates, m+"月"+d+"日")
		}
	}
	var out []string
	out = append(out, dates...)
	out = append(out, clocks...)
	for i, d := range dates {
		c := clocks[i%len(clocks)]
		out = append(out, d+" "+c, d+"  "+c, d+"T"+c)
	}
	for i := 0; i+1 < len(out) && i < 4000; i += 7 {
		a, b := out[i], out[(i*31+5)%len(out)]
		out = append(out, a+"~"+b, a+" ~ "+b, a+"～"+b, a+"~", "~"+b, a+"~"+b+"~"+a, fmt.Sprintf(" %s~%s ", a, b))
	}
	return out
}
