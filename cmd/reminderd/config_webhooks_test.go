package main

import (
	"io"
	"strings"
	"testing"
)

// The service API's and the webhooks' settings are checked together: a
// URL needs its secret and must be http(s); a service token is not the
// admin token and, in production, not short.
func TestConfigServiceAndWebhooks(t *testing.T) {
	prod := map[string]string{"REMINDERD_WECHAT_APPID": "wx1", "REMINDERD_WECHAT_SECRET": "s",
		"REMINDERD_ADMIN_TOKEN": "admin-token-0123456789abcdef"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range prod {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{with("REMINDERD_WEBHOOK_URL", "https://backend.example/hook"), "REMINDERD_WEBHOOK_SECRET is missing"},
		{with("REMINDERD_WEBHOOK_SECRET", "SECRETVALUE"), "REMINDERD_WEBHOOK_URL is missing"},
		{with("REMINDERD_WEBHOOK_URL", "ftp://backend.example/hook", "REMINDERD_WEBHOOK_SECRET", "SECRETVALUE"), "http(s) URL"},
		{with("REMINDERD_SERVICE_TOKEN", "short"), "REMINDERD_SERVICE_TOKEN has 5 characters"},
		{with("REMINDERD_SERVICE_TOKEN", "admin-token-0123456789abcdef"), "must differ from REMINDERD_ADMIN_TOKEN"},
	} {
		_, err := parseConfig("t", nil, env(tc.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("env %v: err %v, want %q", tc.env, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "SECRETVALUE") {
			t.Errorf("error echoes a secret: %v", err)
		}
	}
	c, err := parseConfig("t", []string{"--service-token", "service-token-0123456789abcdef", "--webhook-url", "https://b.example/h"},
		env(with("REMINDERD_WEBHOOK_SECRET", "SECRETVALUE")), io.Discard)
	if err != nil || c.ServiceToken != "service-token-0123456789abcdef" || c.WebhookURL != "https://b.example/h" || c.WebhookSecret != "SECRETVALUE" {
		t.Fatalf("good settings: %+v, %v", c, err)
	}
}
