package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestConfigWechatTimeout(t *testing.T) {
	c, err := parseConfig("t", nil, env(nil), io.Discard)
	if err != nil || c.wechatTimeout != 10*time.Second {
		t.Fatalf("default wechat timeout %v (%v), want 10s", c.wechatTimeout, err)
	}
	c, err = parseConfig("t", []string{"--wechat-timeout", "3s"}, env(map[string]string{"REMINDERD_WECHAT_TIMEOUT": "7s"}), io.Discard)
	if err != nil || c.wechatTimeout != 3*time.Second {
		t.Fatalf("flag over env: %v (%v), want 3s", c.wechatTimeout, err)
	}
	if c, err = parseConfig("t", nil, env(map[string]string{"REMINDERD_WECHAT_TIMEOUT": "7s"}), io.Discard); err != nil || c.wechatTimeout != 7*time.Second {
		t.Fatalf("env: %v (%v), want 7s", c.wechatTimeout, err)
	}
	for _, v := range []string{"0s", "-1s", "ten", "10"} {
		_, err := parseConfig("t", nil, env(map[string]string{"REMINDERD_WECHAT_TIMEOUT": v}), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "REMINDERD_WECHAT_TIMEOUT") {
			t.Errorf("REMINDERD_WECHAT_TIMEOUT=%q: err %v, want a refusal naming it", v, err)
		}
	}
}
