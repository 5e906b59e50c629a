package db

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// jsonArg encodes a batch argument of a query (the statements that take a
// whole batch read it with json_each) as JSON. Its strings must pass
// jsonSafe, which makes the encoding infallible.
func jsonArg(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("db: jsonArg: " + err.Error()) // only a non-encodable type gets here: a bug
	}
	return string(b)
}

// jsonSafe reports whether the strings reach SQLite unchanged through
// jsonArg and json_each: JSON turns invalid UTF-8 into U+FFFD, and SQLite's
// string functions stop at a NUL inside a text. Only a hand-edited row has
// such keys; they take the one-row statements.
func jsonSafe(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return false
		}
	}
	return true
}
