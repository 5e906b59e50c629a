package db

import "testing"

func TestJSONSafe(t *testing.T) {
	for s, want := range map[string]bool{"": true, "rem_0abc": true, "A栋201会议室": true, "a\xffb": false, "a\x00b": false} {
		if got := jsonSafe("ok", s); got != want {
			t.Errorf("jsonSafe(%q) = %v, want %v", s, got, want)
		}
	}
	if got := jsonArg([]any{"A栋", int64(1<<53 + 1), nil}); got != `["A栋",9007199254740993,null]` {
		t.Errorf("jsonArg: %s", got)
	}
}
