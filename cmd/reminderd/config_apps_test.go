package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testAdmin = "an-admin-token-long-enough-for-production"

func writeApps(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "apps.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigAppsFile(t *testing.T) {
	path := writeApps(t, `{"apps":[{"appid":"wxaaaa","secret_env":"A_SECRET"},{"appid":"wxbbbb","secret_env":"B_SECRET","lang":"en_US"}]}`)
	c, err := parseConfig("t", []string{"--apps", path}, env(map[string]string{"A_SECRET": "sa", "B_SECRET": "sb", "REMINDERD_ADMIN_TOKEN": testAdmin}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Sandbox() || len(c.apps) != 2 || c.apps[0].Secret != "sa" || c.apps[1].Lang != "en_US" || c.apps[0].Lang != "zh_CN" {
		t.Fatalf("apps %+v, sandbox %v", []any{c.apps}, c.Sandbox())
	}
	// A missing variable refuses to start, naming the app, the field and the variable.
	_, err = parseConfig("t", nil, env(map[string]string{"REMINDERD_APPS": path, "A_SECRET": "sa", "REMINDERD_ADMIN_TOKEN": testAdmin}), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "apps[1] (wxbbbb): secret_env") || !strings.Contains(err.Error(), "B_SECRET") {
		t.Fatalf("missing variable: %v", err)
	}
	// The single-app variables do not mix with a file.
	_, err = parseConfig("t", []string{"--apps", path}, env(map[string]string{"A_SECRET": "sa", "B_SECRET": "sb", "REMINDERD_ADMIN_TOKEN": testAdmin, "REMINDERD_WECHAT_APPID": "wxcccc"}), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "REMINDERD_WECHAT_APPID is set together with REMINDERD_APPS") {
		t.Fatalf("mixed: %v", err)
	}
	if _, err = parseConfig("t", []string{"--apps", filepath.Join(t.TempDir(), "none.json")}, env(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "REMINDERD_APPS") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestConfigSingleAppVariablesDefineOneApp(t *testing.T) {
	c, err := parseConfig("t", nil, env(map[string]string{"REMINDERD_WECHAT_APPID": "wxaaaa", "REMINDERD_WECHAT_SECRET": "sa", "REMINDERD_LANG": "en_US"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.apps) != 1 || c.apps[0].AppID != "wxaaaa" || c.apps[0].Secret != "sa" || c.apps[0].Lang != "en_US" {
		t.Fatalf("apps %v", c.apps)
	}
	if c, err := parseConfig("t", nil, env(nil), io.Discard); err != nil || !c.Sandbox() || len(c.apps) != 0 {
		t.Fatalf("sandbox: %v %v", c.apps, err)
	}
}

// Each app's service token names its app: the admin token, another app's
// token or a short one refuses to start; the single-app variables give the
// one app its service token and webhook.
func TestConfigAppsServiceTokens(t *testing.T) {
	path := writeApps(t, `{"apps":[{"appid":"wxaaaa","secret_env":"A_SECRET","service_token_env":"A_SVC"},{"appid":"wxbbbb","secret_env":"B_SECRET","service_token_env":"B_SVC"}]}`)
	vars := func(a, b string) func(string) string {
		return env(map[string]string{"A_SECRET": "sa", "B_SECRET": "sb", "A_SVC": a, "B_SVC": b, "REMINDERD_ADMIN_TOKEN": testAdmin})
	}
	long := strings.Repeat("t", 32)
	c, err := parseConfig("t", []string{"--apps", path}, vars(long+"a", long+"b"), io.Discard)
	if err != nil || c.apps[0].ServiceToken != long+"a" || c.apps[1].ServiceToken != long+"b" {
		t.Fatalf("apps %v, %v", c.apps, err)
	}
	for _, tc := range []struct{ a, b, want string }{
		{long, long, "app wxbbbb: service_token_env: the same service token as app wxaaaa"},
		{testAdmin, long, "app wxaaaa: service_token_env: the service token must differ from the admin token"},
		{"short", long, "app wxaaaa: service_token_env: the service token has 5 characters"},
	} {
		if _, err := parseConfig("t", []string{"--apps", path}, vars(tc.a, tc.b), io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q/%q: %v, want %q", tc.a, tc.b, err, tc.want)
		}
	}
	c, err = parseConfig("t", nil, env(map[string]string{"REMINDERD_WECHAT_APPID": "wxaaaa", "REMINDERD_WECHAT_SECRET": "sa",
		"REMINDERD_ADMIN_TOKEN": testAdmin, "REMINDERD_SERVICE_TOKEN": long, "REMINDERD_WEBHOOK_URL": "https://b.example/h",
		"REMINDERD_WEBHOOK_SECRET": "hs"}), io.Discard)
	if err != nil || c.apps[0].ServiceToken != long || c.apps[0].WebhookURL != "https://b.example/h" || c.apps[0].WebhookSecret != "hs" {
		t.Fatalf("single app %v, %v", c.apps, err)
	}
}
