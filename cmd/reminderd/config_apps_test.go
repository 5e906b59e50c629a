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
