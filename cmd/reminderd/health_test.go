package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reminderd/reminderd/internal/db"
	"github.com/reminderd/reminderd/internal/testkit"
)

func TestSyncSettingReachesTheWriter(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{nil, "2"}, // FULL by default
		{map[string]string{"REMINDERD_SYNC": "normal"}, "1"},
		{map[string]string{"REMINDERD_SYNC": "full"}, "2"},
	} {
		tc.env = mergeEnv(tc.env, "REMINDERD_DB", filepath.Join(t.TempDir(), "s.db"))
		c, err := parseConfig("t", nil, env(tc.env), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		d, err := db.OpenWith(ctx, c.DB, c.dbOptions())
		if err != nil {
			t.Fatal(err)
		}
		p, err := d.Pragmas(ctx)
		d.Close()
		if err != nil || p["synchronous"] != tc.want {
			t.Errorf("env %v: synchronous %q (%v), want %q", tc.env, p["synchronous"], err, tc.want)
		}
	}
	_, err := parseConfig("t", []string{"--sync", "off"}, env(nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "REMINDERD_SYNC") || !strings.Contains(err.Error(), "power cut") {
		t.Fatalf("--sync off: %v", err)
	}
}

func mergeEnv(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// TestServeRefusesACorruptDatabase starts the real serve path on a file with
// garbage written over pages of its data: it must refuse, naming the file.
func TestServeRefusesACorruptDatabase(t *testing.T) {
	ctx := context.Background()
	path := testkit.CorruptFile(t)
	// Without the check it would serve (until this deadline) and answer 201.
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err := run(sctx, []string{"serve", "--addr", "127.0.0.1:0", "--db", path}, env(nil), io.Discard, io.Discard)
	if !errors.Is(err, db.ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "backup") {
		t.Fatalf("serve on a corrupt file: %v", err)
	}
}

func prod(kv ...string) map[string]string {
	return mergeEnv(map[string]string{"REMINDERD_WECHAT_APPID": "wx1", "REMINDERD_WECHAT_SECRET": "s"}, kv...)
}

func TestLeaseMustOutlastTheSendBudget(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string // "" = accepted
	}{
		{map[string]string{"REMINDERD_LEASE": "4s"}, "45s"},
		{map[string]string{"REMINDERD_LEASE": "45s"}, "45s"},
		{map[string]string{"REMINDERD_LEASE": "46s"}, ""},
		{map[string]string{"REMINDERD_LEASE": "4s", "REMINDERD_WECHAT_TIMEOUT": "500ms"}, ""},
		{map[string]string{"REMINDERD_LEASE": "2m", "REMINDERD_WECHAT_TIMEOUT": "30s"}, "2m15s"},
		{map[string]string{"REMINDERD_WECHAT_TIMEOUT": "soon"}, "REMINDERD_WECHAT_TIMEOUT"},
	} {
		c, err := parseConfig("t", nil, env(tc.env), io.Discard)
		if tc.want == "" {
			if err != nil {
				t.Errorf("env %v refused: %v", tc.env, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("env %v: err %v, want %q", tc.env, err, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), "REMINDERD_WECHAT_TIMEOUT") || (tc.env["REMINDERD_LEASE"] != "" && !strings.Contains(err.Error(), "REMINDERD_LEASE")) {
			t.Errorf("env %v: %v does not name both settings", tc.env, err)
		}
		_ = c
	}
	c, err := parseConfig("t", nil, env(nil), io.Discard)
	if err != nil || c.wechatTimeout != 10*time.Second || sendBudget(c.wechatTimeout) != 45*time.Second {
		t.Fatalf("defaults: timeout %s, budget %s, %v", c.wechatTimeout, sendBudget(c.wechatTimeout), err)
	}
}

// The leader's lease must outlast one late renewal; both settings are
// durations, and the defaults are 15 s and 5 s.
func TestLeaderTTLMustOutlastTwoHeartbeats(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string // "" = accepted
	}{
		{map[string]string{"REMINDERD_LEADER_TTL": "5s", "REMINDERD_HEARTBEAT": "3s"}, "at least twice REMINDERD_HEARTBEAT"},
		{map[string]string{"REMINDERD_LEADER_TTL": "6s", "REMINDERD_HEARTBEAT": "3s"}, ""},
		{map[string]string{"REMINDERD_LEADER_TTL": "soon"}, "REMINDERD_LEADER_TTL"},
		{map[string]string{"REMINDERD_HEARTBEAT": "1ms"}, "REMINDERD_HEARTBEAT"},
	} {
		_, err := parseConfig("t", nil, env(tc.env), io.Discard)
		if tc.want == "" {
			if err != nil {
				t.Errorf("env %v refused: %v", tc.env, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("env %v: err %v, want %q", tc.env, err, tc.want)
		}
	}
	c, err := parseConfig("t", nil, env(nil), io.Discard)
	if err != nil || c.leaderTTL != 15*time.Second || c.heartbeat != 5*time.Second {
		t.Fatalf("defaults: leader TTL %s, heartbeat %s, %v", c.leaderTTL, c.heartbeat, err)
	}
}

func TestProductionRefusesAGuessableAdminToken(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{prod("REMINDERD_ADMIN_TOKEN", "short-token"), "at least 24"},
		{prod("REMINDERD_ADMIN_TOKEN", exampleAdminToken), "placeholder"},
		{prod("REMINDERD_ADMIN_TOKEN", strings.Repeat("k", 24)), ""},
		{prod(), ""}, // no token: the admin API is disabled
		{map[string]string{"REMINDERD_ADMIN_TOKEN": "short"}, ""}, // sandbox
	} {
		_, err := parseConfig("t", nil, env(tc.env), io.Discard)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("refused: %v", err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "REMINDERD_ADMIN_TOKEN")):
			t.Errorf("token %q: %v, want %q", tc.env["REMINDERD_ADMIN_TOKEN"], err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "short-token") {
			t.Errorf("the error echoes the token: %v", err)
		}
	}
	// The example file itself is refused as it is.
	b, err := os.ReadFile("../../deploy/reminderd.env")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "REMINDERD_ADMIN_TOKEN="+exampleAdminToken+"\n") {
		t.Fatal("deploy/reminderd.env's placeholder changed: update exampleAdminToken")
	}
}

func TestProductionRefusesPlaintextPushUnlessAllowed(t *testing.T) {
	_, err := parseConfig("t", nil, env(prod("REMINDERD_WECHAT_PUSH_TOKEN", "p")), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "REMINDERD_WECHAT_ALLOW_PLAINTEXT") {
		t.Fatalf("plaintext push mode: %v", err)
	}
	c, err := parseConfig("t", []string{"--wechat-allow-plaintext=true"}, env(prod("REMINDERD_WECHAT_PUSH_TOKEN", "p")), io.Discard)
	if err != nil || !c.allowPlaintext {
		t.Fatalf("allowed plaintext: %v", err)
	}
	if _, err := parseConfig("t", nil, env(prod("REMINDERD_WECHAT_PUSH_TOKEN", "p", "REMINDERD_WECHAT_AES_KEY", strings.Repeat("a", 43))), io.Discard); err != nil {
		t.Fatalf("safe mode: %v", err)
	}
	if _, err := parseConfig("t", nil, env(map[string]string{"REMINDERD_WECHAT_ALLOW_PLAINTEXT": "maybe"}), io.Discard); err == nil {
		t.Fatal("REMINDERD_WECHAT_ALLOW_PLAINTEXT=maybe accepted")
	}
}

func TestTrustedProxiesSetting(t *testing.T) {
	c, err := parseConfig("t", []string{"--trusted-proxies", "10.0.0.1,fd00::/8"}, env(nil), io.Discard)
	if err != nil || len(c.trustedProxies) != 2 {
		t.Fatalf("%v %v", c.trustedProxies, err)
	}
	if _, err := parseConfig("t", nil, env(map[string]string{"REMINDERD_TRUSTED_PROXIES": "proxy.local"}), io.Discard); err == nil || !strings.Contains(err.Error(), "REMINDERD_TRUSTED_PROXIES") {
		t.Fatalf("a host name: %v", err)
	}
}

func TestConnectionsAreCapped(t *testing.T) {
	c, err := parseConfig("t", []string{"--max-conns", "2"}, env(nil), io.Discard)
	if err != nil || c.maxConns != 2 {
		t.Fatalf("%d %v", c.maxConns, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }), slog.New(slog.DiscardHandler))
	if srv.MaxHeaderBytes == 0 || srv.IdleTimeout == 0 || srv.ReadHeaderTimeout == 0 {
		t.Fatalf("server bounds %+v", srv)
	}
	go srv.Serve(limitListener(ln, c.maxConns))
	defer srv.Close()
	dial := func() net.Conn {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		return conn
	}
	get := func(conn net.Conn, wait time.Duration) (string, error) {
		conn.SetDeadline(time.Now().Add(wait))
		if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return "", err
		}
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return "", err
		}
		b, _ := io.ReadAll(io.LimitReader(res.Body, 2))
		return string(b), nil
	}
	// Two connections are served (and stay open, idle).
	first, second := dial(), dial()
	defer second.Close()
	for _, conn := range []net.Conn{first, second} {
		if b, err := get(conn, 5*time.Second); err != nil || b != "ok" {
			t.Fatalf("served connection: %q %v", b, err)
		}
	}
	// The third waits: no answer while both are open…
	third := dial()
	defer third.Close()
	if _, err := get(third, 300*time.Millisecond); err == nil {
		t.Fatal("a third connection was served beside two open ones")
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("third connection: %v", err)
	}
	// …and is served once one closes.
	first.Close()
	third.SetDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(third), nil)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("third connection after one closed: %v", err)
	}
}
