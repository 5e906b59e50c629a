package wechat

// Keyword value rules for subscribe messages (docs/wechat.md §3).
//
// WeChat answers errcode 47003 ("argument invalid") when a keyword value breaks
// the rule of its type, and the message is lost. The API validates with this
// file. The fake WeChat (wechattest) has its own table of the same rules,
// written apart so that it cannot share a mistake with this file; a test
// feeds one corpus to both and fails on any disagreement.
//
// Where WeChat's documentation is silent the rules here are deliberately
// stricter than WeChat is known to be: a value we reject is reported to the
// caller at creation time, a value WeChat rejects is a reminder that silently
// never arrives. The conservative decisions are:
//
//   - A value made only of white space counts as empty, for every type.
//   - thing, name and phone_number may contain spaces, but not at the start or
//     the end (FitValue trims them).
//   - thing, name and symbol reject emoji (see isEmoji for the exact set):
//     reports of 47003 for emoji in thing fields are common and WeChat does not
//     document emoji as allowed.
//   - thing allows letters of any script, combining marks, digits, punctuation,
//     symbols and spaces; it rejects format characters (zero-width space,
//     bidi overrides), private-use and unassigned code points.
//   - number is unsigned: ASCII digits with at most one inner decimal point.
//   - name allows only Chinese (Han) characters, ASCII letters, punctuation,
//     symbols and spaces; digits and other scripts are rejected.
//   - time and date accept only the layouts listed in the docs, with a
//     4-digit year, 2-digit month/day in the numeric layouts (1 or 2 digits
//     in the 年月日 layouts), a 2-digit hour, minute and second, and exactly
//     one ASCII space between the date and the clock. "2019年10月" takes no
//     clock. A range is two values joined by one ASCII "~", with any number of
//     ASCII spaces around it; its order is not checked (a range may cross
//     midnight).
//   - amount does not take both a currency symbol and 元.
//   - car_number needs at least one ASCII letter or digit.
//
// The validators are hand-written scanners: they run for every keyword of every
// send and must not allocate on the valid path.

import (
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits in Unicode code points, from docs/wechat.md §3.
const (
	maxThing           = 20
	maxNumber          = 32
	maxLetter          = 32
	maxSymbol          = 5
	maxCharacterString = 32
	maxPhoneNumber     = 17
	minCarNumber       = 2
	maxCarNumber       = 8
	maxNameChinese     = 10
	maxNameLatin       = 20
	maxPhrase          = 5
	maxAmountDigits    = 10

	// FitValue shortens an over-long thing to fitThingKeep code points
	// followed by fitEllipsis, which together make maxThing.
	fitThingKeep = 17
	fitEllipsis  = "..."
)

// Reasons shared by several types. They never contain the value.
const (
	reasonEmpty      = "must not be empty"
	reasonUTF8       = "must be valid UTF-8"
	reasonControl    = "must not contain control characters or newlines"
	reasonEmoji      = "must not contain emoji"
	reasonEdgeSpace  = "must not start or end with a space"
	reasonFullWidth  = "full-width ～ is not allowed in a range; use ~"
	reasonTimeFormat = "must be a 24-hour time such as 15:01 or 2019-10-01 15:01"
	reasonDateFormat = "must be a date such as 2019年10月1日, 10月1日 or 2019-10-01, optionally followed by a 24-hour time"
	reasonClock      = "must be a 24-hour time with hour 00-23 and minute and second 00-59"
	reasonCalendar   = "must be a real calendar date"
)

// ValueError says why a value breaks its keyword's rule. Reason is plain
// English and never contains the value itself, which may be personal data; the
// caller adds the field name.
type ValueError struct {
	Type   string // keyword type prefix, e.g. "thing"
	Reason string
}

// Error returns the reason.
func (e *ValueError) Error() string { return e.Reason }

func valueErr(typ, reason string) error { return &ValueError{Type: typ, Reason: reason} }

func lengthErr(typ string, limit, got int) error {
	return valueErr(typ, "must be at most "+strconv.Itoa(limit)+" characters, got "+strconv.Itoa(got))
}

// KeywordType splits a keyword key such as "thing1" or "character_string12"
// into its type prefix and number, with the semantics of the template pattern
// \{\{([a-z_]+?)(\d+)\.DATA\}\} without the braces and ".DATA". ok is false when
// key does not have the form [a-z_]+[0-9]+, and also when the number does not
// fit in an int.
func KeywordType(key string) (typ string, num int, ok bool) {
	i := len(key)
	for i > 0 && key[i-1] >= '0' && key[i-1] <= '9' {
		i--
	}
	if i == 0 || i == len(key) {
		return "", 0, false
	}
	for j := 0; j < i; j++ {
		if c := key[j]; (c < 'a' || c > 'z') && c != '_' {
			return "", 0, false
		}
	}
	n, err := strconv.Atoi(key[i:])
	if err != nil {
		return "", 0, false
	}
	return key[:i], n, true
}

// KnownType reports whether typ is a prefix with a documented rule.
// short_thing and anything else are unknown: callers pass them through
// (ValidateValue checks only the universal rules) and log.
func KnownType(typ string) bool {
	switch typ {
	case "thing", "number", "letter", "symbol", "character_string", "time", "date",
		"amount", "phone_number", "car_number", "name", "phrase", "enum_string":
		return true
	}
	return false
}

// ValidateValue checks value against the rule of keyword type typ. enum lists
// the allowed values for enum_string and is ignored otherwise. It returns nil or
// a *ValueError. For unknown types it checks only the universal rules:
// not empty (nor only white space), valid UTF-8, no control characters or
// newlines.
func ValidateValue(typ, value string, enum []string) error {
	n, reason := universal(value)
	if reason != "" {
		return valueErr(typ, reason)
	}
	switch typ {
	case "thing":
		return validateThing(value, n)
	case "number":
		return validateNumber(value, n)
	case "letter":
		return validateLetter(value, n)
	case "symbol":
		return validateSymbol(value, n)
	case "character_string":
		return validateCharacterString(value, n)
	case "time":
		return validateTemporal(typ, value, false)
	case "date":
		return validateTemporal(typ, value, true)
	case "amount":
		return validateAmount(value)
	case "phone_number":
		return validatePhoneNumber(value, n)
	case "car_number":
		return validateCarNumber(value, n)
	case "name":
		return validateName(value, n)
	case "phrase":
		return validatePhrase(value, n)
	case "enum_string":
		return validateEnum(value, enum)
	}
	return nil
}

// universal applies the rules every keyword shares and returns the number of
// code points, or a non-empty reason.
func universal(s string) (n int, reason string) {
	if s == "" {
		return 0, reasonEmpty
	}
	blank := true
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return 0, reasonControl
			}
			if c != ' ' {
				blank = false
			}
			i++
			n++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return 0, reasonUTF8
		}
		if isControlOrNewline(r) {
			return 0, reasonControl
		}
		if blank && !unicode.IsSpace(r) {
			blank = false
		}
		i += size
		n++
	}
	if blank {
		return 0, reasonEmpty
	}
	return n, ""
}

// isControlOrNewline reports C0/C1 control characters (which include \n, \r,
// \t and NEL) and the Unicode line and paragraph separators.
func isControlOrNewline(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
}

// isEmoji reports code points that make a value an emoji in WeChat's eyes
// (conservative decision, see the file comment): the pictograph blocks
// U+1F000–U+1FAFF (which include flags, skin tones and the supplemental
// symbols), Miscellaneous Symbols and Dingbats U+2600–U+27BF, the joiners and
// selectors that only occur inside emoji sequences (ZWJ U+200D, variation
// selectors U+FE0E/U+FE0F, keycap U+20E3, tag characters), and the few
// code points elsewhere whose default presentation is emoji (⌚ ⏰ ⭐ ⭕ …).
// Text symbols such as © ™ ↔ stay allowed: they become emoji only with U+FE0F,
// which is rejected.
func isEmoji(r rune) bool {
	switch {
	case r < 0x200D:
		return false
	case r >= 0x1F000 && r <= 0x1FAFF,
		r >= 0x2600 && r <= 0x27BF,
		r >= 0xE0020 && r <= 0xE007F,
		r >= 0x23E9 && r <= 0x23F3,
		r >= 0x23F8 && r <= 0x23FA:
		return true
	}
	switch r {
	case 0x200D, 0xFE0E, 0xFE0F, 0x20E3,
		0x231A, 0x231B, 0x25FD, 0x25FE, 0x2934, 0x2935,
		0x2B1B, 0x2B1C, 0x2B50, 0x2B55, 0x3030, 0x303D, 0x3297, 0x3299:
		return true
	}
	return false
}

func isASCIIDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// isCJKUnified reports the CJK Unified Ideographs block, where almost all
// Chinese text lives: every code point in it is an assigned Han letter, so
// the validators can skip the Unicode table look-ups for it.
func isCJKUnified(r rune) bool { return r >= 0x4E00 && r <= 0x9FFF }

func isHan(r rune) bool {
	return isCJKUnified(r) || r >= 0x2E80 && unicode.Is(unicode.Han, r)
}

// hasEdgeSpace reports a value that starts or ends with white space.
func hasEdgeSpace(s string) bool {
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	return unicode.IsSpace(first) || unicode.IsSpace(last)
}

func validateThing(s string, n int) error {
	for _, r := range s {
		if isCJKUnified(r) {
			continue
		}
		if isEmoji(r) {
			return valueErr("thing", reasonEmoji)
		}
		if !(unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsNumber(r) ||
			unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.Is(unicode.Zs, r)) {
			return valueErr("thing", "must contain only Chinese characters, letters, digits, symbols and spaces")
		}
	}
	if hasEdgeSpace(s) {
		return valueErr("thing", reasonEdgeSpace)
	}
	if n > maxThing {
		return lengthErr("thing", maxThing, n)
	}
	return nil
}

func validateNumber(s string, n int) error {
	dots := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isASCIIDigit(c):
		case c == '.':
			dots++
		default:
			return valueErr("number", "must contain only digits and at most one decimal point")
		}
	}
	if dots > 1 {
		return valueErr("number", "must contain at most one decimal point")
	}
	if s[0] == '.' || s[len(s)-1] == '.' {
		return valueErr("number", "must not start or end with the decimal point")
	}
	if n > maxNumber {
		return lengthErr("number", maxNumber, n)
	}
	return nil
}

func validateLetter(s string, n int) error {
	for i := 0; i < len(s); i++ {
		if !isASCIILetter(s[i]) {
			return valueErr("letter", "must contain only letters A-Z and a-z")
		}
	}
	if n > maxLetter {
		return lengthErr("letter", maxLetter, n)
	}
	return nil
}

func validateSymbol(s string, n int) error {
	for _, r := range s {
		if isEmoji(r) {
			return valueErr("symbol", reasonEmoji)
		}
		if !unicode.IsPunct(r) && !unicode.IsSymbol(r) {
			return valueErr("symbol", "must contain only symbols (no letters, digits or spaces)")
		}
	}
	if n > maxSymbol {
		return lengthErr("symbol", maxSymbol, n)
	}
	return nil
}

func validateCharacterString(s string, n int) error {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return valueErr("character_string", "must contain only ASCII letters, digits and symbols (no spaces or Chinese)")
		}
	}
	if n > maxCharacterString {
		return lengthErr("character_string", maxCharacterString, n)
	}
	return nil
}

// currencyPrefix returns the byte length of the currency symbol amount
// accepts at the start of s (￥ ¥ $ € £), or 0.
func currencyPrefix(s string) int {
	if s[0] == '$' {
		return 1
	}
	for _, p := range [...]string{"￥", "¥", "€", "£"} {
		if strings.HasPrefix(s, p) {
			return len(p)
		}
	}
	return 0
}

func validateAmount(s string) error {
	const reasonFormat = "must be an amount such as ￥100, $3.20 or 100.5元: an optional currency symbol, digits, up to 2 decimals, an optional 元"
	i := currencyPrefix(s)
	symbol := i > 0
	start := i
	for i < len(s) && isASCIIDigit(s[i]) {
		i++
	}
	intDigits := i - start
	if intDigits == 0 {
		return valueErr("amount", reasonFormat)
	}
	if i < len(s) && s[i] == '.' {
		i++
		fracStart := i
		for i < len(s) && isASCIIDigit(s[i]) {
			i++
		}
		if f := i - fracStart; f == 0 || f > 2 {
			return valueErr("amount", "must have 1 or 2 digits after the decimal point")
		}
	}
	yuan := false
	if rest := s[i:]; rest == "元" {
		yuan = true
		i = len(s)
	}
	if i != len(s) {
		return valueErr("amount", reasonFormat)
	}
	if symbol && yuan {
		return valueErr("amount", "must not have both a currency symbol and 元")
	}
	if intDigits > maxAmountDigits {
		return valueErr("amount", "must have at most 10 digits before the decimal point, got "+strconv.Itoa(intDigits))
	}
	return nil
}

func validatePhoneNumber(s string, n int) error {
	digits := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isASCIIDigit(c):
			digits++
		case c == '+', c == '-', c == '(', c == ')', c == ' ':
		default:
			return valueErr("phone_number", "must contain only digits, spaces and the symbols + - ( )")
		}
	}
	if digits == 0 {
		return valueErr("phone_number", "must contain at least one digit")
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return valueErr("phone_number", reasonEdgeSpace)
	}
	if n > maxPhoneNumber {
		return lengthErr("phone_number", maxPhoneNumber, n)
	}
	return nil
}

func validateCarNumber(s string, n int) error {
	if n > maxCarNumber {
		return lengthErr("car_number", maxCarNumber, n)
	}
	if n < minCarNumber {
		return valueErr("car_number", "must be 2 to 8 characters, got "+strconv.Itoa(n))
	}
	alnum := 0
	k := 0
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf && (isASCIILetter(byte(r)) || isASCIIDigit(byte(r))):
			alnum++
		case (k == 0 || k == n-1) && isHan(r):
		default:
			return valueErr("car_number", "must be letters and digits, optionally starting and ending with one Chinese character")
		}
		k++
	}
	if alnum == 0 {
		return valueErr("car_number", "must contain at least one letter or digit")
	}
	return nil
}

func validateName(s string, n int) error {
	han := false
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf && isASCIIDigit(byte(r)):
			return valueErr("name", "must not contain digits")
		case r < utf8.RuneSelf && isASCIILetter(byte(r)):
		case isHan(r):
			han = true
		case isEmoji(r):
			return valueErr("name", reasonEmoji)
		case unicode.IsPunct(r), unicode.IsSymbol(r), unicode.Is(unicode.Zs, r):
		case unicode.IsNumber(r):
			return valueErr("name", "must not contain digits")
		default:
			return valueErr("name", "must contain only Chinese characters, letters A-Z, symbols and spaces")
		}
	}
	if hasEdgeSpace(s) {
		return valueErr("name", reasonEdgeSpace)
	}
	if han && n > maxNameChinese {
		return valueErr("name", "must be at most 10 characters, got "+strconv.Itoa(n)+" (a name with Chinese characters)")
	}
	if n > maxNameLatin {
		return lengthErr("name", maxNameLatin, n)
	}
	return nil
}

func validatePhrase(s string, n int) error {
	for _, r := range s {
		if !isHan(r) {
			return valueErr("phrase", "must contain only Chinese characters")
		}
	}
	if n > maxPhrase {
		return lengthErr("phrase", maxPhrase, n)
	}
	return nil
}

func validateEnum(s string, enum []string) error {
	if len(enum) == 0 {
		return valueErr("enum_string", "the template lists no values for this enum_string keyword")
	}
	for _, e := range enum {
		if s == e {
			return nil
		}
	}
	return valueErr("enum_string", "must be one of the "+strconv.Itoa(len(enum))+" values the template lists")
}

// Temporal values (time and date) ----------------------------------------

// temporalResult is the outcome of scanning one side of a time or date value.
type temporalResult uint8

const (
	temporalOK       temporalResult = iota
	temporalFormat                  // not one of the layouts
	temporalCalendar                // month or day out of range
	temporalClock                   // hour, minute or second out of range
)

func validateTemporal(typ, s string, isDate bool) error {
	if strings.Contains(s, "～") {
		return valueErr(typ, reasonFullWidth)
	}
	res := temporalOK
	if i := strings.IndexByte(s, '~'); i >= 0 {
		left := strings.TrimRight(s[:i], " ")
		right := strings.TrimLeft(s[i+1:], " ")
		if left == "" || right == "" || strings.IndexByte(right, '~') >= 0 {
			res = temporalFormat
		} else {
			res = worse(scanTemporal(left, isDate), scanTemporal(right, isDate))
		}
	} else {
		res = scanTemporal(s, isDate)
	}
	switch res {
	case temporalOK:
		return nil
	case temporalCalendar:
		return valueErr(typ, reasonCalendar)
	case temporalClock:
		return valueErr(typ, reasonClock)
	}
	if isDate {
		return valueErr(typ, reasonDateFormat)
	}
	return valueErr(typ, reasonTimeFormat)
}

// worse returns the result to report for a range: a format problem first,
// then the first side's problem.
func worse(a, b temporalResult) temporalResult {
	if a == temporalFormat || b == temporalFormat {
		return temporalFormat
	}
	if a != temporalOK {
		return a
	}
	return b
}

// scanTemporal checks one side of a range. For time it is a clock optionally
// preceded by a full date and one space; for date it is a date (year-month
// allowed) optionally followed by one space and a clock.
func scanTemporal(s string, isDate bool) temporalResult {
	if !isDate && len(s) <= len("15:01:05") {
		return scanClock(s)
	}
	rest, res, yearMonth := scanDate(s)
	if res != temporalOK {
		return res
	}
	if rest == "" {
		if isDate {
			return temporalOK
		}
		return temporalFormat // time needs a clock
	}
	if yearMonth || rest[0] != ' ' {
		return temporalFormat
	}
	return scanClock(rest[1:])
}

// scanClock checks HH:MM or HH:MM:SS (two digits each) making up all of s.
func scanClock(s string) temporalResult {
	if len(s) != 5 && len(s) != 8 {
		return temporalFormat
	}
	h, ok1 := twoDigits(s, 0)
	m, ok2 := twoDigits(s, 3)
	if !ok1 || !ok2 || s[2] != ':' {
		return temporalFormat
	}
	sec := 0
	if len(s) == 8 {
		var ok bool
		if sec, ok = twoDigits(s, 6); !ok || s[5] != ':' {
			return temporalFormat
		}
	}
	if h > 23 || m > 59 || sec > 59 {
		return temporalClock
	}
	return temporalOK
}

func twoDigits(s string, i int) (int, bool) {
	if !isASCIIDigit(s[i]) || !isASCIIDigit(s[i+1]) {
		return 0, false
	}
	return int(s[i]-'0')*10 + int(s[i+1]-'0'), true
}

// digitRun returns the value and length of the run of ASCII digits at the
// start of s, reading at most max digits.
func digitRun(s string, max int) (v, n int) {
	for n < len(s) && n < max && isASCIIDigit(s[n]) {
		v = v*10 + int(s[n]-'0')
		n++
	}
	return v, n
}

// scanDate reads a date at the start of s and returns what follows it.
// Layouts: YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD, YYYY年M月D日, YYYY年M月 (then
// yearMonth is true), M月D日; month and day take 1 or 2 digits in the 年月日
// layouts.
func scanDate(s string) (rest string, res temporalResult, yearMonth bool) {
	const (
		nian = "年"
		yue  = "月"
		ri   = "日"
	)
	v, n := digitRun(s, 5)
	year := 0 // 0: no year given, February has 29 days
	var month, day int
	switch {
	case n == 4 && len(s) >= 10 && (s[4] == '-' || s[4] == '/' || s[4] == '.'):
		var ok1, ok2 bool
		month, ok1 = twoDigits(s, 5)
		day, ok2 = twoDigits(s, 8)
		if !ok1 || !ok2 || s[7] != s[4] {
			return "", temporalFormat, false
		}
		year, rest = v, s[10:]
	case n == 4 && strings.HasPrefix(s[4:], nian):
		year = v
		s = s[4+len(nian):]
		if month, n = digitRun(s, 3); n == 0 || n > 2 || !strings.HasPrefix(s[n:], yue) {
			return "", temporalFormat, false
		}
		s = s[n+len(yue):]
		if day, n = digitRun(s, 3); n == 0 {
			if month < 1 || month > 12 {
				return "", temporalCalendar, false
			}
			return s, checkYear(year), true
		}
		if n > 2 || !strings.HasPrefix(s[n:], ri) {
			return "", temporalFormat, false
		}
		rest = s[n+len(ri):]
	case (n == 1 || n == 2) && strings.HasPrefix(s[n:], yue):
		month = v
		s = s[n+len(yue):]
		if day, n = digitRun(s, 3); n == 0 || n > 2 || !strings.HasPrefix(s[n:], ri) {
			return "", temporalFormat, false
		}
		rest = s[n+len(ri):]
		year = -1
	default:
		return "", temporalFormat, false
	}
	if year >= 0 {
		if r := checkYear(year); r != temporalOK {
			return "", r, false
		}
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) {
		return "", temporalCalendar, false
	}
	return rest, temporalOK, false
}

// checkYear rejects year 0000, which no calendar has.
func checkYear(year int) temporalResult {
	if year < 1 {
		return temporalCalendar
	}
	return temporalOK
}

// daysIn returns the number of days of month in year; year < 0 means the year
// is not given, so February may have 29 days.
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year < 0 || year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// FitValue makes value valid for typ where that is meaningful and returns it;
// it never invents content. For every type it replaces newlines, tabs and
// other white-space control characters with a space, drops other control
// characters and invalid UTF-8, and trims surrounding white space. For thing
// it shortens a value over 20 code points to 17 code points plus "...". For
// time and date it replaces full-width ～ with ~ and removes spaces around ~.
// The result is not guaranteed to be valid (letters in a number stay letters):
// callers validate it again.
func FitValue(typ, value string) string {
	temporal := typ == "time" || typ == "date"
	if !needsFit(typ, value, temporal) {
		return value
	}
	buf := make([]byte, 0, len(value))
	afterTilde := false // drop spaces that follow a range separator
	for i := 0; i < len(value); {
		r, size := utf8.DecodeRuneInString(value[i:])
		i += size
		switch {
		case r == utf8.RuneError && size == 1:
			continue
		case r == '\r' && i < len(value) && value[i] == '\n':
			continue // \r\n is one line break, one space
		case isControlOrNewline(r):
			if !unicode.IsSpace(r) && r != '\u2028' && r != '\u2029' {
				continue
			}
			r = ' '
		case temporal && r == '～':
			r = '~'
		}
		if unicode.IsSpace(r) && (len(buf) == 0 || afterTilde) {
			continue
		}
		afterTilde = false
		if temporal && r == '~' {
			buf = trimRightSpace(buf)
			afterTilde = true
		}
		buf = utf8.AppendRune(buf, r)
	}
	buf = trimRightSpace(buf)
	if typ == "thing" && utf8.RuneCount(buf) > maxThing {
		cut := 0
		for k := 0; k < fitThingKeep; k++ {
			_, size := utf8.DecodeRune(buf[cut:])
			cut += size
		}
		buf = append(trimRightSpace(buf[:cut]), fitEllipsis...)
	}
	return string(buf)
}

// needsFit reports whether FitValue would change value, without allocating.
func needsFit(typ, value string, temporal bool) bool {
	if value == "" {
		return false
	}
	if hasEdgeSpace(value) {
		return true
	}
	n := 0
	prevSpace := false
	for i := 0; i < len(value); {
		r, size := utf8.DecodeRuneInString(value[i:])
		if r == utf8.RuneError && size == 1 || isControlOrNewline(r) {
			return true
		}
		if temporal {
			if r == '～' || r == '~' && (prevSpace || i+1 < len(value) && startsWithSpace(value[i+1:])) {
				return true
			}
			prevSpace = unicode.IsSpace(r)
		}
		i += size
		n++
	}
	return typ == "thing" && n > maxThing
}

func startsWithSpace(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsSpace(r)
}

func trimRightSpace(b []byte) []byte {
	for len(b) > 0 {
		r, size := utf8.DecodeLastRune(b)
		if !unicode.IsSpace(r) {
			break
		}
		b = b[:len(b)-size]
	}
	return b
}

// Layouts FormatInstant uses; both are accepted by ValidateValue.
const (
	instantTimeLayout = "2006-01-02 15:04"
	instantDateLayout = "2006年1月2日"
)

// FormatInstant renders t, already in the wanted zone, for a time keyword
// ("2006-01-02 15:04") or a date keyword ("2006年1月2日"). Any other typ, and a
// year outside 1..9999, is an error.
func FormatInstant(typ string, t time.Time) (string, error) {
	var layout string
	switch typ {
	case "time":
		layout = instantTimeLayout
	case "date":
		layout = instantDateLayout
	default:
		return "", errors.New("wechat: keyword type " + strconv.Quote(typ) + " does not hold an instant")
	}
	if y := t.Year(); y < 1 || y > 9999 {
		return "", errors.New("wechat: year " + strconv.Itoa(y) + " cannot be written as a " + typ + " keyword")
	}
	return t.Format(layout), nil
}
