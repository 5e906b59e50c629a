package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestConfigLimits(t *testing.T) {
	c, err := parseConfig("t", nil, env(nil), io.Discard)
	if err != nil || c.minInterval != time.Hour || c.maxScheduledPerUser != 500 {
		t.Fatalf("defaults: %v %v %v", c.minInterval, c.maxScheduledPerUser, err)
	}
	c, err = parseConfig("t", []string{"--min-interval", "1m", "--max-scheduled-per-user", "20"},
		env(map[string]string{"REMINDERD_MIN_INTERVAL": "2h"}), io.Discard)
	if err != nil || c.minInterval != time.Minute || c.maxScheduledPerUser != 20 {
		t.Fatalf("flags: %v %v %v", c.minInterval, c.maxScheduledPerUser, err)
	}
	for _, tc := range []struct{ env, v, want string }{
		{"REMINDERD_MIN_INTERVAL", "59s", "REMINDERD_MIN_INTERVAL \"59s\" must be a duration of at least 1m0s"},
		{"REMINDERD_MIN_INTERVAL", "1 hour", "REMINDERD_MIN_INTERVAL"},
		{"REMINDERD_MAX_SCHEDULED_PER_USER", "0", "REMINDERD_MAX_SCHEDULED_PER_USER"},
		{"REMINDERD_MAX_SCHEDULED_PER_USER", "many", "REMINDERD_MAX_SCHEDULED_PER_USER"},
	} {
		if _, err := parseConfig("t", nil, env(map[string]string{tc.env: tc.v}), io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%s: %v, want %q", tc.env, tc.v, err, tc.want)
		}
	}
}
